"""Ad-platform adapters: a platform's report in, our snapshot points out; anything else is an AdapterError
that says where."""

import copy
import json
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.ingest.adapters import (
    ADAPTERS,
    DEFAULT_CONFIG,
    AdapterConfig,
    parse_google_ads,
    parse_linkedin,
    parse_meta,
    parse_tiktok,
)
from shared.ingest.points import AdapterError, Mode, Point

FIXTURES = Path(__file__).parent / "fixtures" / "ingest"


def load(name: str):
    return json.loads((FIXTURES / name).read_text())


def row(channel: str, campaign: str, day: str, currency: str | None = None, **metrics: str) -> list[Point]:
    """The points of one platform row, in the adapters' metric order, written as decimal strings; the money ones
    (spend, revenue) in the row's currency."""
    dims = {"channel": channel, "campaign": campaign}
    on = date.fromisoformat(day)
    return [
        Point(m, Decimal(v), on, dict(dims), Mode.snapshot, None, currency if m in ("spend", "revenue") else None)
        for m, v in metrics.items()
    ]


def error(adapter, payload) -> AdapterError:
    with pytest.raises(AdapterError) as caught:
        adapter(payload, DEFAULT_CONFIG)
    return caught.value


# --- each platform's report becomes the points a user expects ---------------------------------------------


def test_meta_insights_become_daily_points_per_campaign():
    points = parse_meta(load("meta_insights.json"), DEFAULT_CONFIG)
    # Row 1: purchase reported as `purchase` and `omni_purchase` counts once (3, not 6); so does its value.
    # Row 1 lists actions but no lead: leads 0 (Meta leaves out the types with none). Row 3: zero spend is a real
    # 0; no actions array at all → no conversions/leads/revenue points. Row 4: no reach and no action_values given,
    # actions without a purchase → conversions 0, no revenue point.
    assert points == [
        *row(
            "meta",
            "120210000000001",
            "2026-11-02",
            currency="EUR",
            spend="45.67",
            impressions="5230",
            clicks="112",
            reach="4100",
            conversions="3",
            leads="0",
            revenue="149.97",
        ),
        *row(
            "meta",
            "120210000000001",
            "2026-11-03",
            currency="EUR",
            spend="38.10",
            impressions="4870",
            clicks="95",
            reach="3950",
            conversions="1",
            leads="2",
            revenue="59.90",
        ),
        *row(
            "meta", "120210000000002", "2026-11-02", currency="EUR", spend="0", impressions="0", clicks="0", reach="0"
        ),
        *row(
            "meta",
            "120210000000002",
            "2026-11-03",
            currency="EUR",
            spend="12.5",
            impressions="1500",
            clicks="30",
            conversions="0",
            leads="4",
        ),
    ]
    assert all(p.mode is Mode.snapshot for p in points)


def test_google_ads_search_stream_chunks_give_currency_units_from_micros():
    points = parse_google_ads(load("google_ads_search_stream.json"), DEFAULT_CONFIG)
    assert points == [
        *row(
            "google_ads",
            "21000000001",
            "2026-11-02",
            currency="USD",
            spend="1.234567",
            impressions="2400",
            clicks="180",
            conversions="12.5",
            revenue="845.25",
        ),
        *row(
            "google_ads",
            "21000000001",
            "2026-11-03",
            currency="USD",
            spend="98.765432",
            impressions="2310",
            clicks="171",
            conversions="11",
            revenue="790",
        ),
        *row(
            "google_ads",
            "21000000002",
            "2026-11-02",
            currency="USD",
            spend="0",
            impressions="0",
            clicks="0",
            conversions="0",
            revenue="0",
        ),
        *row(
            "google_ads",
            "21000000002",
            "2026-11-03",
            currency="USD",
            spend="5",
            impressions="850",
            clicks="40",
            conversions="1.3333333333333333",
            revenue="66.5",
        ),
    ]
    # Exact, not through a float: 1234567 micros is 1.234567 to the last digit.
    assert str(points[0].value) == "1.234567"


