"""Scorecard and budget report: the numbers equal the evaluation records, CSV parses back, and the scorecard
costs the same number of SQL statements for 10 KPIs as for 1,000."""

import csv
import io
import uuid
from datetime import UTC, date, datetime
from decimal import Decimal

from sqlalchemy import insert

from shared.alerts.models import KpiEvaluation
from shared.db.base import uuid7
from shared.db.scoping import bind_org
from shared.kpis.models import Kpi, KpiMetric, KpiTarget
from tests.kpi_support import put_daily


async def bulk_kpis(state, org_id, count: int, *, category="output", prefix="K") -> list[tuple[uuid.UUID, uuid.UUID]]:
    """`count` KPIs reading leads, each with a 2026-11 target, in three bulk INSERTs."""
    kpis = [
        {
            "id": uuid7(),
            "org_id": org_id,
            "name": f"{prefix}{i:04d}",
            "category": category,
            "kind": "quantitative",
            "formula": "leads",
            "unit": "count",
            "direction": "higher_is_better",
            "frequency": "monthly",
            "dimension_filter": {},
            "version": 1,
        }
        for i in range(count)
    ]
    targets = [
        {
            "id": uuid7(),
            "org_id": org_id,
            "kpi_id": k["id"],
            "period_kind": "month",
            "period_label": "2026-11",
            "start_date": date(2026, 11, 1),
            "end_date": date(2026, 11, 30),
            "target_value": Decimal(100 + i),
            "threshold_mode": "percent",
            "pacing": "linear",
            "pending_evaluations": 1,
            "recovery_margin_pct": Decimal(0),
            "no_data_policy": "no_data",
        }
        for i, k in enumerate(kpis)
    ]
    async with state.db.sessionmaker() as session:
        bind_org(session, org_id)
        await session.execute(insert(Kpi), kpis)
        await session.execute(
            insert(KpiMetric), [{"org_id": org_id, "kpi_id": k["id"], "metric_key": "leads"} for k in kpis]
        )
        await session.execute(insert(KpiTarget), targets)
        await session.commit()
    return [(k["id"], t["id"]) for k, t in zip(kpis, targets, strict=True)]


async def record_evaluation(state, org_id, kpi_id, target_id, **numbers):
    async with state.db.sessionmaker() as session:
        bind_org(session, org_id)
        session.add(
            KpiEvaluation(
                kpi_id=kpi_id,
                target_id=target_id,
                evaluated_at=datetime.now(UTC),
                as_of=date(2026, 11, 20),
                window_start=date(2026, 11, 1),
                window_end=date(2026, 11, 20),
                reason="test",
                trigger="schedule",
                observed_status="at_risk",
                **numbers,
            )
        )
        await session.commit()


async def test_scorecard_groups_kpis_and_shows_the_evaluation_records(client, keys, state, org):
    [(leads, leads_target)] = await bulk_kpis(state, org.id, 1, category="output", prefix="Leads")
    [(spend, _)] = await bulk_kpis(state, org.id, 1, category="input", prefix="Spend")
    await record_evaluation(
        state,
        org.id,
        leads,
        leads_target,
        value=Decimal("55"),
        expected_to_date=Decimal("66.67"),
        forecast=Decimal("82.5"),
        attainment_pct=Decimal("82.5"),
        status="at_risk",
        provisional=True,
    )
    await put_daily(state, org.id, "leads", date(2026, 10, 5), [40])  # the previous period (October)
    body = (await client.get("/v1/reports/scorecard?period=2026-11", headers=keys.headers("viewer"))).json()
    assert [g["category"] for g in body["groups"]] == ["input", "output", "impact"]
    [row] = body["groups"][1]["kpis"]
    assert (row["kpi_id"], row["value"], row["expected_to_date"], row["attainment_pct"], row["status"]) == (
        str(leads),
        "55",
        "66.67",
        "82.5",
        "at_risk",
    )
    assert row["provisional"] is True and row["previous_value"] == "40" and row["change_pct"] == "37.5"
    [unevaluated] = body["groups"][0]["kpis"]
    assert unevaluated["kpi_id"] == str(spend) and unevaluated["evaluated_at"] is None

    only_output = (
        await client.get("/v1/reports/scorecard?period=2026-11&category=output", headers=keys.headers("viewer"))
    ).json()
    assert [len(g["kpis"]) for g in only_output["groups"]] == [0, 1, 0]
    at_risk = (
        await client.get("/v1/reports/scorecard?period=2026-11&status=at_risk", headers=keys.headers("viewer"))
    ).json()
    assert [r["kpi_id"] for g in at_risk["groups"] for r in g["kpis"]] == [str(leads)]


async def test_scorecard_csv_parses_back_to_the_same_values(client, keys, state, org):
    [(kpi, target)] = await bulk_kpis(state, org.id, 1, prefix='Leads, "paid"')
    await record_evaluation(
        state, org.id, kpi, target, value=Decimal("12.5"), attainment_pct=Decimal("41.7"), status="off_track"
    )
    r = await client.get(
        "/v1/reports/scorecard?period=2026-11", headers={**keys.headers("viewer"), "Accept": "text/csv"}
    )
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    [row] = list(csv.DictReader(io.StringIO(r.text)))
    assert row["name"] == 'Leads, "paid"0000' and row["value"] == "12.5" and row["attainment_pct"] == "41.7"
    assert row["status"] == "off_track" and row["category"] == "output" and row["target_value"] == "100"


async def test_scorecard_costs_the_same_statements_for_10_and_1000_kpis(
    client, keys, state, org, other_org, count_queries
):
    await bulk_kpis(state, org.id, 10)
    await bulk_kpis(state, other_org.id, 1000)
    viewer_b = {"Authorization": f"Bearer {other_org.admin_key}"}
    with count_queries as small:
        r10 = await client.get("/v1/reports/scorecard?period=2026-11", headers=keys.headers("viewer"))
    with count_queries as large:
        r1000 = await client.get("/v1/reports/scorecard?period=2026-11", headers=viewer_b)
    assert sum(len(g["kpis"]) for g in r10.json()["groups"]) == 10
    assert sum(len(g["kpis"]) for g in r1000.json()["groups"]) == 1000
    assert small.count == large.count


async def test_budget_report_adds_pacing_and_csv(client, keys):
    h = keys.headers("editor")
    plan = (await client.post("/v1/plans", json={"name": "Nov", "period_label": "2026-11"}, headers=h)).json()
    await client.put(f"/v1/plans/{plan['id']}/budget", json={"total": "1000", "currency": "EUR"}, headers=h)
    await client.post(
        f"/v1/plans/{plan['id']}/budget/lines",
        json={"channel": "meta", "planned_amount": "600", "actual_amount": "450"},
        headers=h,
    )
    body = (await client.get(f"/v1/reports/budget?plan_id={plan['id']}", headers=keys.headers("viewer"))).json()
    assert (body["totals"]["planned"], body["totals"]["actual"], body["spent_share"]) == ("600.00", "450.00", "0.4500")
    assert Decimal(body["pacing"]) == Decimal(body["spent_share"]) - Decimal(body["elapsed_share"])
    r = await client.get(
        f"/v1/reports/budget?plan_id={plan['id']}", headers={**keys.headers("viewer"), "Accept": "text/csv"}
    )
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert rows[-1]["line_id"] == "total" and rows[-1]["variance"] == "150"
