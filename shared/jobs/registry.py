"""The job catalogue: every background job is a plain async function registered here once.

The arq worker (services/kpi_engine) and the in-process queue (embedded mode) both run these same
functions with the same `ctx` keys, so a job is written once and behaves the same in both modes.
"""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

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


def job(*, name: str, max_tries: int = 5, timeout_s: float | None = None):
    """Register `async def fn(ctx, **kwargs)` as a background job called `name`."""

    def register(func: JobFunction) -> JobFunction:
        if name in JOBS:
            raise ValueError(f"job {name!r} registered twice")
        JOBS[name] = JobSpec(name=name, func=func, max_tries=max_tries, timeout_s=timeout_s)
        return func

    return register


def cron_job(*, name: str, every_s: int, timeout_s: float | None = None):
    """Register `async def fn(ctx)` as a job that also runs every `every_s` seconds (a divisor of 60 or of 3600)."""

    def register(func: JobFunction) -> JobFunction:
        job(name=name, max_tries=1, timeout_s=timeout_s)(func)
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
