"""The evaluation job end to end: a KPI's data in the database, the job (the real worker on Postgres), and what
a user then sees in its evaluations, its alerts and the webhooks. Dates are relative to today."""

import asyncio
import json
import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import event, func, select, update

from shared.alerts.evaluate import evaluate_kpis, run_evaluations
from shared.alerts.models import EvaluationTrigger, KpiTargetState
from shared.db.scoping import allow_all_orgs
from shared.jobs.handles import EVALUATE_KPIS
from shared.kpis import compute
from shared.kpis.models import Kpi, KpiTarget
from shared.metrics.models import MetricSource
from shared.webhooks.models import EventType, WebhookDelivery, WebhookEvent
from tests.kpi_support import put_daily
from tests.receiver import running_receiver

TODAY = datetime.now(UTC).date()
START, END = TODAY - timedelta(days=10), TODAY + timedelta(days=19)
YESTERDAY = TODAY - timedelta(days=1)


async def kpi_with_target(client, headers, name: str, formula: str, direction: str, **target) -> str:
    kpi = await client.post(
        "/v1/kpis",
        json={"name": name, "category": "output", "formula": formula, "unit": "count", "direction": direction},
        headers=headers,
    )
    assert kpi.status_code == 201, kpi.text
    body = {"start_date": str(START), "end_date": str(END), "pacing": "none", "threshold_mode": "absolute", **target}
    created = await client.post(f"/v1/kpis/{kpi.json()['id']}/targets", json=body, headers=headers)
    assert created.status_code == 201, created.text
    return kpi.json()["id"]


async def evaluate(state, org, *kpi_ids: str) -> dict:
    """The evaluation job, through the queue: in-process on SQLite, the arq worker process on Postgres."""
    return await EVALUATE_KPIS.run_and_wait(
        state.queue, timeout_s=30, org_id=str(org.id), kpi_ids=list(kpi_ids), trigger="schedule"
    )


async def evaluations(client, headers, kpi_id: str, at_least: int = 1, timeout_s: float = 20) -> list[dict]:
    """The KPI's evaluations, oldest first, once there are at least `at_least` (a deferred job may still run)."""
    deadline = time.monotonic() + timeout_s
    while True:
        items = (await client.get(f"/v1/kpis/{kpi_id}/evaluations", headers=headers)).json()["items"]
        if len(items) >= at_least or time.monotonic() > deadline:
            assert len(items) >= at_least, f"expected {at_least} evaluations, got {items}"
            return items
        await asyncio.sleep(0.05)


async def alerts_of(client, headers, kpi_id: str) -> list[dict]:
    return (await client.get(f"/v1/alerts?kpi_id={kpi_id}", headers=headers)).json()["items"]


# --- no-data policy zero --------------------------------------------------------------------------------


async def test_policy_zero_never_makes_an_undefined_cpa_look_on_track(client, keys, state, org):
    admin, viewer = keys.headers("admin"), keys.headers("viewer")
    cpa = await kpi_with_target(
        client, admin, "CPA", "spend / conversions", "lower_is_better",
        target_value="10", warning="12", critical="15", no_data_policy="zero",
    )  # fmt: skip
    # Spend but no conversions: even with conversions counted as 0, spend ÷ 0 has no value.
    await put_daily(state, org.id, "spend", YESTERDAY, [200])
    await evaluate(state, org, cpa)
    [ev] = await evaluations(client, viewer, cpa)
    assert (ev["value"], ev["observed_status"], ev["status"]) == (None, "no_data", "no_data")
    assert await alerts_of(client, viewer, cpa) == [], "a new target waiting for data alerts nobody"


async def test_policy_zero_counts_leads_without_data_as_0_and_alerts(client, keys, state, org):
    admin, viewer = keys.headers("admin"), keys.headers("viewer")
    leads = await kpi_with_target(
        client, admin, "Leads", "leads", "higher_is_better", target_value="100", no_data_policy="zero"
    )
    await evaluate(state, org, leads)
    [ev] = await evaluations(client, viewer, leads)
    assert (ev["value"], ev["observed_status"], ev["status"], ev["transition_to"]) == (
        "0",
        "off_track",
        "off_track",
        "off_track",
    )
    assert ev["transition_reason"] == "Leads 0 is below the critical level 90 (missing data counted as 0)"
    assert [(a["status"], a["severity"]) for a in await alerts_of(client, viewer, leads)] == [("open", "critical")]


# --- numbers too large for the evaluation columns -------------------------------------------------------


