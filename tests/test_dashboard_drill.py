"""Drilling into a KPI by channel and campaign (services/api/dashboard/drill.py): each slice is the KPI computed
on that value's data alone (CPA of Meta = Meta's spend ÷ Meta's conversions), additive KPIs say each value's
share, dimensions the KPI or the caller already fix are not offered, and the statements do not grow with the
values."""

from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import select

from services.api.dashboard.drill import Breakdown, drill_down
from shared.db.scoping import bind_org
from shared.kpis.models import Kpi
from tests.ingest_support import point, push_and_wait
from tests.kpi_support import make_kpi

D1 = date(2026, 10, 1)
# day, channel, campaign, spend, conversions. Meta: 200 ÷ 10 = 20, though its days' CPAs are 100 and 11.1
# (mean 55.6); Google Ads: 130 ÷ 7.
ROWS = [
    (0, "meta", "a", 100, 1),
    (1, "meta", "a", 60, 4),
    (1, "meta", "b", 40, 5),
    (0, "google_ads", "c", 30, 3),
    (1, "google_ads", "c", 90, 3),
    (2, "google_ads", "x", 10, 1),
]
END = D1 + timedelta(days=2)


def points_of(channel: str | None = None) -> list[dict]:
    return [
        point(metric, value, str(D1 + timedelta(days=day)), channel=ch, campaign=campaign)
        for day, ch, campaign, spend, conversions in ROWS
        if channel in (None, ch)
        for metric, value in (("spend", spend), ("conversions", conversions))
    ]


async def seeded(client, state, org, *, google_ads_currency: str = "USD") -> dict[str, Kpi]:
    for channel in ("meta", "google_ads"):
        currency = "USD" if channel == "meta" else google_ads_currency
        batch = await push_and_wait(client, org.headers, points_of(channel), source=channel, currency=currency)
        assert batch["status"] == "done", batch
    ids = [
        await make_kpi(state, org.id, name="CPA", formula="spend / conversions", direction="lower_is_better"),
        await make_kpi(state, org.id, name="Spend", formula="spend", unit="currency"),
        await make_kpi(
            state, org.id, name="Meta CPA", formula="spend / conversions", dimension_filter={"channel": "meta"}
        ),
    ]
    async with state.db.sessionmaker() as session:
        bind_org(session, org.id)
        return {kpi.name: kpi for kpi in await session.scalars(select(Kpi).where(Kpi.id.in_(ids)))}


async def drill(state, org, kpi: Kpi, **options) -> dict[str, Breakdown]:
    async with state.db.sessionmaker() as session:
        bind_org(session, org.id)
        options = {"start": D1, "end": END} | options
        return {b.dimension: b for b in await drill_down(session, kpi, **options)}


def values(breakdown: Breakdown) -> dict[str, Decimal | None]:
    return {s.value: s.kpi_value for s in breakdown.slices}


def ratio(spend: int, conversions: int) -> Decimal:
    return Decimal(spend) / Decimal(conversions)


async def test_cpa_per_channel_is_the_channels_spend_over_its_conversions_not_a_mean_of_days(client, state, org):
    kpis = await seeded(client, state, org)
    got = await drill(state, org, kpis["CPA"])
    assert list(got) == ["campaign", "channel"]
    assert values(got["channel"]) == {"meta": ratio(200, 10), "google_ads": ratio(130, 7)}
    daily_mean = (ratio(100, 1) + ratio(100, 9)) / 2
    assert values(got["channel"])["meta"] != daily_mean
    assert values(got["campaign"]) == {"a": ratio(160, 5), "c": ratio(120, 6), "x": ratio(10, 1), "b": ratio(40, 5)}
    assert [s.value for s in got["campaign"].slices] == ["a", "c", "x", "b"], "largest CPA first"
    assert got["channel"].total == got["campaign"].total == ratio(330, 17)
    assert all(s.share is None for b in got.values() for s in b.slices), "no share of a ratio"
    assert got["channel"].more == got["campaign"].more == 0


async def test_an_additive_kpis_shares_add_up_to_one(client, state, org):
    kpis = await seeded(client, state, org)
    got = await drill(state, org, kpis["Spend"])
    assert values(got["channel"]) == {"meta": 200, "google_ads": 130}
    for breakdown in got.values():
        shares = [s.share for s in breakdown.slices]
        assert all(share is not None and 0 < share < 1 for share in shares)
        assert abs(sum(s for s in shares if s is not None) - 1) < Decimal("1e-20")
    assert {s.value: s.share for s in got["channel"].slices}["meta"] == Decimal(200) / Decimal(330)


