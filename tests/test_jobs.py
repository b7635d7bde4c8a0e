"""Jobs asked for in a transaction run after it commits, never after a rollback; same code in both modes. Code asks
for a job through its handle, which takes exactly the job's keyword arguments; every job in the code is in the
catalogue; a cron runs at clock times, so its interval divides the minute, the hour or the day."""

import ast
import os
import secrets
import uuid
from pathlib import Path
from typing import Any

import pytest

from shared.jobs.catalogue import JOB_MODULES, load_all_jobs
from shared.jobs.context import job_session
from shared.jobs.handles import EVALUATE_KPIS, HANDLES, SELFTEST, JobHandle
from shared.jobs.queue import JobNotFound, enqueue_deferred
from shared.jobs.registry import CRONS, JOBS, cron_job, cron_times, job
from tests.support import BACKEND

ROOT = Path(__file__).resolve().parent.parent


def _job_ctx(state) -> dict:
    return {"db": state.db, "queue": state.queue, "settings": state.settings}


async def test_a_job_deferred_in_a_committed_transaction_runs(state):
    nonce, job_id = secrets.token_hex(4), f"test-commit-{secrets.token_hex(6)}"
    async with job_session(_job_ctx(state)) as session:
        SELFTEST.defer(session, job_id=job_id, nonce=nonce)
    result = await state.queue.result(job_id, timeout_s=15)
    assert result["nonce"] == nonce and result["database"] is True
    assert (result["pid"] != os.getpid()) is (BACKEND == "postgres")


async def test_a_job_deferred_in_a_rolled_back_transaction_never_runs(state):
    job_id = f"test-rollback-{secrets.token_hex(6)}"
    with pytest.raises(ZeroDivisionError):
        async with job_session(_job_ctx(state)) as session:
            SELFTEST.defer(session, job_id=job_id, nonce="never")
            1 / 0  # noqa: B018 - the job's own work fails
    with pytest.raises(JobNotFound):
        await state.queue.result(job_id, timeout_s=1)


async def test_nothing_is_enqueued_before_commit(state):
    job_id = f"test-order-{secrets.token_hex(6)}"
    async with state.db.sessionmaker() as session:
        SELFTEST.defer(session, job_id=job_id, nonce="later")
        with pytest.raises(JobNotFound):
            await state.queue.result(job_id, timeout_s=0.5)
        await session.commit()
        await enqueue_deferred(session, state.queue)
    assert (await state.queue.result(job_id, timeout_s=15))["nonce"] == "later"


async def test_the_same_job_id_runs_once(state):
    job_id = f"test-dedupe-{secrets.token_hex(6)}"
    first = await SELFTEST.enqueue(state.queue, job_id=job_id, nonce="one")
    await state.queue.result(job_id, timeout_s=15)
    again = await SELFTEST.enqueue(state.queue, job_id=job_id, nonce="two")
    assert first == job_id and again is None
    assert (await state.queue.result(job_id, timeout_s=1))["nonce"] == "one"


def _no_such_job(*, nonce: str) -> None:
    """A handle no job module binds a function to."""


async def test_unknown_jobs_are_refused_when_asked_for(state):
    async with state.db.sessionmaker() as session:
        with pytest.raises(KeyError):
            JobHandle("no-such-job", _no_such_job).defer(session, nonce="x")


class RecordingQueue:
    """Records what would go to the queue: arq stores a job's name and keyword arguments as given here."""

    def __init__(self) -> None:
        self.enqueued: list[tuple[str, dict[str, Any]]] = []

    async def enqueue(self, name: str, **kwargs: Any) -> str | None:
        self.enqueued.append((name, kwargs))
        return kwargs["job_id"]


async def test_a_handle_enqueues_the_job_by_its_name_with_its_arguments_as_given(state):
    org_id, kpi_id, queue = str(uuid.uuid4()), str(uuid.uuid4()), RecordingQueue()
    async with state.db.sessionmaker() as session:
        EVALUATE_KPIS.defer(session, job_id="eval:1", org_id=org_id, kpi_ids=[kpi_id], since="2026-03-01")
        SELFTEST.defer(session, job_id="selftest:1", defer_s=2.5, nonce="n")
        await enqueue_deferred(session, queue)  # records, runs nothing
    assert queue.enqueued == [
        (
            "kpis.evaluate",
            {"job_id": "eval:1", "defer_s": None, "org_id": org_id, "kpi_ids": [kpi_id], "since": "2026-03-01"},
        ),
        ("selftest", {"job_id": "selftest:1", "defer_s": 2.5, "nonce": "n"}),
    ]


