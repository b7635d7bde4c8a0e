"""Scorecard and budget report: the numbers equal the evaluation records, CSV parses back, and the scorecard
costs the same number of SQL statements for 10 KPIs as for 1,000."""

import csv
import io
import uuid
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from sqlalchemy import insert

from services.api.reports.scorecard import previous_window
from shared.alerts.models import KpiEvaluation
from shared.db.base import uuid7
from shared.db.scoping import bind_org
from shared.kpis.models import Kpi, KpiMetric, KpiTarget
from shared.periods import parse_period
from tests.kpi_support import make_kpi, put_daily


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


async def record_evaluation(
    state, org_id, kpi_id, target_id, *, window=(date(2026, 11, 1), date(2026, 11, 20)), **numbers
):
    async with state.db.sessionmaker() as session:
        bind_org(session, org_id)
        session.add(
            KpiEvaluation(
                kpi_id=kpi_id,
                target_id=target_id,
                evaluated_at=datetime.now(UTC),
                as_of=window[1],
                window_start=window[0],
                window_end=window[1],
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
    assert rows[-1]["row_type"] == "total" and rows[-1]["variance"] == "150"


async def leads_target(
    state, org_id, name: str, start: date, end: date, label: str | None
) -> tuple[uuid.UUID, uuid.UUID]:
    """A KPI summing leads with one target over these dates (`label` None: custom dates)."""
    kpi_id = await make_kpi(state, org_id, name=name)
    async with state.db.sessionmaker() as session:
        bind_org(session, org_id)
        target = KpiTarget(
            kpi_id=kpi_id,
            period_kind="custom" if label is None else parse_period(label).kind,
            period_label=label,
            start_date=start,
            end_date=end,
            target_value=Decimal(100),
            threshold_mode="percent",
            pacing="linear",
        )
        session.add(target)
        await session.commit()
        return kpi_id, target.id


async def scorecard_rows(client, keys, query: str) -> dict[str, dict]:
    r = await client.get(f"/v1/reports/scorecard?{query}", headers=keys.headers("viewer"))
    assert r.status_code == 200, r.text
    return {row["name"]: row for g in r.json()["groups"] for row in g["kpis"]}


async def test_a_months_previous_value_is_the_previous_calendar_month(client, keys, state, org):
    """March compares with 1-28 February, not with the 31 days before 1 March (29 January - 28 February)."""
    await leads_target(state, org.id, "Labelled", date(2026, 3, 1), date(2026, 3, 31), "2026-03")
    await leads_target(state, org.id, "Same dates, no label", date(2026, 3, 1), date(2026, 3, 31), None)
    await put_daily(state, org.id, "leads", date(2026, 1, 30), [1000])
    await put_daily(state, org.id, "leads", date(2026, 2, 1), [10])
    await put_daily(state, org.id, "leads", date(2026, 2, 28), [5, 30])  # 28 February, 1 March
    rows = await scorecard_rows(client, keys, "period=2026-03")
    for name in ("Labelled", "Same dates, no label"):
        row = rows[name]
        assert (row["value"], row["previous_value"], row["change_pct"]) == ("30", "15", "100"), name
        assert (row["previous_from"], row["previous_to"]) == ("2026-02-01", "2026-02-28"), name


async def test_a_30_day_month_compares_with_all_31_days_of_the_month_before(client, keys, state, org):
    await leads_target(state, org.id, "April", date(2024, 4, 1), date(2024, 4, 30), "2024-04")
    await put_daily(state, org.id, "leads", date(2024, 2, 29), [1000, 1, None])  # 29 Feb, 1 and 2 March
    await put_daily(state, org.id, "leads", date(2024, 3, 31), [2, 8])  # 31 March, 1 April
    row = (await scorecard_rows(client, keys, "period=2024-04"))["April"]
    assert (row["value"], row["previous_value"], row["change_pct"]) == ("8", "3", "166.67")
    assert (row["previous_from"], row["previous_to"]) == ("2024-03-01", "2024-03-31")


async def test_a_quarter_target_to_date_compares_with_as_many_days_of_the_quarter_before(client, keys, state, org):
    """A Q4 target in the November scorecard: its value is 1 October - 20 November (the evaluation's window), so
    the previous value is 1 July - 20 August, not November's length before November nor all of Q3."""
    kpi_id, target_id = await leads_target(state, org.id, "Q4", date(2026, 10, 1), date(2026, 12, 31), "2026-Q4")
    await record_evaluation(
        state, org.id, kpi_id, target_id, window=(date(2026, 10, 1), date(2026, 11, 20)), value=Decimal(20)
    )
    await put_daily(state, org.id, "leads", date(2026, 6, 30), [1000, 7])  # 30 June, 1 July
    await put_daily(state, org.id, "leads", date(2026, 8, 20), [3, 1000])  # 20, 21 August
    await put_daily(state, org.id, "leads", date(2026, 10, 15), [1000])
    row = (await scorecard_rows(client, keys, "period=2026-11"))["Q4"]
    assert (row["value"], row["previous_value"], row["change_pct"]) == ("20", "10", "100")
    assert (row["previous_from"], row["previous_to"]) == ("2026-07-01", "2026-08-20")


async def test_a_target_on_custom_dates_compares_with_the_same_days_just_before(client, keys, state, org):
    kpi_id, target_id = await leads_target(state, org.id, "Sprint", date(2026, 11, 10), date(2026, 11, 19), None)
    await record_evaluation(
        state, org.id, kpi_id, target_id, window=(date(2026, 11, 10), date(2026, 11, 14)), value=Decimal(4)
    )
    await put_daily(state, org.id, "leads", date(2026, 10, 30), [1000, 2, None, None, None, 3, 1000])
    row = (await scorecard_rows(client, keys, "from=2026-11-10&to=2026-11-19"))["Sprint"]
    assert row["previous_value"] == "5", "31 October - 4 November, as many days as the value's 10-14 November"
    assert (row["previous_from"], row["previous_to"]) == ("2026-10-31", "2026-11-04")


@pytest.mark.parametrize(
    ("target", "label", "window", "expected"),
    [
        # the whole period: the whole previous calendar period
        ((date(2026, 3, 1), date(2026, 3, 31)), "2026-03", None, (date(2026, 2, 1), date(2026, 2, 28))),
        ((date(2026, 4, 1), date(2026, 4, 30)), "2026-04", None, (date(2026, 3, 1), date(2026, 3, 31))),
        ((date(2026, 1, 1), date(2026, 3, 31)), "2026-Q1", None, (date(2025, 10, 1), date(2025, 12, 31))),
        ((date(2026, 1, 1), date(2026, 12, 31)), "2026", None, (date(2025, 1, 1), date(2025, 12, 31))),
        ((date(2026, 1, 5), date(2026, 1, 11)), "2026-W02", None, (date(2025, 12, 29), date(2026, 1, 4))),
        ((date(2026, 7, 1), date(2026, 12, 31)), "2026-H2", None, (date(2026, 1, 1), date(2026, 6, 30))),
        # to date: as many days from the previous period's start, cut at its end
        (
            (date(2026, 3, 1), date(2026, 3, 31)),
            "2026-03",
            (date(2026, 3, 1), date(2026, 3, 20)),
            (date(2026, 2, 1), date(2026, 2, 20)),
        ),
        (
            (date(2026, 3, 1), date(2026, 3, 31)),
            "2026-03",
            (date(2026, 3, 1), date(2026, 3, 30)),
            (date(2026, 2, 1), date(2026, 2, 28)),
        ),
        # custom dates that are a calendar month count as that month; others: the same days just before
        ((date(2026, 3, 1), date(2026, 3, 31)), None, None, (date(2026, 2, 1), date(2026, 2, 28))),
        ((date(2026, 3, 5), date(2026, 3, 14)), None, None, (date(2026, 2, 23), date(2026, 3, 4))),
        (
            (date(2026, 3, 5), date(2026, 3, 14)),
            None,
            (date(2026, 3, 5), date(2026, 3, 6)),
            (date(2026, 2, 23), date(2026, 2, 24)),
        ),
        # nothing before the first year periods cover
        ((date(1900, 1, 1), date(1900, 1, 31)), "1900-01", None, None),
    ],
)
def test_previous_window(target, label, window, expected):
    # `label` only names the case: the period is read off the target's dates, which a label fixes anyway.
    assert previous_window(*target, *(window or target)) == expected


@pytest.mark.parametrize("query", ["period=year", "period=2026-13", "period=2026-Q5", "from=2026-11-01", ""])
async def test_a_scorecard_without_a_usable_period_is_a_422_naming_the_accepted_forms(client, keys, query):
    r = await client.get(f"/v1/reports/scorecard?{query}", headers=keys.headers("viewer"))
    assert r.status_code == 422 and r.headers["content-type"].startswith("application/problem+json")
    detail = r.json()["detail"]
    for form in ("2026-11", "2026-Q4", "(2026)", "from", "to"):
        assert form in detail, (form, detail)