async def test_a_kpi_filtered_to_meta_splits_by_meta_campaigns_only(client, state, org):
    kpis = await seeded(client, state, org)
    got = await drill(state, org, kpis["Meta CPA"])
    assert list(got) == ["campaign"], "channel is fixed by the KPI"
    assert values(got["campaign"]) == {"a": ratio(160, 5), "b": ratio(40, 5)}
    assert got["campaign"].total == ratio(200, 10)


async def test_filters_narrow_every_slice_and_the_total(client, state, org):
    kpis = await seeded(client, state, org)
    got = await drill(state, org, kpis["Spend"], filters={"campaign": "x"})
    assert list(got) == ["channel"]
    assert values(got["channel"]) == {"google_ads": 10}
    assert got["channel"].total == 10 and got["channel"].slices[0].share == 1
    # A filter the KPI's own contradicts matches nothing.
    assert await drill(state, org, kpis["Meta CPA"], filters={"campaign": "c"}) == {}


async def test_a_limit_keeps_the_largest_values_and_counts_the_rest(client, state, org):
    kpis = await seeded(client, state, org)
    got = await drill(state, org, kpis["Spend"], limit=1)
    # Ranked by spend + conversions: a 165, c 126, b 45, x 11; meta 210, google_ads 137.
    assert values(got["campaign"]) == {"a": 160} and got["campaign"].more == 3
    assert values(got["channel"]) == {"meta": 200} and got["channel"].more == 1
    # With values left out, a share is of the total.
    assert got["campaign"].slices[0].share == Decimal(160) / Decimal(330)


async def test_the_statements_do_not_grow_with_the_values(client, state, org, count_queries):
    kpis = await seeded(client, state, org)
    counts, shown = [], []
    for end in (D1, END):  # 2 channels and 2 campaigns on the first day; 2 and 4 over the three
        with count_queries as counted:
            got = await drill(state, org, kpis["CPA"], end=end)
        counts.append(counted.count)
        shown.append(sum(len(b.slices) for b in got.values()))
    assert shown == [4, 6]
    assert counts[0] == counts[1]


async def test_no_data_no_breakdown(client, state, org):
    kpis = await seeded(client, state, org)
    assert await drill(state, org, kpis["CPA"], start=date(2020, 1, 1), end=date(2020, 1, 31)) == {}


async def test_money_in_two_currencies_is_converted_at_each_days_rate_in_every_slice(client, state, org):
    rates = {
        "rates": [
            {"day": str(D1 + timedelta(days=i)), "from": "EUR", "to": "USD", "rate": r}
            for i, r in enumerate(("2", "1.5", "1"))
        ]
    }
    r = await client.put("/v1/fx-rates", json=rates, headers=org.headers)
    assert r.status_code == 200, r.text
    kpis = await seeded(client, state, org, google_ads_currency="EUR")
    spend = await drill(state, org, kpis["Spend"])
    google_ads = 30 * 2 + Decimal("90") * Decimal("1.5") + 10 * 1  # 205 USD
    assert values(spend["channel"]) == {"meta": 200, "google_ads": google_ads}
    assert values(spend["campaign"]) == {"a": 160, "b": 40, "c": Decimal(195), "x": 10}
    assert spend["channel"].total == 200 + google_ads
    cpa = await drill(state, org, kpis["CPA"])
    assert values(cpa["channel"])["google_ads"] == google_ads / 7


def test_a_share_bar_fills_its_share_of_the_track_and_says_so_in_words():
    from xml.etree import ElementTree

    from services.api.dashboard.charts import share_bar

    def parsed(markup):
        return ElementTree.fromstring(str(markup))  # noqa: S314 - our own markup, built in this test

    svg = parsed(share_bar(0.25, label="<meta> 25 %", width=160))
    svg_ns = "{http://www.w3.org/2000/svg}"
    track, fill = svg.iter(f"{svg_ns}rect")
    assert (track.get("class"), fill.get("class")) == ("share-track", "share-fill")
    assert (track.get("width"), fill.get("width")) == ("160", "40.0")
    assert svg.get("aria-label") == svg.find(f"{svg_ns}title").text == "<meta> 25 %"
    assert "<meta>" not in str(share_bar(0.25, label="<meta>"))
    assert [parsed(share_bar(s, label="x"))[2].get("width") for s in (-1, 2)] == ["0.0", "160.0"]