async def test_a_value_too_large_to_store_does_not_stop_the_other_targets(client, keys, state, org):
    admin, viewer = keys.headers("admin"), keys.headers("viewer")
    weighted = "leads * 1000000000000"  # 10^6 leads × 10^12 = 10^18: past Numeric(24, 8)
    high = await kpi_with_target(client, admin, "Weighted leads", weighted, "higher_is_better", target_value="100")
    low = await kpi_with_target(client, admin, "Weighted cost", weighted, "lower_is_better", target_value="100")
    tiny = await kpi_with_target(  # 10^6 clicks against a target of 10^-8: attainment 10^16 %
        client, admin, "Clicks", "clicks", "higher_is_better", target_value="0.00000001"
    )
    plain = await kpi_with_target(client, admin, "Spend", "spend", "higher_is_better", target_value="100")
    await put_daily(state, org.id, "leads", YESTERDAY, [1_000_000])
    await put_daily(state, org.id, "clicks", YESTERDAY, [1_000_000])
    await put_daily(state, org.id, "spend", YESTERDAY, [150])

    assert (await evaluate(state, org, high, low, tiny, plain))["evaluated"] == 4

    # Statuses are decided on the real value (10^18), only the stored numbers are left out.
    [ev] = await evaluations(client, viewer, high)
    assert (ev["value"], ev["forecast"], ev["attainment_pct"], ev["status"]) == (None, None, None, "on_track")
    assert ev["reason"].endswith("; value, forecast, attainment_pct out of the storable range (±1e16), not stored")
    [ev] = await evaluations(client, viewer, low)
    assert (ev["value"], ev["forecast"], ev["status"]) == (None, None, "off_track")
    [alert] = await alerts_of(client, viewer, low)
    assert (alert["severity"], alert["last_value"]) == ("critical", None)

    [ev] = await evaluations(client, viewer, tiny)
    assert (ev["value"], ev["attainment_pct"], ev["status"]) == ("1000000", None, "on_track")
    assert ev["reason"].endswith("; attainment_pct out of the storable range (±1e16), not stored")

    [ev] = await evaluations(client, viewer, plain)
    assert (ev["value"], ev["attainment_pct"], ev["status"]) == ("150", "150", "on_track")


# --- escalation of an acknowledged alert ----------------------------------------------------------------


async def test_an_acknowledged_alert_that_escalates_is_open_again_and_announced(client, keys, state, org):
    admin, editor, viewer = keys.headers("admin"), keys.headers("editor"), keys.headers("viewer")
    async with running_receiver() as receiver:
        r = await client.post("/v1/webhook-endpoints", json={"url": receiver.url}, headers=admin)
        assert r.status_code == 201, r.text
        spend = await kpi_with_target(
            client, admin, "Spend", "spend", "lower_is_better", target_value="1000", warning="1100", critical="1250"
        )
        await put_daily(state, org.id, "spend", YESTERDAY - timedelta(days=1), [1150])
        await evaluate(state, org, spend)
        [at_risk] = await receiver.wait_for(1)
        [alert] = await alerts_of(client, viewer, spend)
        assert alert["severity"] == "warning"
        acked = await client.post(f"/v1/alerts/{alert['id']}/ack", headers=editor)
        assert acked.status_code == 200 and acked.json()["status"] == "acknowledged", acked.text

        await put_daily(state, org.id, "spend", YESTERDAY, [200])  # 1,350: past the critical level
        await evaluate(state, org, spend)
        _, critical = await receiver.wait_for(2)

    payloads = [json.loads(at_risk.body), json.loads(critical.body)]
    assert [p["type"] for p in payloads] == ["kpi.at_risk", "kpi.off_track"]
    assert payloads[1]["data"]["alert"] == {"id": alert["id"], "status": "open", "severity": "critical"}
    [after] = await alerts_of(client, viewer, spend)
    assert (after["status"], after["severity"]) == ("open", "critical")
    assert (after["acknowledged_at"], after["acknowledged_by_key_id"]) == (None, None)
    assert after["escalated_at"] is not None


# --- a KPI's new definition -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "value"),
    [({"formula": "clicks - 100"}, "50"), ({"dimension_filter": {"channel": "search"}}, "30")],
    ids=["formula", "dimension filter"],
)
async def test_a_new_formula_or_filter_restarts_the_kpis_evaluation(client, keys, state, org, change, value):
    admin, viewer = keys.headers("admin"), keys.headers("viewer")
    clicks = await kpi_with_target(client, admin, "Clicks", "clicks", "higher_is_better", target_value="100")
    await put_daily(state, org.id, "clicks", YESTERDAY, [30], {"channel": "search"})
    await put_daily(state, org.id, "clicks", YESTERDAY, [120], {"channel": "social"})
    await evaluate(state, org, clicks)
    [first] = await evaluations(client, viewer, clicks)
    assert (first["value"], first["status"]) == ("150", "on_track")

    # A change that keeps what the KPI measures evaluates nothing.
    r = await client.patch(f"/v1/kpis/{clicks}", json={"description": "All clicks"}, headers=admin)
    assert r.status_code == 200, r.text

    r = await client.patch(f"/v1/kpis/{clicks}", json=change, headers=admin)
    assert r.status_code == 200, r.text
    _, again = await evaluations(client, viewer, clicks, at_least=2)
    assert (again["value"], again["trigger"]) == (value, "target_change")
    # From a clean state: a first evaluation, not a change from the old formula's on_track.
    assert (again["transition_from"], again["transition_to"]) == (None, "off_track")
    assert [(a["status"], a["severity"]) for a in await alerts_of(client, viewer, clicks)] == [("open", "critical")]
    assert len(await evaluations(client, viewer, clicks)) == 2, "the description change evaluated nothing"


