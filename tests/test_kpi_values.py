"""KPI values over windows from the daily roll-ups, for every aggregation, across dimension sets and filters:
the numbers the evaluation, the reports and the dashboard's charts all read (`shared.kpis.compute`)."""

import json
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import insert, select

from shared.db.scoping import bind_org
from shared.ingest.merge import rebuild_slices
from shared.kpis.compute import Window, kpi_values, to_date_series
from shared.kpis.models import Kpi, KpiTarget
from shared.metrics.models import MetricDaily
from shared.metrics.partitions import ensure_months
from tests.ingest_support import point, push_and_wait
from tests.kpi_support import make_kpi, put_daily

D1 = date(2026, 10, 1)
# Two campaigns, three days; b reports an hour later than a each day and has no row on day 3. `last` is the latest
# day with data, its dimension sets summed (a gauge reported per campaign totals across campaigns).
SERIES = {"a": [4, 10, 6], "b": [8, 2, None]}
HOUR = {"a": 12, "b": 13}

# window (first day, last day) -> expected per aggregation, without and with the filter campaign = b
EXPECTED = {
    (1, 3): {"sum": "30", "avg": "6", "min": "2", "max": "10", "last": "6", "sum_b": "10", "last_b": "2"},
    (1, 2): {"sum": "24", "avg": "6", "min": "2", "max": "10", "last": "12", "sum_b": "10", "last_b": "2"},
    (2, 2): {"sum": "12", "avg": "6", "min": "2", "max": "10", "last": "12", "sum_b": "2", "last_b": "2"},
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
        # Roll-ups written other than by a merge: their month partitions first (Postgres), committed on their own.
        await ensure_months(session, min(r["day"] for r in rows), max(r["day"] for r in rows))
        await session.commit()
        bind_org(session, org.id)
        await session.execute(insert(MetricDaily), rows)
        await rebuild_slices(session, org.id)
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
    day1 = {"sum": "12", "last": "12", "sum_b": "8", "max": "8"}[name]
    want = [day1, EXPECTED[(1, 2)][name], EXPECTED[(1, 3)][name]]
    assert [format(v.normalize(), "f") for _, v in series[target.id]] == want


async def test_last_is_the_latest_day_not_the_latest_arrival(client, keys, org):
    """A month backfilled in one batch, then its first day restated: `last` stays the last day's value."""
    editor, ingest = keys.headers("editor"), keys.headers("ingest")
    r = await client.post(
        "/v1/metrics",
        json={
            "key": "followers",
            "name": "Followers",
            "unit": "count",
            "aggregation": "last",
            "allowed_dimensions": ["channel"],
        },
        headers=editor,
    )
    assert r.status_code == 201, r.text
    kpi = await client.post(
        "/v1/kpis",
        json={
            "name": "Followers",
            "category": "output",
            "formula": "followers",
            "unit": "count",
            "direction": "higher_is_better",
        },
        headers=editor,
    )
    assert kpi.status_code == 201, kpi.text
    values_url = f"/v1/kpis/{kpi.json()['id']}/values?grain=month&from=2026-10-01&to=2026-10-31"

    async def month_value() -> str:
        body = (await client.get(values_url, headers=editor)).json()
        [bucket] = body["values"]
        return format(Decimal(bucket["value"]).normalize(), "f")

    backfill = [point("followers", v, f"2026-10-0{d}", channel="meta") for d, v in ((1, 10), (2, 20), (3, 30))]
    assert (await push_and_wait(client, ingest, backfill))["status"] == "done"
    assert await month_value() == "30"
    assert (await push_and_wait(client, ingest, [point("followers", 11, "2026-10-01", channel="meta")]))[
        "status"
    ] == "done"
    assert await month_value() == "30", "restating an early day does not make it the last"
    # A second channel reporting the same last day: the gauge totals across channels.
    assert (await push_and_wait(client, ingest, [point("followers", 120, "2026-10-03", channel="tiktok")]))[
        "status"
    ] == "done"
    assert await month_value() == "150"


async def test_filters_of_none_one_and_two_dimensions_read_the_same_numbers_as_the_rows(client, state, org):
    """No filter and one dimension are read from the slices, two dimensions from the roll-ups summed per day in the
    database: each agrees with the rows, for sums, extremes and `last`."""
    rows = {
        ("meta", "a"): [1, 2, 3],
        ("meta", "b"): [10, None, 30],
        ("google", "a"): [100, 200, None],
    }
    hows = ("sum", "min", "max", "last")
    for how in hows:
        r = await client.post(
            "/v1/metrics",
            json={
                "key": f"x_{how}",
                "name": f"X {how}",
                "unit": "count",
                "aggregation": how,
                "allowed_dimensions": ["channel", "campaign"],
            },
            headers=org.headers,
        )
        assert r.status_code == 201, r.text
        for (channel, campaign), values in rows.items():
            await put_daily(state, org.id, f"x_{how}", D1, values, {"channel": channel, "campaign": campaign})
    filters = {"none": None, "meta": {"channel": "meta"}, "meta_a": {"channel": "meta", "campaign": "a"}}
    ids = {
        (name, how): await make_kpi(state, org.id, name=f"{name} {how}", formula=f"x_{how}", dimension_filter=where)
        for name, where in filters.items()
        for how in hows
    }
    async with state.db.sessionmaker() as session:
        bind_org(session, org.id)
        kpis = {k.id: k for k in await session.scalars(select(Kpi).where(Kpi.id.in_(ids.values())))}
        windows = {key: Window(kpi_id, D1, D1 + timedelta(days=2)) for key, kpi_id in ids.items()}
        values = await kpi_values(session, kpis.values(), windows.values())
    got = {key: format(values[w].normalize(), "f") for key, w in windows.items()}
    # last: day 3's rows (meta/a 3, meta/b 30), or day 3 of the filter's rows
    assert got == {
        ("none", "sum"): "346", ("none", "min"): "1", ("none", "max"): "200", ("none", "last"): "33",
        ("meta", "sum"): "46", ("meta", "min"): "1", ("meta", "max"): "30", ("meta", "last"): "33",
        ("meta_a", "sum"): "6", ("meta_a", "min"): "1", ("meta_a", "max"): "3", ("meta_a", "last"): "3",
    }  # fmt: skip
