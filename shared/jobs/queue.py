"""The one queue interface: arq on Redis when REDIS_URL is set, otherwise the same jobs in-process.

Services ask for a job with `defer(session, name, ...)`; the owner of the transaction (the request's
session dependency, or `job_session` in a job) calls `enqueue_deferred` after its commit, so a job never
sees data that was rolled back, and nothing is enqueued for a failed request.
"""

import asyncio
import logging
import uuid
from dataclasses import dataclass, field
from typing import Any, Protocol

from arq import create_pool
from arq.connections import ArqRedis, RedisSettings
from arq.worker import Retry
from sqlalchemy.ext.asyncio import AsyncSession

from shared.db.engine import Database
from shared.jobs.registry import JobSpec, load_all_jobs
from shared.settings import Settings

log = logging.getLogger(__name__)
_DEFERRED_KEY = "deferred_jobs"


@dataclass(frozen=True)
class DeferredJob:
    name: str
    job_id: str | None
    kwargs: dict[str, Any]


class JobQueue(Protocol):
    mode: str

    async def enqueue(self, name: str, *, job_id: str | None = None, **kwargs: Any) -> str | None: ...

    async def run_and_wait(self, name: str, *, timeout_s: float, **kwargs: Any) -> Any: ...

    async def queued_count(self) -> int: ...

    async def ping(self) -> None: ...

    async def close(self) -> None: ...


def defer(session: AsyncSession, name: str, *, job_id: str | None = None, **kwargs: Any) -> None:
    """Ask for a job to run once this session's transaction has committed."""
    if name not in load_all_jobs():
        raise KeyError(f"unknown job {name!r}")
    session.info.setdefault(_DEFERRED_KEY, []).append(DeferredJob(name, job_id, kwargs))


async def enqueue_deferred(session: AsyncSession, queue: "JobQueue") -> None:
    """Enqueue what the committed transaction asked for. A failure is logged, not raised: the data is
    committed, and the sweepers of the jobs that matter re-enqueue from the database."""
    for deferred in session.info.pop(_DEFERRED_KEY, []):
        try:
            await queue.enqueue(deferred.name, job_id=deferred.job_id, **deferred.kwargs)
        except Exception:
            log.exception("enqueue of %s failed after commit", deferred.name)


def discard_deferred(session: AsyncSession) -> None:
    session.info.pop(_DEFERRED_KEY, None)


class ArqQueue:
    """Jobs go to Redis; a separate `make worker` process runs them."""

    mode = "arq"

    def __init__(self, redis: ArqRedis, queue_name: str):
        self.redis = redis
        self.queue_name = queue_name

    @classmethod
    async def connect(cls, settings: Settings) -> "ArqQueue":
        redis_settings = RedisSettings.from_dsn(settings.redis_url)
        redis_settings.conn_timeout = 2
        redis_settings.conn_retries = 1
        pool = await create_pool(redis_settings, default_queue_name=settings.queue_name)
        return cls(pool, settings.queue_name)

    async def enqueue(self, name: str, *, job_id: str | None = None, **kwargs: Any) -> str | None:
        job = await self.redis.enqueue_job(name, _job_id=job_id, _queue_name=self.queue_name, **kwargs)
        return job.job_id if job else None

    async def run_and_wait(self, name: str, *, timeout_s: float, **kwargs: Any) -> Any:
        job = await self.redis.enqueue_job(name, _queue_name=self.queue_name, **kwargs)
        if job is None:
            raise RuntimeError(f"job {name} was not enqueued")
        return await job.result(timeout=timeout_s, poll_delay=0.05)

    async def queued_count(self) -> int:
        return await self.redis.zcard(self.queue_name)

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
    _tasks: dict[str, asyncio.Task] = field(default_factory=dict)

    def _ctx(self, job_id: str, job_try: int) -> dict[str, Any]:
        return {"settings": self.settings, "db": self.db, "queue": self, "job_id": job_id, "job_try": job_try}

    async def enqueue(self, name: str, *, job_id: str | None = None, **kwargs: Any) -> str | None:
        spec = load_all_jobs()[name]
        job_id = job_id or uuid.uuid4().hex
        if job_id in self._tasks:  # arq dedupes a job id that is queued or running; so do we
            return None
        task = asyncio.create_task(self._run(spec, job_id, kwargs), name=f"job:{name}:{job_id}")
        self._tasks[job_id] = task
        task.add_done_callback(lambda _t, key=job_id: self._tasks.pop(key, None))
        return job_id

    async def _run(self, spec: JobSpec, job_id: str, kwargs: dict[str, Any]) -> Any:
        for job_try in range(1, spec.max_tries + 1):
            try:
                coro = spec.func(self._ctx(job_id, job_try), **kwargs)
                timeout = spec.timeout_s or self.settings.job_timeout_s
                return await asyncio.wait_for(coro, timeout)
            except Retry as retry:
                if job_try == spec.max_tries:
                    log.error("job %s (%s) gave up after %d tries", spec.name, job_id, job_try)
                    return None
                await asyncio.sleep(retry.defer_score / 1000 if retry.defer_score else 0)
            except Exception:
                # Like arq: an ordinary exception fails the job without retrying.
                log.exception("job %s (%s) failed", spec.name, job_id)
                return None
        return None

    async def run_and_wait(self, name: str, *, timeout_s: float, **kwargs: Any) -> Any:
        spec = load_all_jobs()[name]
        return await asyncio.wait_for(spec.func(self._ctx(uuid.uuid4().hex, 1), **kwargs), timeout_s)

    async def queued_count(self) -> int:
        return len(self._tasks)

    async def ping(self) -> None:
        return None

    async def drain(self) -> None:
        """Wait until every job (and the jobs those jobs enqueued) has finished."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks.values()), return_exceptions=True)

    async def close(self) -> None:
        for task in list(self._tasks.values()):
            task.cancel()
        await asyncio.gather(*list(self._tasks.values()), return_exceptions=True)


async def make_queue(settings: Settings, db: Database) -> JobQueue:
    """The queue this configuration asks for."""
    if settings.redis_url:
        return await ArqQueue.connect(settings)
    return InProcessQueue(settings=settings, db=db)
