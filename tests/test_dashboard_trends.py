"""A KPI period by period for the dashboard's trend charts (services/api/dashboard/trends.py): each month's value
as the evaluation computes it (ratios of sums), the target of each month with its acceptable band, the current
month to date, and a fixed number of statements however many KPIs are charted."""

import uuid
from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from services.api.dashboard.trends import TrendPoint, trends
from shared.db.scoping import bind_org
from shared.kpis.models import Kpi
from shared.periods import Period, parse_period
from tests.ingest_support import point, push_and_wait
from tests.kpi_support import make_kpi

TODAY = date(2026, 11, 15)
LAST = parse_period("2026-11")
FIRST_PUSHED = date(2025, 10, 1)  # two months before the twelve the chart shows
DAYS = (3, 10, 20)  # the days of each month with data; 2026-11-20 is after TODAY


def months() -> list[date]:
    out, day = [], FIRST_PUSHED
    while day <= LAST.start:
        out.append(day)
        day = (day + timedelta(days=32)).replace(day=1)
    return out


def spend(month: int, day: int) -> int:
    return 10 * month + day


def conversions(month: int, day: int) -> int:
    return 1 + (month + day) % 4


async def seeded(client, state, org) -> dict[str, Kpi]:
    points = [
        point(metric, f(i, d), str(first.replace(day=d)), channel="meta")
        for i, first in enumerate(months())
        for d in DAYS
        for metric, f in (("spend", spend), ("conversions", conversions))
    ]
    batch = await push_and_wait(client, org.headers, points, source="meta")
    assert batch["status"] == "done", batch
    ids = {}
    for name, formula, unit, direction in (
        ("Conversions", "conversions", "count", "higher_is_better"),
        ("CPA", "spend / conversions", "currency", "lower_is_better"),
    ):
        body = {"name": name, "category": "output", "formula": formula, "unit": unit, "direction": direction}
        r = await client.post("/v1/kpis", json=body, headers=org.headers)
        assert r.status_code == 201, r.text
        ids[name] = uuid.UUID(r.json()["id"])
    targets = [
        ("CPA", {"period": "2026-03", "target_value": "20", "threshold_mode": "absolute", "warning": "25"}),
        ("Conversions", {"period": "2026-06", "target_value": "10", "warning": "90"}),  # warning 90% of 10 = 9
        ("Conversions", {"period": "2026-Q3", "target_value": "9", "threshold_mode": "absolute", "warning": "8"}),
        ("Conversions", {"period": "2026-11", "target_value": "100", "pacing": "linear"}),
    ]
    for name, body in targets:
        r = await client.post(f"/v1/kpis/{ids[name]}/targets", json=body, headers=org.headers)
        assert r.status_code == 201, r.text
    async with state.db.sessionmaker() as session:
        bind_org(session, org.id)
        loaded = (await session.scalars(select(Kpi).where(Kpi.id.in_(ids.values())))).all()
    return {kpi.name: kpi for kpi in loaded}


async def trend_of(state, org, kpis: list[Kpi]) -> dict:
    async with state.db.sessionmaker() as session:
        bind_org(session, org.id)
        return await trends(session, kpis, kind="month", last=LAST, today=TODAY)


def by_label(points: list[TrendPoint]) -> dict[str, TrendPoint]:
    return {p.period.label: p for p in points}


async def test_each_month_is_the_sum_or_the_ratio_of_sums_of_its_days_up_to_today(client, state, org):
    kpis = await seeded(client, state, org)
    got = await trend_of(state, org, list(kpis.values()))
    shown = [m for m in months() if m >= date(2025, 12, 1)]
    for name in ("Conversions", "CPA"):
        assert [p.period.label for p in got[kpis[name].id]] == [f"{m:%Y-%m}" for m in shown]
    for i, first in enumerate(months()):
        if first not in shown:
            continue
        days = [d for d in DAYS if first.replace(day=d) <= TODAY]
        label = f"{first:%Y-%m}"
        conv = sum(conversions(i, d) for d in days)
        cost = sum(spend(i, d) for d in days)
        assert by_label(got[kpis["Conversions"].id])[label].value == conv
        assert by_label(got[kpis["CPA"].id])[label].value == Decimal(cost) / Decimal(conv)
    # A ratio of sums, not the mean of the days' ratios: the two differ on this data.
    march = by_label(got[kpis["CPA"].id])["2026-03"].value
    i = months().index(date(2026, 3, 1))
    assert march != sum(Decimal(spend(i, d)) / conversions(i, d) for d in DAYS) / len(DAYS)