# --- two workers at once --------------------------------------------------------------------------------


@pytest.mark.postgres_only  # row locks and concurrent transactions
@pytest.mark.parametrize("round_", range(3))
async def test_two_evaluations_at_once_fire_one_alert_and_one_webhook(client, keys, state, org, round_):
    admin, viewer = keys.headers("admin"), keys.headers("viewer")
    spend = await kpi_with_target(
        client, admin, "Spend", "spend", "lower_is_better", target_value="1000", warning="1100", critical="1250"
    )
    await put_daily(state, org.id, "spend", YESTERDAY - timedelta(days=1), [500])
    await evaluate(state, org, spend)  # on track: the target's state row exists from now on
    await put_daily(state, org.id, "spend", YESTERDAY, [1000])  # 1,500: off track

    async with running_receiver() as receiver:
        endpoint = await client.post("/v1/webhook-endpoints", json={"url": receiver.url}, headers=admin)
        assert endpoint.status_code == 201, endpoint.text
        # Two workers pick up an evaluation of the same KPI at the same moment (two sessions, two transactions).
        ctx = {"db": state.db, "queue": state.queue, "settings": state.settings}
        kwargs = {"org_id": str(org.id), "kpi_ids": [spend], "trigger": "ingest"}
        results = await asyncio.gather(evaluate_kpis(ctx, **kwargs), evaluate_kpis(ctx, **kwargs))
        [off] = await receiver.wait_for(1)
    assert json.loads(off.body)["type"] == "kpi.off_track"
    assert [r["evaluated"] for r in results] == [1, 1]
    assert sorted(r["transitions"] for r in results) == [0, 1], "the second saw the first's transition"

    assert [(a["status"], a["severity"]) for a in await alerts_of(client, viewer, spend)] == [("open", "critical")]
    async with state.db.sessionmaker() as session:
        allow_all_orgs(session)
        events = await session.scalar(
            select(func.count(WebhookEvent.id)).where(
                WebhookEvent.org_id == org.id, WebhookEvent.type == EventType.kpi_off_track
            )
        )
        deliveries = await session.scalar(
            select(func.count(WebhookDelivery.id)).where(WebhookDelivery.endpoint_id == endpoint.json()["id"])
        )
    assert (events, deliveries) == (1, 1)


# --- the scheduled run, one organisation at a time ------------------------------------------------------


@pytest.mark.parametrize("chunk", [1, 2000], ids=["an organisation a chunk", "one chunk retried one by one"])
async def test_the_scheduled_run_survives_one_organisation_failing(
    client, keys, state, org, other_org, monkeypatch, chunk
):
    from shared.alerts import evaluate as evaluation

    monkeypatch.setattr(evaluation, "SCHEDULE_CHUNK_TARGETS", chunk)

    ours = await kpi_with_target(client, keys.headers("admin"), "Leads", "leads", "higher_is_better", target_value="9")
    theirs = await kpi_with_target(client, other_org.headers, "Leads", "leads", "higher_is_better", target_value="9")
    for handle in (org, other_org):
        await put_daily(state, handle.id, "leads", YESTERDAY, [10])
    run_evaluations = evaluation.run_evaluations

    async def failing_for_the_other_org(session, settings, pairs, trigger, **kwargs):
        if any(kpi.org_id == other_org.id for kpi, _ in pairs):
            raise RuntimeError("this organisation's evaluation breaks")
        return await run_evaluations(session, settings, pairs, trigger, **kwargs)

    monkeypatch.setattr(evaluation, "run_evaluations", failing_for_the_other_org)
    assert await evaluation.evaluate_active({"db": state.db, "queue": state.queue, "settings": state.settings}) >= 1
    [ev] = await evaluations(client, keys.headers("viewer"), ours)
    assert (ev["trigger"], ev["value"], ev["status"]) == ("schedule", "10", "on_track")
    assert (await client.get(f"/v1/kpis/{theirs}/evaluations", headers=other_org.headers)).json()["items"] == []