def test_google_ads_flat_rows_from_an_etl_tool_read_the_same():
    points = parse_google_ads(load("google_ads_flat.json"), DEFAULT_CONFIG)
    assert points == [
        *row(
            "google_ads",
            "21000000003",
            "2026-11-02",
            currency="USD",
            spend="1.5",
            impressions="12000",
            clicks="340",
            conversions="7",
            revenue="12.5",
        ),
        # conversions_value null, and absent on the next row: no revenue point rather than a made-up 0.
        *row(
            "google_ads",
            "21000000003",
            "2026-11-03",
            currency="USD",
            spend="20",
            impressions="15500",
            clicks="402",
            conversions="9.5",
        ),
        *row("google_ads", "21000000004", "2026-11-02", currency="USD", spend="0.75", impressions="30100", clicks="61"),
    ]


def test_google_ads_accepts_one_search_page_and_a_bare_list_of_nested_rows():
    stream = load("google_ads_search_stream.json")
    everything = parse_google_ads(stream, DEFAULT_CONFIG)
    page = stream[0]
    assert parse_google_ads(page, DEFAULT_CONFIG) == everything[:15]
    assert parse_google_ads(page["results"], DEFAULT_CONFIG) == everything[:15]
    # A stream chunk without rows (an empty report) carries only fieldMask and requestId.
    assert parse_google_ads([{"fieldMask": "campaign.id", "requestId": "r1"}], DEFAULT_CONFIG) == []
    assert parse_google_ads([], DEFAULT_CONFIG) == []


def test_google_ads_nested_camel_case_and_dotted_snake_case_are_the_same_row():
    nested = {"campaign": {"id": "7"}, "segments": {"date": "2026-11-02"}, "metrics": {"costMicros": "1500000"}}
    dotted = {"campaign.id": 7, "segments.date": "2026-11-02", "metrics.cost_micros": 1500000}
    dotted_camel = {"campaign.id": "7", "segments.date": "2026-11-02", "metrics.costMicros": 1500000.0}
    expected = row("google_ads", "7", "2026-11-02", spend="1.5")
    for shape in (nested, dotted, dotted_camel):
        assert parse_google_ads({"results": [shape]}, DEFAULT_CONFIG) == expected


def test_tiktok_report_maps_conversion_and_complete_payment_value():
    points = parse_tiktok(load("tiktok_report.json"), DEFAULT_CONFIG)
    # complete_payment (a count) is not mapped; "-" (no value for this campaign) is absent, not 0.
    assert points == [
        *row(
            "tiktok",
            "1816000000000001",
            "2026-11-02",
            currency="USD",
            spend="12.30",
            impressions="1000",
            clicks="20",
            reach="870",
            conversions="2",
            revenue="59.80",
        ),
        *row(
            "tiktok",
            "1816000000000001",
            "2026-11-03",
            currency="USD",
            spend="20.05",
            impressions="1850",
            clicks="37",
            reach="1600",
            conversions="0",
            revenue="0",
        ),
        *row(
            "tiktok",
            "1816000000000002",
            "2026-11-02",
            currency="USD",
            spend="7.5",
            impressions="3400",
            clicks="15",
            reach="3100",
            conversions="1",
        ),
        *row(
            "tiktok",
            "1816000000000002",
            "2026-11-03",
            currency="USD",
            spend="9.99",
            impressions="4100",
            clicks="22",
            conversions="3",
        ),
    ]


def test_linkedin_ad_analytics_keep_every_decimal_of_the_local_currency_cost():
    points = parse_linkedin(load("linkedin_ad_analytics.json"), DEFAULT_CONFIG)
    # costInUsd is ignored: spend is in the account's currency like every other platform's.
    assert points == [
        *row(
            "linkedin",
            "312345678",
            "2026-11-02",
            spend="57.2928475012983",
            impressions="4210",
            clicks="38",
            reach="3102",
            conversions="3",
            leads="5",
            revenue="420",
        ),
        *row(
            "linkedin",
            "312345678",
            "2026-11-03",
            spend="60.004",
            impressions="3987",
            clicks="41",
            conversions="0",
            leads="2",
            revenue="0",
        ),
        *row(
            "linkedin",
            "398765432",
            "2026-11-02",
            spend="18.1",
            impressions="1205",
            clicks="9",
            conversions="0",
            leads="1",
        ),
    ]
    assert str(points[0].value) == "57.2928475012983"


