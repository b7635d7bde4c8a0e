"""Job handles: code asks for a job through its handle, never by its name.

    EVALUATE_KPIS.defer(session, job_id=f"eval:{batch.id}", org_id=str(batch.org_id), kpi_ids=kpi_ids)

Every handle is declared in this module by a stub of its job's keyword arguments: the names, types and defaults
that callers pass, that the queue stores (in Redis, across deploys) and that the job receives. The job's module
binds its function to the handle with `@job(EVALUATE_KPIS)` (shared/jobs/registry.py), which refuses a function
whose keyword arguments differ from the stub's. The handles live here rather than next to their jobs because
callers could not always import a job's module: shared/webhooks/events.py asks for the delivery job, whose module
imports events.py, and shared/ingest/pipeline.py would pull in the whole evaluation and budget modules to ask for
their jobs. This module imports the queue and no job module, so any module can import it without a cycle.

Typing: `JobHandle` is generic in a `ParamSpec` taken from the stub. `defer`, `enqueue` and `run_and_wait` take
`*args: P.args, **kwargs: P.kwargs` after their own parameters, and `@job` takes the function as
`Callable[Concatenate[ctx, P], Awaitable[R]]`, so a type checker catches a keyword a job does not take, a missing
or mistyped one, and a job function that drifts from its handle. (PEP 612 allows no keyword-only parameter beside
`P.kwargs`, hence `job_id` and `defer_s` come before `*args`: pass them by name.) At runtime, before anything is
stored, the names are checked against the stub and every value must be plain data (TypeError otherwise).

Arguments go on the wire exactly as given, and nothing is converted: ids are strings (`org_id=str(kpi.org_id)`),
days ISO strings. A `uuid.UUID` is refused rather than converted, so that the handle's keyword arguments stay
those of the job function, which reads strings, and the stored jobs keep the format they have always had.
"""

import inspect
from collections.abc import Callable
from typing import Any, Generic, ParamSpec

from sqlalchemy.ext.asyncio import AsyncSession

from shared.jobs.queue import DeferredJob, JobQueue, defer_after_commit, inline_jobs

P = ParamSpec("P")
# The handle's own keywords, which no job may take as an argument.
_OPTIONS = frozenset({"job_id", "defer_s", "timeout_s", "fallback_s"})


def _plain(value: Any) -> bool:
    if isinstance(value, str | int | float | bool | None):
        return True
    if isinstance(value, list):
        return all(_plain(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _plain(v) for k, v in value.items())
    return False


class JobHandle(Generic[P]):
    """One job, by its name on the wire and the keyword arguments its function takes."""

    def __init__(self, name: str, stub: Callable[P, object]) -> None:
        self.name = name
        self.signature = inspect.signature(stub)
        for param in self.signature.parameters.values():
            if param.kind is not inspect.Parameter.KEYWORD_ONLY or param.name in _OPTIONS:
                raise TypeError(f"job {name!r}: {param.name} must be keyword-only and not one of {sorted(_OPTIONS)}")

    def __repr__(self) -> str:
        return f"JobHandle({self.name!r})"

    def _arguments(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
        if args:
            raise TypeError(f"job {self.name!r} takes keyword arguments only, not {args!r}")
        self.signature.bind(**kwargs)  # TypeError: a keyword the job does not take, or one it needs missing
        for key, value in kwargs.items():
            if not _plain(value):
                raise TypeError(f"job {self.name!r}: {key}={value!r} is not plain data (str, number, list, dict)")
        return kwargs

    def defer(
        self,
        session: AsyncSession,
        job_id: str | None = None,
        defer_s: float | None = None,
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> None:
        """Run the job once this session's transaction has committed (and `defer_s` seconds later); never after a
        rollback. `job_id`: a job with this id already queued, running or kept is not enqueued again."""
        defer_after_commit(session, DeferredJob(self.name, job_id, self._arguments(args, kwargs), defer_s))

    def defer_inline(
        self,
        session: AsyncSession,
        job_id: str | None = None,
        fallback_s: float | None = None,
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> None:
        """Run the job in this process right after this session's transaction commits, by the job that owns it
        (`job_session(ctx, run_inline=True)`; `inline_jobs` says whether it does), and enqueue it too, `fallback_s`
        seconds later, for when that run never happens (the worker died in between). The job must be safe to run
        twice: the fallback runs even when the inline run did the work, and must then find nothing left to do."""
        if inline_jobs(session, self.name) is None:
            raise RuntimeError(f"job {self.name!r}: this session's owner runs no job inline")
        job = DeferredJob(self.name, job_id, self._arguments(args, kwargs), fallback_s, inline=True)
        defer_after_commit(session, job)

    async def enqueue(
        self,
        queue: JobQueue,
        job_id: str | None = None,
        defer_s: float | None = None,
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> str | None:
        """Enqueue the job now, outside any transaction (crons, sweepers, tests): its id, or None when a job with
        `job_id` is already queued, running or kept."""
        return await queue.enqueue(self.name, job_id=job_id, defer_s=defer_s, **self._arguments(args, kwargs))

    async def run_and_wait(self, queue: JobQueue, timeout_s: float, *args: P.args, **kwargs: P.kwargs) -> Any:
        """Enqueue the job now and wait up to `timeout_s` for its return value (the self-test uses this)."""
        job_id = await self.enqueue(queue, None, None, *args, **kwargs)
        if job_id is None:
            raise RuntimeError(f"job {self.name} was not enqueued")
        return await queue.result(job_id, timeout_s=timeout_s)


HANDLES: dict[str, JobHandle[...]] = {}


def handle(name: str) -> Callable[[Callable[P, object]], JobHandle[P]]:
    """Declare the handle of the job called `name`, from a stub of its keyword arguments."""

    def declare(stub: Callable[P, object]) -> JobHandle[P]:
        if name in HANDLES:
            raise ValueError(f"job {name!r} has two handles")
        HANDLES[name] = declared = JobHandle(name, stub)
        return declared

    return declare


# The names below are stored with every queued job: renaming one strands the jobs already in Redis.


@handle("ingest.process_batch")
def PROCESS_BATCH(*, batch_id: str) -> None:
    """Merge a stored batch's points (shared/ingest/pipeline.py)."""


@handle("kpis.evaluate")
def EVALUATE_KPIS(*, org_id: str, kpi_ids: list[str], since: str | None = None, trigger: str = "ingest") -> None:
    """Evaluate these KPIs' started targets that reach `since`, an ISO day (today without it); `trigger` is an
    EvaluationTrigger value (shared/alerts/evaluate.py)."""


@handle("budgets.check_overspend")
def CHECK_OVERSPEND(*, org_id: str) -> None:
    """Emit budget.overspend for the organisation's lines past their allocation (shared/alerts/budget.py)."""


@handle("webhooks.deliver")
def DELIVER_WEBHOOK(*, delivery_id: str, trigger: str = "scheduled", attempt: int | None = None) -> None:
    """Make attempt number `attempt` of a webhook delivery; `trigger` is what the attempt log shows
    (shared/webhooks/delivery.py)."""


@handle("selftest")
def SELFTEST(*, nonce: str) -> None:
    """Echo the nonce with where the job ran and a database round trip (shared/jobs/selftest.py)."""
