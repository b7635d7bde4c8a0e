"""The one queue interface: arq on Redis when REDIS_URL is set, otherwise the same jobs in-process.

Services ask for a job through its handle, `HANDLE.defer(session, ...)` (shared/jobs/handles.py); the owner of
the transaction (the request's session dependency, or `job_session` in a job) calls `enqueue_deferred` after its
commit, so a job never sees data that was rolled back, and nothing is enqueued for a failed request. Below the
handles, a job is its name and keyword arguments, as arq stores it.
"""

import asyncio
import functools
import logging
import uuid
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Protocol

from arq.connections import ArqRedis
from arq.constants import job_key_prefix
from arq.jobs import Job, ResultNotFound
from arq.worker import Retry
from sqlalchemy.ext.asyncio import AsyncSession

from shared.db.engine import Database
from shared.jobs.catalogue import load_all_jobs
from shared.jobs.registry import CRONS, JOBS, CronSpec, JobSpec
from shared.settings import Settings

log = logging.getLogger(__name__)
_DEFERRED_KEY = "deferred_jobs"


_INLINE_KEY = "runs_inline"


@dataclass(frozen=True)
class DeferredJob:
    name: str
    job_id: str | None
    kwargs: dict[str, Any]
    defer_s: float | None = None
    # Run by the transaction's owner itself right after its commit (`job_session(ctx, run_inline=True)`); the job
    # enqueued `defer_s` later is the fallback, for when that run never happens (the process died in between).
    inline: bool = False


class JobNotFound(LookupError):
    """No job with this id is queued, running or kept."""


class JobQueue(Protocol):
    mode: str

    async def enqueue(
        self, name: str, *, job_id: str | None = None, defer_s: float | None = None, **kwargs: Any
    ) -> str | None: ...

    async def result(self, job_id: str, *, timeout_s: float) -> Any:
        """The job's return value once it has run (kept for a while); raises JobNotFound, TimeoutError,
        or the job's own exception."""
        ...

    async def queued_count(self) -> int: ...

    async def waiting(self, job_ids: list[str]) -> set[str]:
        """The ids among these of jobs still queued, deferred or running (not finished, not lost)."""
        ...

    async def ping(self) -> None: ...

    async def close(self) -> None: ...


def defer_after_commit(session: AsyncSession, job: DeferredJob) -> None:
    """Keep the job to enqueue once this session's transaction has committed (`JobHandle.defer` builds it)."""
    if job.name not in load_all_jobs():
        raise KeyError(f"unknown job {job.name!r}")
    session.info.setdefault(_DEFERRED_KEY, []).append(job)


async def enqueue_deferred(session: AsyncSession, queue: "JobQueue") -> list[DeferredJob]:
    """Enqueue what the committed transaction asked for; the jobs its owner is to run inline too. A failure is
    logged, not raised: the data is committed, and the sweepers of the jobs that matter re-enqueue from the
    database (an inline job is still run when its fallback's enqueue failed)."""
    deferred_jobs = session.info.pop(_DEFERRED_KEY, [])
    for deferred in deferred_jobs:
        try:
            await queue.enqueue(deferred.name, job_id=deferred.job_id, defer_s=deferred.defer_s, **deferred.kwargs)
        except Exception:
            log.exception("enqueue of %s failed after commit", deferred.name)
    return [deferred for deferred in deferred_jobs if deferred.inline]


def deferred_count(session: AsyncSession) -> int:
    """How many jobs this transaction has deferred so far (a mark for `discard_deferred`)."""
    return len(session.info.get(_DEFERRED_KEY, []))


def discard_deferred(session: AsyncSession, *, keep: int = 0) -> None:
    """Forget the jobs deferred since the first `keep` (all by default): their transaction, or savepoint, rolled
    back."""
    deferred_jobs = session.info.get(_DEFERRED_KEY)
    if deferred_jobs is not None:
        del deferred_jobs[keep:]


def mark_runs_inline(session: AsyncSession) -> None:
    """Mark the session: its owner runs the jobs deferred with `inline=True` itself, right after its commit."""
    session.info[_INLINE_KEY] = True


