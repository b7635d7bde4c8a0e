"""The job catalogue: every background job is a plain async function registered here once.

The arq worker (services/kpi_engine) and the in-process queue (embedded mode) both run these same
functions with the same `ctx` keys, so a job is written once and behaves the same in both modes.
"""

import functools
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from shared.db.faults import is_transient
from shared.jobs.retry import FOREVER_TRIES, retry_if_transient

log = logging.getLogger(__name__)

JobFunction = Callable[..., Awaitable[Any]]


@dataclass(frozen=True)
class JobSpec:
    name: str
    func: JobFunction
    max_tries: int
    timeout_s: float | None


@dataclass(frozen=True)
class CronSpec:
    name: str
    every_s: int


JOBS: dict[str, JobSpec] = {}
CRONS: dict[str, CronSpec] = {}


def job(*, name: str, max_tries: int | None = None, timeout_s: float | None = None):
    """Register `async def fn(ctx, **kwargs)` as a background job called `name`.

    Without `max_tries`, a transient fault (database or Redis outage, deadlock: `shared.db.faults`) is retried with
    backoff for as long as it lasts; any other exception fails the job, as in arq. With `max_tries`, the job
    runs at most that often and handles faults itself (the webhook delivery has its own retry schedule)."""

    def register(func: JobFunction) -> JobFunction:
        if name in JOBS:
            raise ValueError(f"job {name!r} registered twice")
        runs = func
        if max_tries is None:

            @functools.wraps(func)
            async def runs(ctx, **kwargs):
                try:
                    return await func(ctx, **kwargs)
                except Exception as exc:
                    retry_if_transient(exc, ctx, f"job {name}")
                    raise

        JOBS[name] = JobSpec(name=name, func=runs, max_tries=max_tries or FOREVER_TRIES, timeout_s=timeout_s)
        return func

    return register


def cron_job(*, name: str, every_s: int, timeout_s: float | None = None):
    """Register `async def fn(ctx)` as a job that also runs every `every_s` seconds (a divisor of 60 or of 3600).

    A transient fault skips the tick with a warning: the next tick is the retry."""

    def register(func: JobFunction) -> JobFunction:
        @functools.wraps(func)
        async def tick(ctx, **kwargs):
            try:
                return await func(ctx, **kwargs)
            except Exception as exc:
                if not is_transient(exc):
                    raise
                log.warning("cron %s skipped a tick on a transient fault: %r", name, exc)
                return None

        job(name=name, max_tries=1, timeout_s=timeout_s)(tick)
        CRONS[name] = CronSpec(name=name, every_s=every_s)
        return func

    return register


def load_all_jobs() -> dict[str, JobSpec]:
    """Import every module that defines jobs (and every model, so the ORM can resolve all foreign keys)."""
    import shared.models  # noqa: F401
    from shared.alerts import budget, evaluate  # noqa: F401
    from shared.ingest import pipeline  # noqa: F401
    from shared.jobs import selftest  # noqa: F401
    from shared.webhooks import delivery  # noqa: F401

    return JOBS
