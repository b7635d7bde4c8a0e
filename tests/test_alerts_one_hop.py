"""A batch that moves a KPI off target is evaluated by the batch's own job, in its merge transaction, and that job
makes the webhook's first attempt right after its commit: one job hop from the ingest `202` to the receiver. The
jobs it saves stay as fallbacks: a batch changing many KPIs, or whose evaluation fails, is evaluated by its own job,
and a delivery whose inline attempt never happened (the worker died after the commit) is made by its deferred job,
once (real HTTP receiver; the real worker on Postgres)."""

import asyncio
import sqlite3
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from arq import Retry
from sqlalchemy import select

from shared.alerts import evaluate
from shared.alerts.evaluate import INLINE_EVALUATION_KPIS
from shared.alerts.models import EvaluationTrigger, KpiEvaluation
from shared.ingest.models import BatchStatus, IngestBatch
from shared.ingest.pipeline import process_batch, process_job_id
from shared.jobs import context
from shared.jobs.context import job_session
from shared.jobs.handles import DELIVER_WEBHOOK, EVALUATE_KPIS
from shared.jobs.queue import JobNotFound
from shared.webhooks import events
from shared.webhooks.events import DELIVER_TIMEOUT_S, INLINE_DELIVERIES, delivery_job_id, emit
from shared.webhooks.models import EventType, WebhookDelivery
from tests.ingest_support import point, push, store_batch, wait_done
from tests.receiver import running_receiver
from tests.test_alerts_e2e import delivery_log, subscribe
from tests.test_evaluation_jobs import kpi_with_target
from tests.test_webhook_lifecycle import job_ctx, retry_waiting

YESTERDAY = (datetime.now(UTC) - timedelta(days=1)).date().isoformat()
# CPA = 200 / 10 = 20: past the critical level 15.
OFF_TRACK = [["spend", "200", YESTERDAY, {}, "snapshot"], ["conversions", "10", YESTERDAY, {}, "snapshot"]]


class SpyQueue:
    """The queue, noting every job enqueued through it (name, keyword arguments)."""

    def __init__(self, queue):
        self.queue, self.enqueued = queue, []

    async def enqueue(self, name, **kwargs):
        self.enqueued.append((name, kwargs))
        return await self.queue.enqueue(name, **kwargs)

    def names(self) -> list[str]:
        return sorted(name for name, _ in self.enqueued)


async def cpa(client, headers) -> str:
    return await kpi_with_target(
        client, headers, "CPA", "spend / conversions", "lower_is_better",
        target_value="10", warning="12", critical="15",
    )  # fmt: skip


async def evaluations_and_batch(state, batch_id) -> tuple[list[KpiEvaluation], IngestBatch]:
    """The evaluations ingestion made for the batch's organisation, oldest first, and the batch. (The scheduled
    evaluation, whose cron runs at every fifth minute of the clock in the suite's worker, may judge the same targets
    meanwhile: its evaluations are not the batch's.)"""
    async with job_session(job_ctx(state)) as session:
        batch = await session.get_one(IngestBatch, uuid.UUID(str(batch_id)))
        rows = await session.scalars(
            select(KpiEvaluation)
            .where(KpiEvaluation.org_id == batch.org_id, KpiEvaluation.trigger == EvaluationTrigger.ingest)
            .order_by(KpiEvaluation.evaluated_at)
        )
        return list(rows), batch


async def run_batch(state, spy: SpyQueue, batch_id) -> dict:
    """The ingest job, run here (so a test may patch what it calls); what it enqueues goes through `spy`."""
    return await process_batch({**job_ctx(state), "queue": spy, "job_try": 1}, batch_id=str(batch_id))