def test_linkedin_accepts_the_older_single_pivot_value():
    element = {
        "pivotValue": "urn:li:sponsoredCampaign:42",
        "dateRange": {"start": {"year": 2026, "month": 11, "day": 2}},
        "clicks": 3,
    }
    assert parse_linkedin({"elements": [element]}, DEFAULT_CONFIG) == row("linkedin", "42", "2026-11-02", clicks="3")


def test_every_platform_is_registered_under_its_channel_key():
    assert set(ADAPTERS) == {"meta", "google_ads", "tiktok", "linkedin"}
    for key, fixture in [
        ("meta", "meta_insights.json"),
        ("google_ads", "google_ads_flat.json"),
        ("tiktok", "tiktok_report.json"),
        ("linkedin", "linkedin_ad_analytics.json"),
    ]:
        points = ADAPTERS[key](load(fixture), DEFAULT_CONFIG)
        assert points and {p.dimensions["channel"] for p in points} == {key}


# --- each point knows the report row and field it came from, for errors found after parsing ---------------


@pytest.mark.parametrize(
    ("key", "index", "row_at", "value_at", "day_at", "campaign_at"),
    [
        ("meta", 7, "data[1]", "data[1].spend", "data[1].date_start", "data[1].campaign_id"),
        ("meta", 4, "data[0]", "data[0].actions[2]", "data[0].date_start", "data[0].campaign_id"),
        (
            "google_ads",
            5,
            "[0].results[1]",
            "[0].results[1].metrics.costMicros",
            "[0].results[1].segments.date",
            "[0].results[1].campaign.id",
        ),
        (
            "tiktok",
            6,
            "data.list[1]",
            "data.list[1].metrics.spend",
            "data.list[1].dimensions.stat_time_day",
            "data.list[1].dimensions.campaign_id",
        ),
        (
            "linkedin",
            7,
            "elements[1]",
            "elements[1].costInLocalCurrency",
            "elements[1].dateRange.start",
            "elements[1].pivotValues[0]",
        ),
    ],
)
def test_each_point_carries_the_row_and_fields_it_was_read_from(key, index, row_at, value_at, day_at, campaign_at):
    point = ADAPTERS[key](load(FIXTURE_OF[key]), DEFAULT_CONFIG)[index]
    origin = point.origin
    assert origin.row == row_at
    assert (origin.of("value"), origin.of("metric")) == (value_at, value_at)
    assert origin.of("timestamp") == day_at
    assert origin.of("dimensions.campaign") == campaign_at
    # The channel and the mode come from the endpoint, not the report: the row is the nearest place.
    assert origin.of("dimensions.channel") == origin.of("mode") == origin.of("dimensions") == row_at


def test_a_metric_meta_reports_as_zero_points_at_the_actions_array():
    payload = {"data": [meta_row(actions=[{"action_type": "link_click", "value": "4"}])]}
    conversions = next(p for p in parse_meta(payload, DEFAULT_CONFIG) if p.metric == "conversions")
    assert conversions.value == 0 and conversions.origin.of("value") == "data[0].actions"


# --- money points carry the currency each report row states ------------------------------------------------


def two_rows_in(key: str, first: str | None, second: str | None):
    """A report of `key` with two campaigns' rows on one day, spend and clicks each (revenue too), the first row
    stating `first` as its currency and the second `second`, in the platform's own field (None: left out)."""
    given = [(first, "1", "10.50", "7"), (second, "2", "20", "9")]
    if key == "meta":
        rows = [
            {
                **meta_row(campaign_id=c, spend=spend, clicks=clicks),
                "action_values": [{"action_type": "purchase", "value": "5"}],
            }
            | ({} if code is None else {"account_currency": code})
            for code, c, spend, clicks in given
        ]
        return {"data": rows}
    if key == "google_ads":
        rows = []
        for code, c, spend, clicks in given:
            micros = str(int(Decimal(spend) * 1_000_000))
            row_ = {**google_row(costMicros=micros, clicks=clicks, conversionsValue=5.0), "campaign": {"id": c}}
            rows.append(row_ | ({} if code is None else {"customer": {"currencyCode": code}}))
        return {"results": rows}
    if key == "tiktok":
        rows = [
            {
                "dimensions": {"campaign_id": c, "stat_time_day": "2026-11-02 00:00:00"},
                "metrics": {"spend": spend, "clicks": clicks, "total_complete_payment_rate": "5"}
                | ({} if code is None else {"currency": code}),
            }
            for code, c, spend, clicks in given
        ]
        return {"code": 0, "message": "OK", "data": {"list": rows}}
    rows = [
        linkedin_element(
            pivotValues=[f"urn:li:sponsoredCampaign:{c}"],
            costInLocalCurrency=spend,
            clicks=int(clicks),
            conversionValueInLocalCurrency="5",
        )
        | ({} if code is None else {"currency": code})
        for code, c, spend, clicks in given
    ]
    return {"elements": rows}