def inline_jobs(session: AsyncSession, name: str) -> int | None:
    """How many `name` jobs this transaction has deferred to run inline; None if its owner runs none inline (an API
    request, which must not wait on them)."""
    if not session.info.get(_INLINE_KEY):
        return None
    return sum(1 for job in session.info.get(_DEFERRED_KEY, []) if job.inline and job.name == name)


class ArqQueue:
    """Jobs go to Redis; a separate `make worker` process runs them."""

    mode = "arq"

    def __init__(self, redis: ArqRedis, queue_name: str):
        self.redis = redis
        self.queue_name = queue_name

    @classmethod
    def from_settings(cls, settings: Settings) -> "ArqQueue":
        """Connects lazily: the API starts while Redis is down, and /health/ready reports it."""
        if not settings.redis_url:
            raise ValueError("an arq queue needs REDIS_URL")
        redis = ArqRedis.from_url(settings.redis_url, socket_connect_timeout=2, socket_timeout=5)
        redis.default_queue_name = settings.queue_name
        return cls(redis, settings.queue_name)

    async def enqueue(
        self, name: str, *, job_id: str | None = None, defer_s: float | None = None, **kwargs: Any
    ) -> str | None:
        job = await self.redis.enqueue_job(
            name, _job_id=job_id, _queue_name=self.queue_name, _defer_by=defer_s or None, **kwargs
        )
        return job.job_id if job else None

    async def result(self, job_id: str, *, timeout_s: float) -> Any:
        job = Job(job_id, self.redis, _queue_name=self.queue_name)
        try:
            return await job.result(timeout=timeout_s, poll_delay=0.05)
        except ResultNotFound as exc:
            raise JobNotFound(job_id) from exc

    async def queued_count(self) -> int:
        return await self.redis.zcard(self.queue_name)

    async def waiting(self, job_ids: list[str]) -> set[str]:
        # arq keeps a job's definition under arq:job:<id> from enqueue until it finishes (a Retry keeps it too).
        async with self.redis.pipeline(transaction=False) as pipe:
            for job_id in job_ids:
                pipe.exists(job_key_prefix + job_id)
            found = await pipe.execute()
        return {job_id for job_id, n in zip(job_ids, found, strict=True) if n}

    async def ping(self) -> None:
        await self.redis.ping()

    async def close(self) -> None:
        await self.redis.aclose()


