"""An arq worker that outlives Redis: it waits out an outage of any length instead of exiting.

arq's own `Worker` lets a Redis connection error escape its poll loop (and gives up at startup after
`conn_retries` attempts), so one Redis restart used to end the worker. `ResilientWorker` changes only that:

- at startup it keeps connecting, with capped backoff, for as long as it takes;
- a connection fault in the poll loop (picking jobs, the health key, the cron enqueues) pauses job pickup: it is
  logged once as a warning, Redis is pinged with capped backoff until it answers, then the loop carries on;
- jobs already running keep running (their database work does not need Redis); if a job's outcome cannot be
  written to Redis the job is left to arq, which runs it again once its in-progress key expires (our jobs are
  idempotent) — the worker itself does not fail;
- SIGTERM/SIGINT still stop it (arq's handlers cancel the main task, which is where the waiting happens), and the
  shutdown does not need Redis either.

`kpi_worker_redis_connected{queue}` (shared.telemetry) is 1 while Redis answers and 0 while the worker waits for it.
"""

import asyncio
import contextlib
import dataclasses
import logging
import signal
import time
from typing import Any, cast

from arq.connections import ArqRedis, RedisSettings, create_pool
from arq.worker import Worker
from redis.exceptions import AuthenticationError

from shared.db.faults import CONNECTION_FAULTS
from shared.telemetry import WORKER_REDIS_CONNECTED

log = logging.getLogger("kpi_engine")

# What "Redis is unreachable" looks like: the connection faults of the one classification (shared.db.faults) —
# refused/reset/closed connections, timeouts, and the WatchError redis-py raises instead of a ConnectionError when
# the link drops while a WATCH is open (arq watches a job's in-progress key while claiming it).
REDIS_DOWN = CONNECTION_FAULTS

BACKOFF_FIRST_S = 0.5
BACKOFF_MAX_S = 5.0
PING_TIMEOUT_S = 5.0  # a stalled link must not hold a ping (or the shutdown) forever
# arq sets no read timeout, so a link that stalls (no reset, no byte: a black-holed network) would hold the poll loop
# until TCP gives up, many minutes later. The worker sends no blocking command, so a reply slower than this means
# the link is gone: it becomes a TimeoutError, i.e. an outage like any other.
SOCKET_TIMEOUT_S = 15.0
STARTUP_LOG_EVERY_S = 10.0  # at most one "unreachable at startup" line this often
REMIND_EVERY_S = 30.0  # while waiting in the poll loop, say so again this often


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