# Where each platform's row states its currency (LinkedIn's is our extension: its analytics rows state none).
CURRENCY_AT = {
    "meta": ("data[0].account_currency", "data[1].account_currency"),
    "google_ads": ("results[0].customer.currencyCode", "results[1].customer.currencyCode"),
    "tiktok": ("data.list[0].metrics.currency", "data.list[1].metrics.currency"),
    "linkedin": ("elements[0].currency", "elements[1].currency"),
}


@pytest.mark.parametrize("key", sorted(ADAPTERS))
def test_each_row_s_money_points_carry_the_currency_the_row_states(key):
    points = ADAPTERS[key](two_rows_in(key, "EUR", "jpy "), DEFAULT_CONFIG)
    by_campaign = {(p.dimensions["campaign"], p.metric): p for p in points}
    assert {m: p.currency for (c, m), p in by_campaign.items() if c == "1"} == {
        "spend": "EUR",
        "clicks": None,  # a count has no currency
        "revenue": "EUR",
    }
    # Lower case and surrounding spaces are read as the code they spell.
    assert {m: p.currency for (c, m), p in by_campaign.items() if c == "2"} == {
        "spend": "JPY",
        "clicks": None,
        "revenue": "JPY",
    }
    assert by_campaign["1", "spend"].origin.of("currency") == CURRENCY_AT[key][0]


@pytest.mark.parametrize("key", sorted(ADAPTERS))
def test_a_row_without_its_currency_leaves_it_to_the_source_default_and_names_the_field(key):
    points = ADAPTERS[key](two_rows_in(key, "USD", None), DEFAULT_CONFIG)
    second = [p for p in points if p.dimensions["campaign"] == "2"]
    assert [p.currency for p in second] == [None, None, None]
    # A refusal for the missing currency (no default set) names the field the row should carry (Google's as the
    # query selects it).
    expected = CURRENCY_AT[key][1].replace("currencyCode", "currency_code")
    assert {p.origin.of("currency") for p in second} == {expected}


@pytest.mark.parametrize("key", sorted(ADAPTERS))
@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("EURO", "expected an ISO 4217 currency code such as 'EUR', got 'EURO'"),
        ("", "expected an ISO 4217 currency code such as 'EUR', got ''"),
        (978, "expected an ISO 4217 currency code such as 'EUR', got 978"),
        ("€", "expected an ISO 4217 currency code such as 'EUR', got '€'"),
        ("ABC", "'ABC' is not an ISO 4217 currency in use"),
        ("dem", "'DEM' is not an ISO 4217 currency in use"),  # withdrawn in 2002
        ("XAU", "'XAU' is not an ISO 4217 currency in use"),  # gold, not money
    ],
)
def test_a_currency_that_is_not_a_code_in_use_is_refused_where_the_row_states_it(key, code, message):
    caught = error(ADAPTERS[key], two_rows_in(key, "EUR", code))
    assert (caught.location, caught.message) == (CURRENCY_AT[key][1], message)