async def test_targets_and_bands_attach_to_their_periods_and_the_current_month_is_to_date(client, state, org):
    kpis = await seeded(client, state, org)
    got = await trend_of(state, org, list(kpis.values()))
    cpa, conv = by_label(got[kpis["CPA"].id]), by_label(got[kpis["Conversions"].id])

    assert [label for label, p in cpa.items() if p.target is not None] == ["2026-03"]
    assert cpa["2026-03"].band == (Decimal(20), Decimal(25))
    assert cpa["2026-03"].off_target == (cpa["2026-03"].value > 25)
    assert cpa["2026-02"].band is None and cpa["2026-02"].off_target is None

    # June's own target; July to September none: a month is never judged against the quarter's target (a KPI that
    # sums would read a third of the quarter as far off it).
    assert conv["2026-06"].target == 10 and conv["2026-06"].band == (Decimal(9), Decimal(10))
    for month in ("2026-07", "2026-08", "2026-09"):
        assert conv[month].target is None and conv[month].band is None and conv[month].off_target is None
    assert conv["2026-05"].target is None and conv["2026-10"].target is None

    # November is to date: its days up to the 15th, the full (unpaced) target, not judged against it.
    november = conv["2026-11"]
    assert november.to_date and not conv["2026-10"].to_date
    assert november.target == 100 and november.off_target is None
    assert all(not p.to_date for label, p in conv.items() if label != "2026-11")


async def test_a_period_after_today_has_no_value(client, state, org):
    kpis = await seeded(client, state, org)
    async with state.db.sessionmaker() as session:
        bind_org(session, org.id)
        got = await trends(session, [kpis["CPA"]], kind="month", last=parse_period("2027-01"), today=TODAY, count=4)
    points = got[kpis["CPA"].id]
    assert [p.period.label for p in points] == ["2026-10", "2026-11", "2026-12", "2027-01"]
    assert [p.value is None for p in points] == [False, False, True, True]
    assert [p.to_date for p in points] == [False, True, False, False]


async def test_periods_before_1900_are_left_out(client, state, org):
    kpis = await seeded(client, state, org)
    async with state.db.sessionmaker() as session:
        bind_org(session, org.id)
        first = Period("1900", "year", date(1900, 1, 1), date(1900, 12, 31))
        got = await trends(session, [kpis["CPA"]], kind="year", last=parse_period("1901"), today=TODAY, count=5)
    assert [p.period for p in got[kpis["CPA"].id]] == [first, parse_period("1901")]


async def test_the_statements_do_not_grow_with_the_kpis(client, state, org, count_queries):
    kpis = await seeded(client, state, org)
    for n in range(4):
        await make_kpi(state, org.id, name=f"Extra {n}", formula=["spend", "conversions * 2", "spend / 3", "clicks"][n])
    async with state.db.sessionmaker() as session:
        bind_org(session, org.id)
        everything = (await session.scalars(select(Kpi))).all()
    assert len(everything) == 6
    counts = []
    for chosen in (list(kpis.values()), everything):
        with count_queries as counted:
            got = await trend_of(state, org, chosen)
        assert len(got) == len(chosen)
        counts.append(counted.count)
    assert counts[0] == counts[1]


# --- the chart ---------------------------------------------------------------------------------------------

SVG = "{http://www.w3.org/2000/svg}"


def chart_points() -> list[TrendPoint]:
    """Four months of CPA (lower is better): on target, off target, no data, and the current month to date."""
    band = (Decimal(20), Decimal(25))
    return [
        TrendPoint(parse_period("2026-08"), Decimal(22), False, Decimal(20), band, False),
        TrendPoint(parse_period("2026-09"), Decimal(31), False, Decimal(20), band, True),
        TrendPoint(parse_period("2026-10"), None, False),
        TrendPoint(parse_period("2026-11"), Decimal(18), True),
    ]


def render(points=None, **options):
    from xml.etree import ElementTree

    from services.api.dashboard.charts import trend_chart

    options = {"label": "CPA by month", "fmt": lambda v: f"€{v:.2f}", "period_name": lambda p: p.label} | options
    markup = trend_chart(chart_points() if points is None else points, **options)
    return markup, ElementTree.fromstring(str(markup))  # noqa: S314 - our own markup, built in this test


def classes(element) -> set[str]:
    return set(element.get("class", "").split())