def test_schedule_chunks_keep_organisations_whole():
    from shared.alerts.evaluate import schedule_chunks

    a, b, c, d = sorted(uuid.uuid4() for _ in range(4))
    assert schedule_chunks({a: 3, b: 2, c: 9, d: 1}, limit=5) == [[a, b], [c], [d]]
    assert schedule_chunks({}, limit=5) == []


async def test_the_schedule_judges_again_only_what_may_have_moved(client, keys, state, org):
    """Judged once; judged again only when its data moved, the day changed, or a new status is being confirmed."""
    from shared.alerts import evaluate as evaluation

    admin, viewer = keys.headers("admin"), keys.headers("viewer")
    ctx = {"db": state.db, "queue": state.queue, "settings": state.settings}
    steady = await kpi_with_target(client, admin, "Leads", "leads", "higher_is_better", target_value="9")
    # Two evaluations must agree before this one's off-track status is confirmed.
    confirming = await kpi_with_target(
        client, admin, "Clicks", "clicks", "higher_is_better", target_value="100", pending_evaluations=2
    )
    await put_daily(state, org.id, "leads", YESTERDAY, [10])
    await put_daily(state, org.id, "clicks", YESTERDAY, [1])

    async def judged() -> tuple[int, int]:
        """Run the schedule (every organisation the suite created); how many times each of ours is judged."""
        await evaluation.evaluate_active(ctx)
        steady_n = len(await evaluations(client, viewer, steady, at_least=0, timeout_s=0))
        return steady_n, len(await evaluations(client, viewer, confirming, at_least=0, timeout_s=0))

    assert await judged() == (1, 1)
    [first] = await evaluations(client, viewer, confirming)
    assert (first["observed_status"], first["status"]) == ("off_track", None)
    # Nothing moved for the steady one; the other's off-track status is still being confirmed.
    assert await judged() == (1, 2)
    assert (await evaluations(client, viewer, confirming, at_least=2))[-1]["status"] == "off_track"
    assert await judged() == (1, 2)

    # Its data merged since it was judged (a merge whose own evaluation did not happen): judged again.
    async with state.db.sessionmaker() as session:
        allow_all_orgs(session)
        session.add(
            MetricSource(
                org_id=org.id, metric_key="leads", source="api", last_day=YESTERDAY, updated_at=datetime.now(UTC)
            )
        )
        await session.commit()
    assert await judged() == (2, 2)

    # A new day: pacing and the window move with it, so every target is judged again.
    async with state.db.sessionmaker() as session:
        allow_all_orgs(session)
        await session.execute(
            update(KpiTargetState)
            .where(KpiTargetState.org_id == org.id)
            .values(last_evaluated_at=datetime.now(UTC) - timedelta(days=1))
        )
        await session.commit()
    assert await judged() == (3, 3)
    assert await judged() == (3, 3)


# --- the cost of a run ----------------------------------------------------------------------------------


async def test_a_run_reads_the_endpoints_once_and_parses_each_formula_once(client, keys, state, org, monkeypatch):
    admin, viewer = keys.headers("admin"), keys.headers("viewer")
    async with running_receiver() as receiver:
        for _ in range(2):
            r = await client.post("/v1/webhook-endpoints", json={"url": receiver.url}, headers=admin)
            assert r.status_code == 201, r.text
        kpi_ids = [
            await kpi_with_target(client, admin, f"Leads {i}", "leads", "higher_is_better", target_value="100")
            for i in range(3)
        ]
        assert [await evaluations(client, viewer, k, at_least=0, timeout_s=0) for k in kpi_ids] == [[]] * 3
        await put_daily(state, org.id, "leads", YESTERDAY, [10])
        parsed: list[str] = []
        parse = compute.parse_formula
        monkeypatch.setattr(compute, "parse_formula", lambda text: parsed.append(text) or parse(text))
        statements: list[str] = []

        def seen(_conn, _cursor, statement, *_args) -> None:
            statements.append(statement)

        engine = state.db.engine.sync_engine
        event.listen(engine, "before_cursor_execute", seen)
        try:
            async with state.db.sessionmaker() as session:
                allow_all_orgs(session)
                pairs = (
                    await session.execute(
                        select(Kpi, KpiTarget).join(KpiTarget, KpiTarget.kpi_id == Kpi.id).where(Kpi.org_id == org.id)
                    )
                ).all()
                result = await run_evaluations(
                    session, state.settings, [(k, t) for k, t in pairs], EvaluationTrigger.schedule
                )
                await session.rollback()
        finally:
            event.remove(engine, "before_cursor_execute", seen)
    assert result == {"evaluated": 3, "transitions": 3}  # three alerts, each announced to both endpoints
    assert sum("FROM webhook_endpoints" in s for s in statements) == 1
    assert parsed == ["leads"] * 3, "each KPI's formula parsed once in the run"