def test_google_ads_reads_the_currency_of_nested_camel_case_and_flattened_rows_alike():
    flat = load("google_ads_flat.json")
    flat[1]["customer.currency_code"] = "cad"
    points = parse_google_ads(flat, DEFAULT_CONFIG)
    assert [(p.day.isoformat(), p.metric, p.currency) for p in points if p.metric == "spend"] == [
        ("2026-11-02", "spend", "USD"),
        ("2026-11-03", "spend", "CAD"),
        ("2026-11-02", "spend", "USD"),
    ]
    assert points[0].origin.of("currency") == "[0].customer.currency_code"
    stream = parse_google_ads(load("google_ads_search_stream.json"), DEFAULT_CONFIG)
    assert stream[0].origin.of("currency") == "[0].results[0].customer.currencyCode"


def test_tiktok_no_value_marker_for_the_currency_counts_as_absent():
    points = parse_tiktok(tiktok(spend="3", currency="-"), DEFAULT_CONFIG)
    assert [(p.metric, p.currency) for p in points] == [("spend", None)]


async def test_a_push_with_a_bad_currency_is_a_422_naming_the_report_field(client, keys):
    report = load("meta_insights.json")
    report["data"][2]["account_currency"] = "EURO"
    r = await client.post("/v1/ingest/meta", json=report, headers=keys.headers("ingest"))
    assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json", r.text
    [problem] = r.json()["errors"]
    assert problem == {
        "location": "body.data[2].account_currency",
        "message": "expected an ISO 4217 currency code such as 'EUR', got 'EURO'",
        "type": "report_field",
    }
    tiktok_report = load("tiktok_report.json")
    tiktok_report["data"]["list"][1]["metrics"]["currency"] = "usd1"
    r = await client.post("/v1/ingest/tiktok", json=tiktok_report, headers=keys.headers("ingest"))
    assert r.status_code == 422
    assert r.json()["errors"][0]["location"] == "body.data.list[1].metrics.currency"


# --- Meta: which action types count is the organisation's choice ------------------------------------------


def test_meta_defaults_take_the_first_purchase_alias_present():
    actions = [
        {"action_type": "omni_purchase", "value": "4"},
        {"action_type": "offsite_conversion.fb_pixel_purchase", "value": "4"},
    ]
    values = [{"action_type": "omni_purchase", "value": "80"}, {"action_type": "purchase", "value": "79.5"}]
    payload = {"data": [meta_row(actions=actions, action_values=values)]}
    assert parse_meta(payload, DEFAULT_CONFIG) == row(
        "meta", "1", "2026-11-02", spend="1.00", conversions="4", leads="0", revenue="79.5"
    )


def test_meta_org_config_counts_its_own_action_types():
    custom = AdapterConfig(
        meta_conversions=("offsite_conversion.custom.281094761234567",),
        meta_leads=("onsite_conversion.lead_grouped",),
        meta_revenue=(),
    )
    points = parse_meta(load("meta_insights.json"), custom)
    derived = [
        (p.metric, p.value, p.day.isoformat()) for p in points if p.metric in ("conversions", "leads", "revenue")
    ]
    # Only the last row has the custom conversion; its leads now come from lead_grouped; no revenue at all. The
    # first two rows list actions without either type: 0 each. The third lists no actions: nothing.
    assert derived == [
        ("conversions", Decimal(0), "2026-11-02"),
        ("leads", Decimal(0), "2026-11-02"),
        ("conversions", Decimal(0), "2026-11-03"),
        ("leads", Decimal(0), "2026-11-03"),
        ("conversions", Decimal(5), "2026-11-03"),
        ("leads", Decimal(4), "2026-11-03"),
    ]


def test_meta_accepts_a_bare_list_of_rows_as_etl_tools_relay_them():
    assert parse_meta([meta_row(campaign_id=120210000000009)], DEFAULT_CONFIG) == row(
        "meta", "120210000000009", "2026-11-02", spend="1.00"
    )


# --- a report that is not daily is refused, with how to ask for a daily one -------------------------------


def test_meta_refuses_a_multi_day_row():
    rows = [meta_row(date_start=f"2026-10-2{i}", date_stop=f"2026-10-2{i}") for i in range(3)]
    rows.append(meta_row(date_start="2026-11-01", date_stop="2026-11-07"))
    caught = error(parse_meta, {"data": rows})
    assert caught.message == "a daily row is required (time_increment=1); this row covers 2026-11-01..2026-11-07"
    assert caught.location == "data[3]"
    assert str(caught) == f"data[3]: {caught.message}"