class ResilientWorker(Worker):
    """arq's Worker, minus "exit when Redis goes away" (see the module docstring)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._startup_done = False
        startup = self.on_startup
        if startup is not None:
            # main() is re-entered if Redis drops during arq's own startup chatter; run our startup hook only once.
            async def startup_once(ctx: dict[Any, Any]) -> None:
                if not self._startup_done:
                    await startup(ctx)
                    self._startup_done = True

            self.on_startup = startup_once

    def _set_connected(self, connected: bool) -> None:
        WORKER_REDIS_CONNECTED.labels(queue=self.queue_name).set(1 if connected else 0)

    # --- startup -------------------------------------------------------------------------------------------------

    async def main(self) -> None:
        while True:
            if self._pool is None:
                self._pool = await self._connect()
            self._set_connected(True)
            try:
                await super().main()
                return
            except REDIS_DOWN as exc:
                # The poll loop rides out outages by itself; what lands here is arq's startup (its redis info
                # log) or burst mode's queue check.
                await self._wait_for_redis(exc)

    async def _connect(self) -> ArqRedis:
        """`create_pool` without arq's retry limit: keep trying, with capped backoff, until Redis answers."""
        # No pool was given to the worker (main() only connects then), so arq kept the settings.
        settings = dataclasses.replace(cast(RedisSettings, self.redis_settings), conn_retries=0)
        where = f"{settings.host}:{settings.port}"
        started = time.monotonic()
        delay = BACKOFF_FIRST_S
        last_log: float | None = None
        self._set_connected(False)
        while True:
            try:
                pool = await asyncio.wait_for(
                    create_pool(
                        settings,
                        job_deserializer=self.job_deserializer,
                        job_serializer=self.job_serializer,
                        default_queue_name=self.queue_name,
                        expires_extra_ms=self.expires_extra_ms,
                    ),
                    PING_TIMEOUT_S,
                )
            except AuthenticationError:
                raise  # a wrong password does not heal by waiting: fail loudly
            except REDIS_DOWN as exc:
                now = time.monotonic()
                if last_log is None or now - last_log >= STARTUP_LOG_EVERY_S:
                    last_log = now
                    log.warning(
                        "redis unreachable at startup (%s, %s), retrying; waiting %.0f s so far",
                        where,
                        _describe(exc),
                        now - started,
                        extra={"queue": self.queue_name},
                    )
                await asyncio.sleep(delay)
                delay = min(delay * 2, BACKOFF_MAX_S)
            else:
                if last_log is not None:
                    log.info(
                        "redis reachable after %.1f s, starting", time.monotonic() - started, extra={"redis": where}
                    )
                # Every later connection gets the read timeout; drop the one create_pool pinged on, made without it.
                pool.connection_pool.connection_kwargs["socket_timeout"] = SOCKET_TIMEOUT_S
                await pool.connection_pool.disconnect()
                pool.connection_pool.reset()
                return pool

    # --- the poll loop -------------------------------------------------------------------------------------------

    async def _poll_iteration(self) -> None:
        try:
            await super()._poll_iteration()
        except REDIS_DOWN as exc:
            await self._wait_for_redis(exc)

    async def start_jobs(self, job_ids: list[bytes]) -> None:
        try:
            await super().start_jobs(job_ids)
        except REDIS_DOWN:
            # arq counts a job against max_jobs (and takes a semaphore slot) before claiming it in Redis; a claim
            # cut short by the outage would keep that slot forever. Give it back; the job is still queued (or its
            # in-progress key expires) and is picked up again later.
            self._release_sem_dec_counter_on_complete()
            raise

    async def _wait_for_redis(self, exc: BaseException) -> None:
        """Pause job pickup until Redis answers a ping again (capped backoff); running jobs carry on."""
        self._set_connected(False)
        started = last_log = time.monotonic()
        log.warning(
            "redis unreachable, pausing job pickup (%s); %d job(s) still running",
            _describe(exc),
            sum(not t.done() for t in self.tasks.values()),
            extra={"queue": self.queue_name},
        )
        delay = BACKOFF_FIRST_S
        while True:
            await asyncio.sleep(delay)
            try:
                await asyncio.wait_for(self.pool.ping(), PING_TIMEOUT_S)
            except REDIS_DOWN:
                delay = min(delay * 2, BACKOFF_MAX_S)
                now = time.monotonic()
                if now - last_log >= REMIND_EVERY_S:
                    last_log = now
                    log.warning("redis still unreachable after %.0f s", now - started, extra={"queue": self.queue_name})
                continue
            break
        self._set_connected(True)
        self._last_health_check = 0  # rewrite the health-check key on the next iteration, not up to 10 s later
        log.info("redis reachable again after %.1f s", time.monotonic() - started, extra={"queue": self.queue_name})

    # --- jobs ----------------------------------------------------------------------------------------------------

    async def run_job(self, job_id: str, score: int) -> None:
        try:
            await super().run_job(job_id, score)
        except REDIS_DOWN as exc:
            # Reading the job or writing its outcome failed. Its in-progress key (if it was written) expires after
            # in_progress_timeout_s and arq runs it again then; raising here would only end the poll loop.
            log.warning(
                "job %s: redis unreachable, its outcome was not recorded (%s); it runs again within %.0f s",
                job_id,
                _describe(exc),
                self.in_progress_timeout_s,
                extra={"queue": self.queue_name},
            )

    # --- shutdown ------------------------------------------------------------------------------------------------

    async def close(self) -> None:
        """arq's close, except that removing the health-check key may fail (it expires by itself) and neither that
        nor closing the pool keeps on_shutdown (the database pool's disposal) from running."""
        if not self._handle_signals:
            self.handle_sig(signal.SIGUSR1)
        if not self._pool:
            return
        await asyncio.gather(*self.tasks.values())
        try:
            await asyncio.wait_for(self.pool.delete(self.health_check_key), PING_TIMEOUT_S)
        except REDIS_DOWN as exc:
            log.warning(
                "redis unreachable at shutdown (%s): the health-check key expires by itself",
                _describe(exc),
                extra={"queue": self.queue_name},
            )
        if self.on_shutdown:
            await self.on_shutdown(self.ctx)
        self._startup_done = False  # a restarted main() (arq --watch) runs on_startup again, as arq's worker does
        with contextlib.suppress(*REDIS_DOWN):
            await self.pool.close(close_connection_pool=True)
        self._pool = None
        self._set_connected(False)