async def test_a_batch_that_flips_a_kpi_is_evaluated_and_sent_by_its_own_job(client, keys, state):
    admin, ingest = keys.headers("admin"), keys.headers("ingest")
    async with running_receiver() as receiver:
        endpoint = await subscribe(client, admin, receiver.url)
        kpi_id = await cpa(client, admin)
        r = await push(client, ingest, [point("spend", 200, YESTERDAY), point("conversions", 10, YESTERDAY)])
        assert r.status_code == 202, r.text
        batch_id = r.json()["batch_id"]
        assert (await wait_done(client, ingest, batch_id))["status"] == "done"

        # Evaluated in the merge's transaction: there as soon as the batch is done, and made before it was marked so.
        items = (await client.get(f"/v1/kpis/{kpi_id}/evaluations", headers=admin)).json()["items"]
        assert [(e["status"], e["transition_to"]) for e in items] == [("off_track", "off_track")]
        [evaluation], batch = await evaluations_and_batch(state, batch_id)
        assert batch.finished_at is not None and evaluation.evaluated_at <= batch.finished_at

        # The first attempt came from the ingest job itself, long before its fallback job's time.
        [request] = await receiver.wait_for(1, timeout_s=10)
        assert request.headers["webhook-id"].startswith("msg_")
        [attempt] = await delivery_log(client, admin, endpoint["id"], 1)
        assert (attempt["number"], attempt["outcome"], attempt["delivery_status"]) == (1, "delivered", "delivered")
        fallback = delivery_job_id(uuid.UUID(attempt["delivery_id"]), 1)
        assert await state.queue.waiting([fallback]) == {fallback}, "the fallback job waits its time"
        # The ingest job is over (its inline attempt and enqueues with it): no evaluation job was ever asked for.
        await state.queue.result(process_job_id(uuid.UUID(batch_id), 1), timeout_s=30)
        with pytest.raises(JobNotFound):
            await state.queue.result(f"eval:{batch_id}", timeout_s=5)

        # The fallback, when it runs (a job carrying attempt 1), sends nothing: the attempt is made.
        done = await DELIVER_WEBHOOK.run_and_wait(
            state.queue, timeout_s=20, delivery_id=attempt["delivery_id"], attempt=1
        )
        assert done["skipped"]
        # Nor while the delivery is pending again (as after an inline attempt that must be retried).
        await retry_waiting(state, attempt["delivery_id"])
        pending = await DELIVER_WEBHOOK.run_and_wait(
            state.queue, timeout_s=20, delivery_id=attempt["delivery_id"], attempt=1
        )
        assert pending["skipped"] and pending["superseded"]
        await asyncio.sleep(0.3)  # time enough for a second request, if one were coming
    assert len(receiver.requests) == 1, "exactly one webhook"


@pytest.mark.parametrize(
    ("kpis", "inline"), [(INLINE_EVALUATION_KPIS, True), (INLINE_EVALUATION_KPIS + 1, False)], ids=["at", "past"]
)
async def test_a_batch_changing_more_kpis_than_the_limit_is_evaluated_by_the_job(client, keys, state, kpis, inline):
    admin, ingest = keys.headers("admin"), keys.headers("ingest")
    for n in range(kpis):
        await kpi_with_target(client, admin, f"Leads {n}", "leads", "higher_is_better", target_value="100")
    r = await push(client, ingest, [point("leads", 150, YESTERDAY)])
    assert r.status_code == 202, r.text
    batch_id = r.json()["batch_id"]
    assert (await wait_done(client, ingest, batch_id))["status"] == "done"
    await state.queue.result(process_job_id(uuid.UUID(batch_id), 1), timeout_s=30)

    if inline:
        with pytest.raises(JobNotFound):
            await state.queue.result(f"eval:{batch_id}", timeout_s=5)
    else:
        result = await state.queue.result(f"eval:{batch_id}", timeout_s=30)
        assert result == {"evaluated": kpis, "transitions": kpis}
    evaluations, batch = await evaluations_and_batch(state, batch_id)
    assert len(evaluations) == kpis and {e.status.value for e in evaluations} == {"on_track"}
    before_done = [e.evaluated_at <= batch.finished_at for e in evaluations]
    assert before_done == [inline] * kpis


async def test_an_inline_evaluation_that_fails_falls_back_to_the_job(client, keys, state, org, monkeypatch):
    admin = keys.headers("admin")
    real = evaluate.evaluate_changed
    calls = []

    async def fails_once(session, settings, **kwargs):
        calls.append(kwargs)
        result = await real(session, settings, **kwargs)  # evaluations stored, the alert opened, its event emitted…
        if len(calls) == 1:
            raise ValueError("a defect in the evaluation")  # …and then it fails: none of it may remain
        return result

    monkeypatch.setattr(evaluate, "evaluate_changed", fails_once)
    async with running_receiver() as receiver:
        endpoint = await subscribe(client, admin, receiver.url)
        kpi_id = await cpa(client, admin)
        batch_id = await store_batch(state.db, org.id, OFF_TRACK)
        spy = SpyQueue(state.queue)
        assert (await run_batch(state, spy, batch_id))["points"] == 2
        # The merge committed; the evaluation was handed to its job, and no delivery of the rolled-back event left.
        assert spy.names() == ["budgets.check_overspend", "kpis.evaluate"]
        assert await state.queue.result(f"eval:{batch_id}", timeout_s=30) == {"evaluated": 1, "transitions": 1}
        [evaluation], batch = await evaluations_and_batch(state, batch_id)
        assert batch.status == BatchStatus.done and evaluation.evaluated_at > batch.finished_at
        alerts = (await client.get(f"/v1/alerts?kpi_id={kpi_id}", headers=admin)).json()["items"]
        assert [(a["status"], a["severity"]) for a in alerts] == [("open", "critical")]
        await receiver.wait_for(1)
        await delivery_log(client, admin, endpoint["id"], 1)
        await asyncio.sleep(0.3)
    assert len(receiver.requests) == 1, "one webhook: the failed evaluation's event went with it"