def test_the_chart_has_three_labelled_ticks_and_every_period_on_the_large_one():
    _, small = render()
    _, large = render(large=True, width=720, height=240)
    for svg in (small, large):
        ticks = [t.text for t in svg.iter(f"{SVG}text") if "tick-y" in classes(t)]
        assert len(ticks) == 3 and all(t.startswith("€") for t in ticks)
        assert ticks[0] == "€0.00", "the axis starts at 0"
    x_labels = {
        name: [t.text for t in svg.iter(f"{SVG}text") if "tick-x" in classes(t)]
        for name, svg in (("small", small), ("large", large))
    }
    assert x_labels == {"small": ["2026-08", "2026-11"], "large": ["2026-08", "2026-09", "2026-10", "2026-11"]}


def test_each_point_is_focusable_with_its_value_target_and_state_in_words():
    _, svg = render()
    points = [g for g in svg.iter(f"{SVG}g") if "point" in classes(g)]
    assert [g.get("tabindex") for g in points] == ["0", "0", "0"], "no point for the month without data"
    titles = [g.find(f"{SVG}title").text for g in points]
    assert titles == [
        "2026-08: €22.00 · target €20.00",
        "2026-09: €31.00 · target €20.00 · off target",
        "2026-11: €18.00 · no target · to date",
    ]
    # Off target is a square, on target a circle; to date is hollow: shape and fill, not colour alone.
    on, off, to_date = points
    assert on.find(f"{SVG}circle") is not None and on.find(f"{SVG}rect") is None
    assert "point-off" in classes(off) and off.find(f"{SVG}rect") is not None and off.find(f"{SVG}circle") is None
    assert "point-to-date" in classes(to_date) and to_date.find(f"{SVG}circle").get("fill-opacity") == "0"
    summary = svg.get("aria-label")
    assert summary == svg.find(f"{SVG}title").text
    assert summary.startswith("CPA by month, 2026-08 to 2026-11; 2026-11: €18.00")


def test_bands_and_targets_only_for_periods_with_a_target_and_the_line_breaks_at_no_data():
    _, svg = render(id_prefix="kpi-1")
    bands = [r for r in svg.iter(f"{SVG}rect") if "band" in classes(r)]
    hatches = [r for r in svg.iter(f"{SVG}rect") if "band-hatch" in classes(r)]
    targets = [line for line in svg.iter(f"{SVG}line") if "level-target" in classes(line)]
    assert len(bands) == len(hatches) == len(targets) == 2
    assert {r.get("fill") for r in hatches} == {"url(#kpi-1-hatch)"}
    assert [p.get("id") for p in svg.iter(f"{SVG}pattern")] == ["kpi-1-hatch"]
    # The band spans 20..25: its top is above (smaller y than) the target line at 20, its bottom on it.
    assert float(bands[0].get("y")) < float(targets[0].get("y1"))
    assert float(bands[0].get("y")) + float(bands[0].get("height")) == pytest.approx(
        float(targets[0].get("y1")), abs=0.15
    )
    [series] = [p for p in svg.iter(f"{SVG}polyline") if "series" in classes(p)]
    assert len(series.get("points").split()) == 2, "August to September; October has no data, November stands alone"
    assert not any(e.get("style") for e in svg.iter()), "no inline styles under the page's CSP"


def test_hostile_text_is_escaped_and_translated_words_are_used():
    from services.api.dashboard.charts import TrendWords

    words = TrendWords(
        target="Ziel",
        to_date="bisher",
        no_data="keine Daten",
        no_target="kein Ziel",
        off_target="verfehlt",
        from_to="{first} bis {last}",
    )
    markup, svg = render(
        label='<script>alert(1)</script>"',
        period_name=lambda p: f"<b>{p.label}</b>",
        words=words,
        id_prefix='x" onload="alert(1)',
    )
    assert "<script>" not in markup and "<b>" not in markup and 'onload="' not in markup
    assert svg.find(f"{SVG}title").text.startswith('<script>alert(1)</script>", <b>2026-08</b> bis <b>2026-11</b>')
    titles = [g.find(f"{SVG}title").text for g in svg.iter(f"{SVG}g")]
    assert titles[1] == "<b>2026-09</b>: €31.00 · Ziel €20.00 · verfehlt"
    assert titles[2] == "<b>2026-11</b>: €18.00 · kein Ziel · bisher"


def test_a_chart_without_any_value_still_renders():
    _, svg = render([TrendPoint(parse_period("2026-11"), None, True)])
    assert "keine" not in svg.get("aria-label") and svg.get("aria-label").endswith(
        "2026-11: no data · no target · to date"
    )