@pytest.mark.parametrize(
    "arguments",
    [{"nonse": "x"}, {}, {"nonce": uuid.uuid4()}, {"nonce": "x", "extra": 1}],
    ids=["misspelt", "missing", "a UUID, not its string", "one the job does not take"],
)
async def test_a_handle_refuses_arguments_its_job_does_not_take_before_keeping_anything(state, arguments):
    async with state.db.sessionmaker() as session:
        with pytest.raises(TypeError):
            SELFTEST.defer(session, **arguments)
        with pytest.raises(TypeError):
            await SELFTEST.enqueue(RecordingQueue(), **arguments)
        await enqueue_deferred(session, queue := RecordingQueue())
    assert queue.enqueued == []


def test_a_job_function_must_take_exactly_its_handles_keyword_arguments():
    handle = JobHandle("test.drifted", _no_such_job)

    async def misspelt(ctx, *, nonse: str) -> None: ...

    async def other_default(ctx, *, nonce: str = "") -> None: ...

    for drifted in (misspelt, other_default):
        with pytest.raises(TypeError, match="keyword arguments of its handle"):
            job(handle)(drifted)
    assert "test.drifted" not in JOBS
    with pytest.raises(TypeError, match="keyword-only"):
        JobHandle("test.options", lambda job_id: None)


def _is_job_decorator(node: ast.expr) -> bool:
    target = node.func if isinstance(node, ast.Call) else node
    name = target.attr if isinstance(target, ast.Attribute) else getattr(target, "id", None)
    return name in ("job", "cron_job")


def jobs_in_the_code() -> set[tuple[str, str]]:
    """(module, function) of every function decorated with @job or @cron_job under shared/ and services/, read
    from the source: importing it would register it, and hide a module the catalogue forgot."""
    found: set[tuple[str, str]] = set()
    for path in sorted([*ROOT.glob("shared/**/*.py"), *ROOT.glob("services/**/*.py")]):
        module = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        tree = ast.parse(path.read_text(), filename=str(path))
        functions = [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)]
        found |= {(module, f.name) for f in functions if any(_is_job_decorator(d) for d in f.decorator_list)}
    return found


def test_every_job_in_the_code_is_in_the_catalogue():
    in_code = jobs_in_the_code()
    assert {("shared.jobs.selftest", "selftest"), ("shared.ingest.pipeline", "sweep_batches")} <= in_code
    forgotten = {module for module, _ in in_code} - set(JOB_MODULES)
    assert not forgotten, f"modules with jobs missing from the catalogue's JOB_MODULES: {sorted(forgotten)}"
    loaded = {(spec.func.__module__, spec.func.__name__) for spec in load_all_jobs().values()}
    assert loaded == in_code


def test_every_handle_names_a_registered_job_and_every_job_but_the_crons_has_a_handle():
    assert set(HANDLES) == set(load_all_jobs()) - set(CRONS)


def test_job_names_stay_those_stored_in_redis():
    """Queued jobs are stored by name across deploys: renaming one strands the jobs already queued."""
    assert set(load_all_jobs()) == {
        "budgets.check_overspend",
        "budgets.check_overspend_all",
        "ingest.clear_batch_points",
        "ingest.process_batch",
        "ingest.sweep_batches",
        "kpis.evaluate",
        "kpis.evaluate_active",
        "metrics.ensure_partitions",
        "notifications.sweep",
        "selftest",
        "webhooks.deliver",
        "webhooks.retry_due",
    }


@pytest.mark.parametrize(
    ("every_s", "clock"),
    [
        (1, {"second": set(range(60))}),
        (30, {"second": {0, 30}}),
        (60, {"minute": set(range(60)), "second": 0}),
        (900, {"minute": {0, 15, 30, 45}, "second": 0}),
        (3600, {"hour": set(range(24)), "minute": 0, "second": 0}),
        (6 * 3600, {"hour": {0, 6, 12, 18}, "minute": 0, "second": 0}),
        (86400, {"hour": {0}, "minute": 0, "second": 0}),
    ],
)
def test_a_cron_runs_at_the_clock_times_of_its_interval(every_s, clock):
    assert cron_times(every_s) == clock


@pytest.mark.parametrize(
    "every_s",
    [0, -60, 7, 7000, 2 * 86400, 45, 90, 5400],
    ids=[
        "zero",
        "negative",
        "not dividing the hour",
        "not dividing the day",
        "longer than a day",
        "dividing the hour, not the minute: would run at :00 and :45",
        "dividing the hour, not in whole minutes: would run every minute",
        "dividing the day, not in whole hours",
    ],
)
def test_a_cron_whose_interval_has_no_clock_times_is_refused_when_registered(every_s):
    with pytest.raises(ValueError, match="cron interval"):
        cron_job(name="test.refused", every_s=every_s)
    assert "test.refused" not in CRONS and "test.refused" not in JOBS