def test_linkedin_refuses_a_multi_day_element():
    element = linkedin_element(
        dateRange={"start": {"year": 2026, "month": 11, "day": 1}, "end": {"year": 2026, "month": 11, "day": 7}}
    )
    caught = error(parse_linkedin, {"elements": [linkedin_element(), element]})
    assert caught.message == "a daily row is required (timeGranularity=DAILY); this row covers 2026-11-01..2026-11-07"
    assert caught.location == "elements[1]"


def test_tiktok_refuses_an_hourly_report():
    hourly = {
        "code": 0,
        "data": {
            "list": [
                {"dimensions": {"campaign_id": "1", "stat_time_hour": "2026-11-02 13:00:00"}, "metrics": {"spend": "1"}}
            ]
        },
    }
    caught = error(parse_tiktok, hourly)
    assert caught.location == "data.list[0].dimensions"
    assert "daily row is required" in caught.message


# --- malformed payloads: AdapterError pointing at the row and field ---------------------------------------


def meta_row(**changes):
    base = {"campaign_id": "1", "date_start": "2026-11-02", "date_stop": "2026-11-02", "spend": "1.00"}
    return {**base, **changes}


def google_row(day="2026-11-02", **metrics):
    return {"campaign": {"id": "1"}, "segments": {"date": day}, "metrics": metrics}


def tiktok(dimensions=None, **metrics):
    dims = {"campaign_id": "1", "stat_time_day": "2026-11-02 00:00:00"} if dimensions is None else dimensions
    return {"code": 0, "message": "OK", "data": {"list": [{"dimensions": dims, "metrics": metrics}]}}


def linkedin_element(**changes):
    base = {
        "pivotValues": ["urn:li:sponsoredCampaign:1"],
        "dateRange": {"start": {"year": 2026, "month": 11, "day": 2}, "end": {"year": 2026, "month": 11, "day": 2}},
        "clicks": 1,
    }
    return {**base, **changes}