async def test_a_transient_fault_in_the_inline_evaluation_retries_the_whole_batch(
    client, keys, state, org, monkeypatch
):
    admin = keys.headers("admin")

    async def locked(session, settings, **kwargs):
        raise sqlite3.OperationalError("database is locked")  # SQLite's writer busy: transient on either backend

    async with running_receiver() as receiver:
        await subscribe(client, admin, receiver.url)
        await cpa(client, admin)
        batch_id = await store_batch(state.db, org.id, OFF_TRACK)
        spy = SpyQueue(state.queue)
        with monkeypatch.context() as patch:
            patch.setattr(evaluate, "evaluate_changed", locked)
            with pytest.raises(Retry):
                await run_batch(state, spy, batch_id)
        evaluations, batch = await evaluations_and_batch(state, batch_id)
        assert (batch.status, evaluations, spy.enqueued) == (BatchStatus.processing, [], []), "nothing committed"

        assert (await run_batch(state, spy, batch_id))["points"] == 2  # the retry, with the fault gone
        [evaluation], batch = await evaluations_and_batch(state, batch_id)
        assert batch.status == BatchStatus.done and evaluation.evaluated_at <= batch.finished_at
        assert "kpis.evaluate" not in spy.names()
        await receiver.wait_for(1)


async def test_a_worker_killed_between_commit_and_inline_delivery_is_covered_by_the_fallback(
    client, keys, state, org, monkeypatch
):
    admin = keys.headers("admin")
    skipped = []

    async def dies_first(ctx, job):
        skipped.append(job)  # the process is gone before it makes the attempt

    monkeypatch.setattr(context, "_run_inline", dies_first)
    monkeypatch.setattr(events, "DELIVER_TIMEOUT_S", 1.0)  # the fallback's delay, shortened from a claim's lease
    async with running_receiver() as receiver:
        endpoint = await subscribe(client, admin, receiver.url)
        await cpa(client, admin)
        batch_id = await store_batch(state.db, org.id, OFF_TRACK)
        spy = SpyQueue(state.queue)
        await run_batch(state, spy, batch_id)
        [job] = skipped
        assert (job.name, job.kwargs["attempt"]) == (DELIVER_WEBHOOK.name, 1)
        assert receiver.requests == [], "nothing sent before the fallback's time"

        await receiver.wait_for(1, timeout_s=20)
        result = await state.queue.result(job.job_id, timeout_s=20)
        assert (result["attempt"], result["outcome"]) == (1, "delivered")
        log = await delivery_log(client, admin, endpoint["id"], 1)
        await asyncio.sleep(0.3)
    assert [(a["number"], a["outcome"]) for a in log] == [(1, "delivered")]
    assert len(receiver.requests) == 1


async def test_a_job_makes_at_most_inline_deliveries_first_attempts_itself(client, keys, state, org):
    admin = keys.headers("admin")
    async with running_receiver() as receiver:
        for _ in range(INLINE_DELIVERIES + 2):
            await subscribe(client, admin, receiver.url)
        spy = SpyQueue(state.queue)
        async with job_session({**job_ctx(state), "queue": spy}, run_inline=True) as session:
            event = await emit(session, org_id=org.id, type_=EventType.ingest_batch_failed, data={"batch": {}})
        # The job's block is over: its inline attempts are made, the rest are their own jobs, enqueued at once.
        delays = sorted((kwargs["defer_s"] or 0) for name, kwargs in spy.enqueued if name == DELIVER_WEBHOOK.name)
        assert delays == [0] * 2 + [DELIVER_TIMEOUT_S] * INLINE_DELIVERIES
        assert len(receiver.requests) >= INLINE_DELIVERIES
        await receiver.wait_for(INLINE_DELIVERIES + 2)
        await asyncio.sleep(0.3)
    assert len(receiver.requests) == INLINE_DELIVERIES + 2, "each endpoint once"
    async with job_session(job_ctx(state)) as session:
        deliveries = (await session.scalars(select(WebhookDelivery).where(WebhookDelivery.event_id == event.id))).all()
    assert len(deliveries) == INLINE_DELIVERIES + 2


async def test_a_session_whose_owner_runs_nothing_inline_defers_deliveries_as_before(client, keys, state, org):
    """An API request's session (like a job's without `run_inline`): no request waits on a receiver."""
    admin = keys.headers("admin")
    async with running_receiver() as receiver:
        await subscribe(client, admin, receiver.url)
        spy = SpyQueue(state.queue)
        async with job_session({**job_ctx(state), "queue": spy}) as session:
            await emit(session, org_id=org.id, type_=EventType.ingest_batch_failed, data={"batch": {}})
            with pytest.raises(RuntimeError, match="runs no job inline"):
                EVALUATE_KPIS.defer_inline(session, org_id=str(org.id), kpi_ids=[])
        [(name, kwargs)] = spy.enqueued
        assert (name, kwargs["defer_s"]) == (DELIVER_WEBHOOK.name, None)
        await receiver.wait_for(1)  # sent by its own job
