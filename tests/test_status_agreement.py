"""One status everywhere: the scorecard, objective progress and the alerting job (its evaluation records and its
alerts) show the same status for a target, because every one of them is decided by `shared.kpis.judging.judge`.

The cases are where separate code paths used to disagree: the no-data policy `zero` (the job counted missing metrics
as 0, the reads did not) and a breach still pending confirmation (the job keeps the confirmed status and alerts
nobody; the reads showed the breach). A target's first status, while it waits to be confirmed, is shown as observed
everywhere (the job's record says so too) and alerts nobody. Through the API, on both backends (the real worker on
Postgres)."""

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete

from shared.alerts.models import KpiEvaluation
from shared.db.scoping import bind_org
from tests.kpi_support import put_daily
from tests.test_evaluation_jobs import evaluate, kpi_with_target
from tests.test_kpi_progress import link

TODAY = datetime.now(UTC).date()
START, END = TODAY - timedelta(days=10), TODAY + timedelta(days=19)


async def shown_statuses(client, headers, objective_id: str, kpi_ids: list[str]) -> dict[str, dict[str, str | None]]:
    """Each KPI's status as the scorecard, objective progress, the latest evaluation record and its alert show it."""
    scorecard = await client.get(f"/v1/reports/scorecard?from={START}&to={END}", headers=headers)
    assert scorecard.status_code == 200, scorecard.text
    rows = {row["kpi_id"]: row for group in scorecard.json()["groups"] for row in group["kpis"]}
    progress = await client.get(f"/v1/objectives/{objective_id}/progress", headers=headers)
    assert progress.status_code == 200, progress.text
    linked = {row["kpi_id"]: row for row in progress.json()["kpis"]}
    department = await client.get("/v1/reports/department", headers=headers)
    assert department.status_code == 200, department.text
    [reported] = [o for o in department.json()["objectives"] if o["id"] == objective_id]
    in_report = {row["kpi_id"]: row for row in reported["kpis"]}
    out = {}
    for kpi_id in kpi_ids:
        evaluations = (await client.get(f"/v1/kpis/{kpi_id}/evaluations", headers=headers)).json()["items"]
        latest = evaluations[-1] if evaluations else None
        alerts = (await client.get(f"/v1/alerts?kpi_id={kpi_id}&status=open", headers=headers)).json()["items"]
        out[kpi_id] = {
            "scorecard": rows[kpi_id]["status"],
            "objective progress": linked[kpi_id]["status"],
            "department report": in_report[kpi_id]["status"],
            "job record": (latest["status"] or latest["observed_status"]) if latest else None,
            "open alert": alerts[0]["severity"] if alerts else None,
        }
    return out


async def test_the_scorecard_objective_progress_and_the_alerting_job_show_one_status(client, keys, state, org):
    admin, viewer = keys.headers("admin"), keys.headers("viewer")
    objective = (await client.post("/v1/objectives", json={"statement": "Grow demand"}, headers=admin)).json()
    # Policy zero over two metrics, one without data: counted as 0, leads 50 + mql 0 is below the critical 80.
    zero = await kpi_with_target(
        client, admin, "Leads and MQLs", "leads + mql", "higher_is_better",
        target_value="100", warning="90", critical="80", no_data_policy="zero",
    )  # fmt: skip
    # A breach that must hold for three evaluations before it is the status.
    pending = await kpi_with_target(
        client, admin, "Spend", "spend", "lower_is_better",
        target_value="100", warning="100", critical="110", pending_evaluations=3,
    )  # fmt: skip
    # A first look that finds a breach, which must hold for two evaluations before it is the status.
    first = await kpi_with_target(
        client, admin, "Clicks", "clicks", "higher_is_better",
        target_value="100", warning="90", critical="80", pending_evaluations=2,
    )  # fmt: skip
    kpi_ids = [zero, pending, first]
    for kpi_id in kpi_ids:
        await link(state, org.id, objective["id"], uuid.UUID(kpi_id))
    await put_daily(state, org.id, "leads", TODAY - timedelta(days=1), [50])
    await put_daily(state, org.id, "spend", TODAY - timedelta(days=2), [50])
    await evaluate(state, org, zero, pending)
    await put_daily(state, org.id, "spend", TODAY - timedelta(days=1), [200])  # 250: past critical, once
    await put_daily(state, org.id, "clicks", TODAY - timedelta(days=1), [50])
    await evaluate(state, org, *kpi_ids)

    shown = await shown_statuses(client, viewer, objective["id"], kpi_ids)
    everywhere = ("scorecard", "objective progress", "department report", "job record")
    assert shown[zero] == {**dict.fromkeys(everywhere, "off_track"), "open alert": "critical"}
    assert shown[pending] == {**dict.fromkeys(everywhere, "on_track"), "open alert": None}, (
        "a breach seen once of the three it must hold is not the status anywhere yet"
    )
    assert shown[first] == {**dict.fromkeys(everywhere, "off_track"), "open alert": None}, (
        "a first status waiting to be confirmed is shown as observed, and alerts nobody yet"
    )
    summary = (await client.get("/v1/reports/department", headers=viewer)).json()["summary"]["kpis_by_status"]
    assert (summary["off_track"], summary["on_track"], summary["unconfirmed"]) == (1, 1, 1)

    # Without the job's records (a target the job has not recorded yet), the reads judge as the job would now.
    async with state.db.sessionmaker() as session:
        bind_org(session, org.id)
        await session.execute(delete(KpiEvaluation))
        await session.commit()
    shown = await shown_statuses(client, viewer, objective["id"], kpi_ids)
    reads = ("scorecard", "objective progress", "department report")
    assert {k: {v[read] for read in reads} for k, v in shown.items()} == {
        zero: {"off_track"},
        pending: {"on_track"},
        first: {"off_track"},
    }
    await evaluate(state, org, *kpi_ids)  # the job's next look agrees with what the reads showed
    shown = await shown_statuses(client, viewer, objective["id"], kpi_ids)
    assert [shown[k]["job record"] for k in kpi_ids] == ["off_track", "on_track", "off_track"]
    assert shown[first]["open alert"] == "critical", "confirmed on its second look: now it alerts"
