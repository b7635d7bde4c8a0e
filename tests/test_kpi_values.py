"""KPI values over windows from the daily roll-ups, for every aggregation, across dimension sets and filters:
the numbers the evaluation, the reports and the dashboard's charts all read (`shared.kpis.compute`)."""

import json
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import insert, select

from shared.db.scoping import bind_org
from shared.kpis.compute import Window, kpi_values, to_date_series
from shared.kpis.models import Kpi, KpiTarget, MetricDaily
from tests.kpi_support import make_kpi

D1 = date(2026, 10, 1)
# Two campaigns, three days; b reports an hour later than a each day and has no row on day 3.
SERIES = {"a": [4, 10, 6], "b": [8, 2, None]}
HOUR = {"a": 12, "b": 13}

# window (first day, last day) -> expected per aggregation, without and with the filter campaign = b
EXPECTED = {
    (1, 3): {"sum": "30", "avg": "6", "min": "2", "max": "10", "last": "6", "sum_b": "10", "last_b": "2"},
    (1, 2): {"sum": "24", "avg": "6", "min": "2", "max": "10", "last": "2", "sum_b": "10", "last_b": "2"},
    (2, 2): {"sum": "12", "avg": "6", "min": "2", "max": "10", "last": "2", "sum_b": "2", "last_b": "2"},
    (3, 3): {"sum": "6", "avg": "6", "min": "6", "max": "6", "last": "6", "sum_b": None, "last_b": None},
}


async def seeded(client, state, org):
    for how in ("sum", "avg", "min", "max", "last"):
        r = await client.post(
            "/v1/metrics",
            json={
                "key": f"m_{how}",
                "name": f"M {how}",
                "unit": "count",
                "aggregation": how,
                "allowed_dimensions": ["campaign"],
            },
            headers=org.headers,
        )
        assert r.status_code == 201, r.text
    rows = [
        {
            "org_id": org.id,
            "metric_key": f"m_{how}",
            "day": D1 + timedelta(days=i),
            "dims_key": json.dumps({"campaign": campaign}),
            "dimensions": {"campaign": campaign},
            "value_sum": Decimal(v),
            "value_count": 1,
            "value_min": Decimal(v),
            "value_max": Decimal(v),
            "value_last": Decimal(v),
            "last_at": datetime.combine(D1 + timedelta(days=i), time(HOUR[campaign]), UTC),
        }
        for how in ("sum", "avg", "min", "max", "last")
        for campaign, values in SERIES.items()
        for i, v in enumerate(values)
        if v is not None
    ]
    async with state.db.sessionmaker() as session:
        bind_org(session, org.id)
        await session.execute(insert(MetricDaily), rows)
        await session.commit()
    kpis = {
        how: await make_kpi(state, org.id, name=how, formula=f"m_{how}") for how in ("sum", "avg", "min", "max", "last")
    }
    for how in ("sum", "last"):
        kpis[f"{how}_b"] = await make_kpi(
            state, org.id, name=f"{how} b", formula=f"m_{how}", dimension_filter={"campaign": "b"}
        )
    return kpis


async def test_every_aggregation_over_every_window_across_campaigns_and_filters(client, state, org):
    kpis = await seeded(client, state, org)
    async with state.db.sessionmaker() as session:
        bind_org(session, org.id)
        loaded = {k.id: k for k in await session.scalars(select(Kpi).where(Kpi.id.in_(kpis.values())))}
        windows = {
            (span, name): Window(kpi_id, D1 + timedelta(days=span[0] - 1), D1 + timedelta(days=span[1] - 1))
            for span in EXPECTED
            for name, kpi_id in kpis.items()
        }
        values = await kpi_values(session, loaded.values(), windows.values())
    got = {key: None if values[w] is None else format(values[w].normalize(), "f") for key, w in windows.items()}
    assert got == {(span, name): want for span, row in EXPECTED.items() for name, want in row.items()}


@pytest.mark.parametrize("name", ["sum", "last", "sum_b", "max"])
async def test_a_charts_to_date_series_is_the_window_from_the_period_start_each_day(client, state, org, name):
    kpis = await seeded(client, state, org)
    async with state.db.sessionmaker() as session:
        bind_org(session, org.id)
        kpi = await session.get(Kpi, kpis[name])
        target = KpiTarget(kpi_id=kpi.id, start_date=D1, end_date=D1 + timedelta(days=30), target_value=Decimal(1))
        series = await to_date_series(session, [(kpi, target)], D1 + timedelta(days=2))
    assert [d for d, _ in series[target.id]] == [D1, D1 + timedelta(days=1), D1 + timedelta(days=2)]
    day1 = {"sum": "12", "last": "8", "sum_b": "8", "max": "8"}[name]
    want = [day1, EXPECTED[(1, 2)][name], EXPECTED[(1, 3)][name]]
    assert [format(v.normalize(), "f") for _, v in series[target.id]] == want