@pytest.mark.parametrize(
    ("adapter", "payload", "location", "message"),
    [
        (parse_meta, "nope", "$", 'expected the Insights response {"data": [...]}'),
        (parse_meta, {"paging": {}}, "$", 'expected the Insights response {"data": [...]}'),
        (parse_meta, {"data": {"x": 1}}, "data", "expected a list, got an object"),
        (parse_meta, {"data": [meta_row(), 7]}, "data[1]", "expected an Insights row, got 7"),
        (parse_meta, {"data": [meta_row(date_start=None)]}, "data[0].date_start", "expected a date as YYYY-MM-DD"),
        (parse_meta, {"data": [meta_row(date_start="02/11/2026")]}, "data[0].date_start", "got '02/11/2026'"),
        (parse_meta, {"data": [meta_row(date_start="2026-02-30")]}, "data[0].date_start", "not a calendar date"),
        (parse_meta, {"data": [{"date_start": "2026-11-02"}]}, "data[0].campaign_id", "the campaign id is missing"),
        (parse_meta, {"data": [meta_row(campaign_id="cmp-1")]}, "data[0].campaign_id", "expected a campaign id"),
        (parse_meta, {"data": [meta_row(spend="12,30")]}, "data[0].spend", "expected a decimal number, got '12,30'"),
        (parse_meta, {"data": [meta_row(spend="NaN")]}, "data[0].spend", "expected a decimal number, got 'NaN'"),
        (parse_meta, {"data": [meta_row(spend="-4.20")]}, "data[0].spend", "must not be negative, got -4.20"),
        (parse_meta, {"data": [meta_row(spend="1e30")]}, "data[0].spend", "expected a decimal number"),
        (parse_meta, {"data": [meta_row(impressions=True)]}, "data[0].impressions", "expected a number, got true"),
        (parse_meta, {"data": [meta_row(reach=[1])]}, "data[0].reach", "expected a number, got a list"),
        (parse_meta, {"data": [meta_row(actions={"purchase": 1})]}, "data[0].actions", "expected a list"),
        (
            parse_meta,
            {"data": [meta_row(actions=[{"action_type": "lead", "value": "1"}, {"action_type": "purchase"}])]},
            "data[0].actions[1].value",
            "expected a number, got null",
        ),
        (parse_meta, {"data": [meta_row(actions=[{"value": "1"}])]}, "data[0].actions[0].action_type", "action type"),
        (
            parse_meta,
            {"data": [meta_row(action_values=[{"action_type": "purchase", "value": "x"}])]},
            "data[0].action_values[0].value",
            "expected a decimal number, got 'x'",
        ),
        (
            parse_meta,
            {
                "data": [
                    meta_row(
                        actions=[
                            {"action_type": "purchase", "value": "1", "action_device": "iphone"},
                            {"action_type": "purchase", "value": "2", "action_device": "desktop"},
                        ]
                    )
                ]
            },
            "data[0].actions[1]",
            "action type 'purchase' is listed twice; request actions without action_breakdowns",
        ),
        (
            parse_meta,
            {"data": [meta_row(), meta_row(spend="2.00")]},
            "data[1]",
            "campaign 1 on 2026-11-02 was already given at data[0]; report one row per campaign and day",
        ),
        (parse_google_ads, "rows", "$", "expected a search response"),
        (parse_google_ads, {"rows": []}, "$", 'expected a response chunk {"results": [...]}'),
        (parse_google_ads, [{"results": []}, google_row()], "[1]", "expected a response chunk"),
        (
            parse_google_ads,
            {
                "results": [
                    google_row("2026-11-01"),
                    google_row("2026-11-02"),
                    google_row("2026-11-03", costMicros="1.5"),
                ]
            },
            "results[2].metrics.costMicros",
            "micros must be a whole number, got 1.5",
        ),
        (parse_google_ads, {"results": [google_row(costMicros="-100")]}, "results[0].metrics.costMicros", "negative"),
        (parse_google_ads, [{**google_row(), "metrics.cost_micros": "x"}], "[0].metrics.cost_micros", "got 'x'"),
        (
            parse_google_ads,
            {"results": [google_row(conversions=float("nan"))]},
            "results[0].metrics.conversions",
            "expected a finite number, got nan",
        ),
        (
            parse_google_ads,
            {"results": [google_row(conversionsValue=float("inf"))]},
            "results[0].metrics.conversionsValue",
            "expected a finite number",
        ),
        (
            parse_google_ads,
            {"results": [{"segments": {"date": "2026-11-02"}, "metrics": {"clicks": "1"}}]},
            "results[0].campaign.id",
            "campaign.id is missing; select campaign.id and segments.date",
        ),
        (
            parse_google_ads,
            {"results": [{"campaign": {"id": "1"}, "segments": {"week": "2026-11-02"}}]},
            "results[0].segments.date",
            "segments.date is missing",
        ),
        (
            parse_google_ads,
            {"results": [{**google_row(costMicros="1"), "metrics.cost_micros": 2}]},
            "results[0].metrics.cost_micros",
            "given twice (also at results[0].metrics.costMicros)",
        ),
        (
            parse_google_ads,
            {"results": [google_row(clicks={"value": 1})]},
            "results[0].metrics.clicks",
            "expected a number, got an object",
        ),
        (parse_google_ads, {"results": [google_row(impressions=10**20)]}, "results[0].metrics.impressions", "large"),
        (
            parse_tiktok,
            {"code": 40105, "message": "Access token is incorrect or has been revoked.", "data": {}},
            "code",
            "TikTok answered with error code 40105: Access token is incorrect or has been revoked.",
        ),
        (parse_tiktok, {"code": "0", "data": {"list": []}}, "code", "expected TikTok's response code as a number"),
        (parse_tiktok, {"code": 0, "message": "OK"}, "data", "expected report data"),
        (parse_tiktok, {"code": 0, "data": {"page_info": {}}}, "data.list", "expected a list, got null"),
        (parse_tiktok, tiktok({"stat_time_day": "2026-11-02"}), "data.list[0].dimensions.campaign_id", "missing"),
        (
            parse_tiktok,
            tiktok({"campaign_id": "1", "stat_time_day": "2026-11-02 13:00:00"}),
            "data.list[0].dimensions.stat_time_day",
            "expected a day as 'YYYY-MM-DD 00:00:00'",
        ),
        (parse_tiktok, tiktok(spend="12.3.4"), "data.list[0].metrics.spend", "expected a decimal number"),
        (parse_tiktok, tiktok(conversion="-1"), "data.list[0].metrics.conversion", "must not be negative"),
        (parse_linkedin, [], "$", "expected the adAnalytics response"),
        (parse_linkedin, {"elements": [{"dateRange": {}}]}, "elements[0].dateRange.start", "expected a date"),
        (
            parse_linkedin,
            {"elements": [linkedin_element(pivotValues=None)]},
            "elements[0].pivotValues",
            "expected the pivot values (ask for pivot=CAMPAIGN), got null",
        ),
        (
            parse_linkedin,
            {"elements": [linkedin_element(pivotValues=["urn:li:sponsoredCreative:9"])]},
            "elements[0].pivotValues",
            "no campaign (urn:li:sponsoredCampaign:…) among the pivot values",
        ),
        (
            parse_linkedin,
            {"elements": [linkedin_element(pivotValues=["urn:li:sponsoredCampaign:"])]},
            "elements[0].pivotValues[0]",
            "expected a campaign id (digits), got ''",
        ),
        (
            parse_linkedin,
            {"elements": [linkedin_element(dateRange={"start": {"year": 2026, "month": 13, "day": 1}})]},
            "elements[0].dateRange.start",
            "2026-13-1 is not a calendar date",
        ),
        (
            parse_linkedin,
            {"elements": [linkedin_element(dateRange={"start": {"year": 2026, "month": "11", "day": 1}})]},
            "elements[0].dateRange.start",
            "expected whole numbers year, month and day",
        ),
        (
            parse_linkedin,
            {"elements": [linkedin_element(costInLocalCurrency="-0.01")]},
            "elements[0].costInLocalCurrency",
            "must not be negative",
        ),
    ],
)
def test_malformed_payloads_say_what_and_where(adapter, payload, location, message):
    caught = error(adapter, payload)
    assert caught.location == location
    assert message in caught.message


