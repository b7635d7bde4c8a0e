"""Registering background jobs: `@job(HANDLE)` and `@cron_job(...)` fill JOBS and CRONS as a job module is imported.

Every job module imports this module, so it imports no job module itself: the list of job modules is the
catalogue (`shared.jobs.catalogue`), and what code asks for is a handle (`shared.jobs.handles`). The arq worker
(services/kpi_engine) and the in-process queue (embedded mode) both run these same functions with the same `ctx`
keys, so a job is written once and behaves the same in both modes.
"""

import functools
import inspect
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Concatenate, ParamSpec, TypeVar

from shared.db.faults import is_transient
from shared.jobs.retry import FOREVER_TRIES, retry_if_transient

if TYPE_CHECKING:
    from shared.jobs.handles import JobHandle

log = logging.getLogger(__name__)

JobFunction = Callable[..., Awaitable[Any]]
P = ParamSpec("P")
R = TypeVar("R")
# The job's function as its handle types it: `ctx` first, then exactly the handle's keyword arguments.
BoundJob = Callable[Concatenate[Any, P], Awaitable[R]]

MINUTE_S, HOUR_S, DAY_S = 60, 3600, 86400


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


def _register(name: str, func: JobFunction, *, max_tries: int | None, timeout_s: float | None) -> None:
    """Without `max_tries`, a transient fault (database or Redis outage, deadlock: `shared.db.faults`) is retried with
    backoff for as long as it lasts; any other exception fails the job, as in arq. With `max_tries`, the job
    runs at most that often and handles faults itself (the webhook delivery has its own retry schedule)."""
    if name in JOBS:
        raise ValueError(f"job {name!r} registered twice")
    runs = func
    if max_tries is None:

        @functools.wraps(func)
        async def runs(ctx: Any, **kwargs: Any) -> Any:
            try:
                return await func(ctx, **kwargs)
            except Exception as exc:
                retry_if_transient(exc, ctx, f"job {name}")
                raise

    JOBS[name] = JobSpec(name=name, func=runs, max_tries=max_tries or FOREVER_TRIES, timeout_s=timeout_s)


def _keywords(params: list[inspect.Parameter]) -> list[tuple[str, Any, Any]]:
    return [(p.name, p.kind, p.default) for p in params]


def job(
    handle: "JobHandle[P]", *, max_tries: int | None = None, timeout_s: float | None = None
) -> Callable[[BoundJob[P, R]], BoundJob[P, R]]:
    """Register `async def fn(ctx, *, ...)` as the job that `handle` names; its keyword arguments must be the
    handle's (same names, defaults and, for a type checker, types), since they are what callers pass and what the
    queue stores. `max_tries`: see `_register`. Returns the function itself (tests call it directly)."""

    def register(func: BoundJob[P, R]) -> BoundJob[P, R]:
        params = list(inspect.signature(func).parameters.values())[1:]  # after ctx
        if _keywords(params) != _keywords(list(handle.signature.parameters.values())):
            raise TypeError(
                f"job {handle.name!r}: {func.__qualname__}{inspect.signature(func)} does not take the keyword "
                f"arguments of its handle, {handle.signature}"
            )
        _register(handle.name, func, max_tries=max_tries, timeout_s=timeout_s)
        return func

    return register


def cron_times(every_s: int) -> dict[str, Any]:
    """The clock times of an interval, as arq's `cron()` takes them (`hour`, `minute`, `second`).

    Only an interval that divides the minute, the hour in whole minutes, or the day in whole hours has such a
    schedule (one arq cron is a product of those sets): anything else is a ValueError. 90 s divides the hour but
    would run at every minute; 45 s would run at :00 and :45."""
    if every_s <= 0:
        raise ValueError(f"a cron interval must be positive, not {every_s} s")
    if every_s < MINUTE_S and MINUTE_S % every_s == 0:
        return {"second": set(range(0, MINUTE_S, every_s))}
    minutes, hours = divmod(every_s, MINUTE_S), divmod(every_s, HOUR_S)
    if every_s < HOUR_S and minutes[1] == 0 and HOUR_S % every_s == 0:
        return {"minute": set(range(0, 60, minutes[0])), "second": 0}
    if hours[1] == 0 and DAY_S % every_s == 0:
        return {"hour": set(range(0, 24, hours[0])), "minute": 0, "second": 0}
    raise ValueError(
        f"a cron interval of {every_s} s does not divide the minute, the hour in whole minutes, or the day in "
        "whole hours (a cron runs at fixed clock times)"
    )


def cron_job(
    *, name: str, every_s: int, timeout_s: float | None = None
) -> Callable[[Callable[[Any], Awaitable[R]]], Callable[[Any], Awaitable[R]]]:
    """Register `async def fn(ctx)` as a job that also runs every `every_s` seconds, at fixed clock times:
    `every_s` divides the minute, the hour (whole minutes) or the day (whole hours); see `cron_times`.

    A transient fault skips the tick with a warning: the next tick is the retry. Nothing asks for a cron job by
    name, so it has no handle."""
    cron_times(every_s)  # refuses an interval without a clock schedule, at import

    def register(func: Callable[[Any], Awaitable[R]]) -> Callable[[Any], Awaitable[R]]:
        @functools.wraps(func)
        async def tick(ctx: Any, **kwargs: Any) -> Any:
            try:
                return await func(ctx, **kwargs)
            except Exception as exc:
                if not is_transient(exc):
                    raise
                log.warning("cron %s skipped a tick on a transient fault: %r", name, exc)
                return None

        _register(name, tick, max_tries=1, timeout_s=timeout_s)
        CRONS[name] = CronSpec(name=name, every_s=every_s)
        return func

    return register