@dataclass
class InProcessQueue:
    """Embedded mode: the registered job functions run as tasks of this process, with arq's retry rules."""

    settings: Settings
    db: Database
    mode: str = "in-process"
    keep_results: int = 1000
    # How long close() lets running jobs and cron runs finish before it cancels them.
    shutdown_grace_s: float = 10.0
    _tasks: dict[str, asyncio.Task] = field(default_factory=dict)
    _results: "OrderedDict[str, tuple[bool, Any]]" = field(default_factory=OrderedDict)
    _crons: list[asyncio.Task] = field(default_factory=list)
    _stopping: asyncio.Event = field(default_factory=asyncio.Event)

    def _ctx(self, job_id: str, job_try: int) -> dict[str, Any]:
        return {"settings": self.settings, "db": self.db, "queue": self, "job_id": job_id, "job_try": job_try}

    async def enqueue(
        self, name: str, *, job_id: str | None = None, defer_s: float | None = None, **kwargs: Any
    ) -> str | None:
        spec = load_all_jobs()[name]
        job_id = job_id or uuid.uuid4().hex
        if job_id in self._tasks or job_id in self._results:  # arq dedupes against queued, running and kept
            return None
        task = asyncio.create_task(self._run(spec, job_id, kwargs, defer_s), name=f"job:{name}:{job_id}")
        self._tasks[job_id] = task
        task.add_done_callback(functools.partial(self._forget, job_id))
        return job_id

    def _forget(self, job_id: str, _task: "asyncio.Task[Any]") -> None:
        self._tasks.pop(job_id, None)

    async def _pause(self, seconds: float) -> bool:
        """Sleep; False (at once) when the queue is closing instead."""
        if self._stopping.is_set():
            return False
        try:
            await asyncio.wait_for(self._stopping.wait(), seconds)
        except TimeoutError:
            return True
        return False

    async def _run(self, spec: JobSpec, job_id: str, kwargs: dict[str, Any], defer_s: float | None = None) -> None:
        # A job still waiting for its time when the queue closes is not started (its result: JobNotFound). The
        # jobs that matter are re-enqueued from the database by their sweepers, as after a worker restart.
        if defer_s and not await self._pause(defer_s):
            return
        outcome: tuple[bool, Any]
        for job_try in range(1, spec.max_tries + 1):
            try:
                coro = spec.func(self._ctx(job_id, job_try), **kwargs)
                outcome = (True, await asyncio.wait_for(coro, spec.timeout_s or self.settings.job_timeout_s))
                break
            except Retry as retry:
                outcome = (False, RuntimeError(f"job {spec.name} gave up after {job_try} tries"))
                if job_try < spec.max_tries and not await self._pause((retry.defer_score or 0) / 1000):
                    outcome = (False, RuntimeError(f"job {spec.name} was not retried: the queue closed"))
                    break
            except Exception as exc:
                # Like arq: an ordinary exception fails the job without retrying.
                log.exception("job %s (%s) failed", spec.name, job_id)
                outcome = (False, exc)
                break
        self._results[job_id] = outcome
        while len(self._results) > self.keep_results:
            self._results.popitem(last=False)

    async def result(self, job_id: str, *, timeout_s: float) -> Any:
        task = self._tasks.get(job_id)
        if task is not None:
            await asyncio.wait_for(asyncio.shield(task), timeout_s)
        if job_id not in self._results:
            raise JobNotFound(job_id)
        ok, value = self._results[job_id]
        if not ok:
            raise value
        return value

    async def queued_count(self) -> int:
        return len(self._tasks)

    async def waiting(self, job_ids: list[str]) -> set[str]:
        return {job_id for job_id in job_ids if job_id in self._tasks}

    async def ping(self) -> None:
        return None

    def start_crons(self) -> None:
        """Run the registered cron jobs on their intervals inside this process (what arq's cron does)."""
        load_all_jobs()
        for spec in CRONS.values():
            self._crons.append(asyncio.create_task(self._cron_loop(spec), name=f"cron:{spec.name}"))

    async def _cron_loop(self, spec: CronSpec) -> None:
        """Run, then wait `every_s`; ends between two runs once the queue is closing."""
        job_spec = JOBS[spec.name]
        while not self._stopping.is_set():
            try:
                await asyncio.wait_for(job_spec.func(self._ctx(f"cron:{spec.name}", 1)), self.settings.job_timeout_s)
            except Exception:
                log.exception("cron %s failed", spec.name)
            if not await self._pause(spec.every_s):
                return

    async def drain(self) -> None:
        """Wait until every job (and the jobs those jobs enqueued) has finished."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks.values()), return_exceptions=True)

    async def close(self) -> None:
        """Shut down gracefully: the crons stop between runs, jobs waiting for their time (a deferral, a retry's
        backoff) are dropped, and running jobs and cron runs, with the jobs they enqueue, may finish for up to
        `shutdown_grace_s`; only what is still running then is cancelled.

        Cancelling a job mid-transaction is what this avoids: SQLAlchemy invalidates a connection interrupted by a
        cancellation and hard-closes it while aiosqlite's thread may still be running the statement, and that
        SQLite connection could stay open inside its transaction, holding the database's write lock for good
        (every later write waited out busy_timeout and answered 503 "database is locked")."""
        self._stopping.set()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.shutdown_grace_s
        while pending := [t for t in (*self._tasks.values(), *self._crons) if not t.done()]:
            remaining = deadline - loop.time()
            if remaining <= 0:
                log.warning(
                    "cancelling %d job(s) still running %.0f s after shutdown began: %s",
                    len(pending),
                    self.shutdown_grace_s,
                    ", ".join(t.get_name() for t in pending),
                )
                for task in pending:
                    task.cancel()
                await asyncio.gather(*pending, return_exceptions=True)
                return
            await asyncio.wait(pending, timeout=remaining)  # a finished job may enqueue more: look again


async def make_queue(settings: Settings, db: Database) -> JobQueue:
    """The queue this configuration asks for."""
    if settings.redis_url:
        return ArqQueue.from_settings(settings)
    return InProcessQueue(settings=settings, db=db)