# --- whatever JSON arrives, the answer is points or an AdapterError ---------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda children: st.lists(children) | st.dictionaries(st.text(), children),
)
FIXTURE_OF = {
    "meta": "meta_insights.json",
    "google_ads": "google_ads_search_stream.json",
    "tiktok": "tiktok_report.json",
    "linkedin": "linkedin_ad_analytics.json",
}


def answer_or_adapter_error(adapter, payload) -> None:
    try:
        points = adapter(payload, DEFAULT_CONFIG)
    except AdapterError as caught:
        assert caught.location
        return
    assert isinstance(points, list) and all(isinstance(p, Point) for p in points)


@pytest.mark.parametrize("key", sorted(ADAPTERS))
@settings(max_examples=300, deadline=None)
@given(payload=json_values)
def test_any_json_gives_points_or_an_adapter_error(key, payload):
    answer_or_adapter_error(ADAPTERS[key], payload)


def paths(node, prefix=()):
    yield prefix
    children = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
    for key, child in children:
        yield from paths(child, (*prefix, key))


@pytest.mark.parametrize("key", sorted(ADAPTERS))
@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_a_real_report_with_one_value_broken_gives_points_or_an_adapter_error(key, data):
    # Random JSON rarely gets past the envelope; breaking one value of a real report reaches every field.
    payload = load(FIXTURE_OF[key])
    path = data.draw(st.sampled_from([p for p in paths(payload) if p]))
    broken = copy.deepcopy(payload)
    parent = broken
    for step in path[:-1]:
        parent = parent[step]
    parent[path[-1]] = data.draw(json_values)
    answer_or_adapter_error(ADAPTERS[key], broken)


def test_a_deeply_nested_row_is_an_adapter_error_not_a_crash():
    deep = json.loads('{"a":' * 900 + "1" + "}" * 900)  # as deep as json.loads lets a client send
    caught = error(parse_google_ads, {"results": [{"campaign": deep}]})
    assert caught.message == "nested deeper than 10 levels"
    assert caught.location.startswith("results[0].campaign.a.a.")
