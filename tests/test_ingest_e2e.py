"""Ad platforms push a month of reports; KPI values at day and month grain and the budget's actual spend
equal the numbers computed by hand from the same reports (ratios of sums, never averages of ratios)."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from tests.ingest_support import wait_done

D = Decimal
DAYS = range(1, 32)


def meta_day(d: int, campaign: str) -> dict:
    factor = 1 if campaign == "111" else 2
    return {
        "date_start": f"2026-10-{d:02d}",
        "date_stop": f"2026-10-{d:02d}",
        "campaign_id": campaign,
        "account_currency": "USD",
        "spend": str(D(10 + d) * factor + D("0.35")),
        "impressions": str((1000 + 10 * d) * factor),
        "clicks": str((20 + d) * factor),
        "actions": [{"action_type": "purchase", "value": str(1 + d % 3)}, {"action_type": "link_click", "value": "9"}],
        "action_values": [{"action_type": "purchase", "value": str((1 + d % 3) * 50)}],
    }


def google_day(d: int) -> dict:
    return {
        "customer": {"currencyCode": "USD"},
        "campaign": {"id": "333"},
        "segments": {"date": f"2026-10-{d:02d}"},
        "metrics": {
            "costMicros": str((5 + d) * 1_000_000 + 250_000),
            "impressions": str(2000 + d),
            "clicks": str(30 + d),
            "conversions": str(D(d) / 2),
            "conversionsValue": str(D(d) * 40),
        },
    }


def expected(days, channel=None) -> dict[str, Decimal]:
    """The month's (or a day's) sums, straight from the generators."""
    totals = dict.fromkeys(("spend", "impressions", "clicks", "conversions", "revenue"), D(0))
    for d in days:
        if channel in (None, "meta"):
            for c in ("111", "222"):
                row = meta_day(d, c)
                totals["spend"] += D(row["spend"])
                totals["impressions"] += D(row["impressions"])
                totals["clicks"] += D(row["clicks"])
                totals["conversions"] += D(row["actions"][0]["value"])
                totals["revenue"] += D(row["action_values"][0]["value"])
        if channel in (None, "google_ads"):
            m = google_day(d)["metrics"]
            totals["spend"] += D(m["costMicros"]) / 1_000_000
            totals["impressions"] += D(m["impressions"])
            totals["clicks"] += D(m["clicks"])
            totals["conversions"] += D(m["conversions"])
            totals["revenue"] += D(m["conversionsValue"])
    return totals


async def create_kpi(client, headers, name, formula, **extra) -> str:
    body = {"name": name, "category": "output", "formula": formula, "unit": "ratio", "direction": "higher_is_better"}
    r = await client.post("/v1/kpis", json={**body, **extra}, headers=headers)
    assert r.status_code == 201, r.text
    return r.json()["id"]


def close(value: str, want: Decimal) -> bool:
    return abs(D(value) - want) < D("0.000001")


async def test_a_month_of_meta_and_google_reports_gives_hand_computed_kpis_and_actuals(client, keys):
    ingest, editor, viewer = keys.headers("ingest"), keys.headers("editor"), keys.headers("viewer")
    meta = {"data": [meta_day(d, c) for d in DAYS for c in ("111", "222")], "paging": {"cursors": {}}}
    google = {"results": [google_day(d) for d in DAYS]}
    for source, payload in (("meta", meta), ("google_ads", google)):
        r = await client.post(f"/v1/ingest/{source}", json=payload, headers=ingest)
        assert r.status_code == 202, r.text
        assert (await wait_done(client, ingest, r.json()["batch_id"]))["status"] == "done"

    cpa = await create_kpi(client, editor, "CPA", "spend / conversions", direction="lower_is_better")
    ctr = await create_kpi(client, editor, "CTR", "clicks / impressions * 100")
    roas = await create_kpi(client, editor, "ROAS", "revenue / spend")
    meta_cpa = await create_kpi(
        client,
        editor,
        "Meta CPA",
        "spend / conversions",
        direction="lower_is_better",
        dimension_filter={"channel": "meta"},
    )

    async def value(kpi, grain, start, end):
        r = await client.get(f"/v1/kpis/{kpi}/values?grain={grain}&from={start}&to={end}", headers=viewer)
        assert r.status_code == 200, r.text
        return r.json()["values"]

    month, day5 = expected(DAYS), expected([5])
    [m] = await value(cpa, "month", "2026-10-01", "2026-10-31")
    assert m["period"] == "2026-10" and close(m["value"], month["spend"] / month["conversions"])
    [m] = await value(ctr, "month", "2026-10-01", "2026-10-31")
    assert close(m["value"], month["clicks"] / month["impressions"] * 100)
    [m] = await value(roas, "month", "2026-10-01", "2026-10-31")
    assert close(m["value"], month["revenue"] / month["spend"])
    days = await value(roas, "day", "2026-10-04", "2026-10-06")
    assert [d["period"] for d in days] == ["2026-10-04", "2026-10-05", "2026-10-06"]
    assert close(days[1]["value"], day5["revenue"] / day5["spend"])
    meta_month = expected(DAYS, "meta")
    [m] = await value(meta_cpa, "month", "2026-10-01", "2026-10-31")
    assert close(m["value"], meta_month["spend"] / meta_month["conversions"])
    # A ratio of sums is not the mean of the daily ratios (the numbers differ, so the test can tell).
    daily = [expected([d]) for d in DAYS]
    mean_of_ratios = sum(x["spend"] / x["conversions"] for x in daily) / len(daily)
    assert not close(str(mean_of_ratios), month["spend"] / month["conversions"])

    plan = (await client.post("/v1/plans", json={"name": "Nov", "period_label": "2026-10"}, headers=editor)).json()
    pid = plan["id"]
    await client.put(f"/v1/plans/{pid}/budget", json={"total": "20000", "currency": "USD"}, headers=editor)
    camp = await client.post(
        f"/v1/plans/{pid}/campaigns",
        json={
            "name": "Search",
            "channel": "google_ads",
            "tracking_code": "333",
            "start_date": "2026-10-01",
            "end_date": "2026-10-31",
        },
        headers=editor,
    )
    lines = [
        {"channel": "meta", "planned_amount": "3000", "actual_amount": "100"},
        {"channel": "google_ads", "campaign_id": camp.json()["id"], "planned_amount": "1000"},
    ]
    for line in lines:
        assert (await client.post(f"/v1/plans/{pid}/budget/lines", json=line, headers=editor)).status_code == 201
    report = (await client.get(f"/v1/plans/{pid}/budget/report", headers=viewer)).json()
    by_channel = {row["channel"]: row for row in report["lines"]}
    google_spend = expected(DAYS, "google_ads")["spend"]
    assert D(by_channel["meta"]["ingested_spend"]) == meta_month["spend"].quantize(D("0.01"))
    assert D(by_channel["meta"]["actual"]) == (meta_month["spend"] + 100).quantize(D("0.01"))
    assert D(by_channel["google_ads"]["actual"]) == google_spend.quantize(D("0.01"))
    assert D(report["totals"]["actual"]) == (month["spend"] + 100).quantize(D("0.01"))


async def test_meta_restating_a_days_purchases_to_none_replaces_the_earlier_count(client, keys):
    ingest, editor, viewer = keys.headers("ingest"), keys.headers("editor"), keys.headers("viewer")
    conversions = await create_kpi(client, editor, "Purchases", "conversions", unit="count")
    row = {
        "campaign_id": "777",
        "date_start": "2026-10-07",
        "date_stop": "2026-10-07",
        "spend": "50.00",
        "account_currency": "USD",
    }
    first = {
        **row,
        "actions": [{"action_type": "link_click", "value": "40"}, {"action_type": "purchase", "value": "2"}],
    }
    # Meta revises its attribution: the day now lists actions, but no purchase among them (it leaves out types
    # with none), which is a 0, and replaces the 2.
    restated = {**row, "actions": [{"action_type": "link_click", "value": "41"}]}
    for payload in ({"data": [first]}, {"data": [restated]}):
        r = await client.post("/v1/ingest/meta", json=payload, headers=ingest)
        assert r.status_code == 202, r.text
        assert (await wait_done(client, ingest, r.json()["batch_id"]))["status"] == "done"
    r = await client.get(f"/v1/kpis/{conversions}/values?grain=day&from=2026-10-07&to=2026-10-07", headers=viewer)
    assert [(v["period"], v["value"]) for v in r.json()["values"]] == [("2026-10-07", "0")]


def _future(days: int = 10) -> date:
    return (datetime.now(UTC) + timedelta(days=days)).date()


def _reports_with_a_future_second_row() -> list[tuple[str, dict, str]]:
    """(source, report, where its second row's day is) for each platform: two campaign rows, the second dated
    ahead, with several metrics each (so several points come from the bad row)."""
    ok, ahead = date(2026, 11, 2), _future()
    meta = [
        {"campaign_id": c, "date_start": str(d), "spend": "1.00", "account_currency": "USD", "clicks": "1"}
        for c, d in (("1", ok), ("2", ahead))
    ]
    google = [
        {
            "campaign": {"id": c},
            "segments": {"date": str(d)},
            "metrics": {"costMicros": "1000000", "clicks": "3"},
            "customer": {"currencyCode": "USD"},
        }
        for c, d in (("1", ok), ("2", ahead))
    ]
    tiktok = [
        {
            "dimensions": {"campaign_id": c, "stat_time_day": f"{d} 00:00:00"},
            "metrics": {"spend": "1", "clicks": "2", "currency": "USD"},
        }
        for c, d in (("1", ok), ("2", ahead))
    ]
    linkedin = [
        {
            "pivotValues": [f"urn:li:sponsoredCampaign:{c}"],
            "dateRange": {"start": {"year": d.year, "month": d.month, "day": d.day}},
            "impressions": 10,
            "clicks": 1,
        }
        for c, d in (("1", ok), ("2", ahead))
    ]
    return [
        ("meta", {"data": meta}, "body.data[1].date_start"),
        ("google_ads", {"results": google}, "body.results[1].segments.date"),
        ("tiktok", {"code": 0, "data": {"list": tiktok}}, "body.data.list[1].dimensions.stat_time_day"),
        ("linkedin", {"elements": linkedin}, "body.elements[1].dateRange.start"),
    ]


async def test_a_refused_report_names_its_own_row_and_field_once(client, keys):
    ingest = keys.headers("ingest")
    for source, report, where in _reports_with_a_future_second_row():
        r = await client.post(f"/v1/ingest/{source}", json=report, headers=ingest)
        assert r.status_code == 422, (source, r.text)
        # Several points came from that row; the caller sees the one field of the one row it sent.
        assert [e["location"] for e in r.json()["errors"]] == [where], (source, r.json()["errors"])
        assert r.json()["detail"].startswith(f"{where}: {_future()} is not between")
    assert (await client.get("/v1/ingest/batches", headers=keys.headers("viewer"))).json()["items"] == []


async def test_a_report_whose_campaign_the_metric_no_longer_allows_is_refused_at_the_campaign_field(client, keys):
    only_channel = {"allowed_dimensions": ["channel"]}
    changed = await client.patch("/v1/metrics/spend", json=only_channel, headers=keys.headers("editor"))
    assert changed.status_code == 200, changed.text
    report = {
        "data": [
            {"campaign_id": "1", "date_start": "2026-11-02", "spend": "1.00", "clicks": "3", "account_currency": "USD"}
        ]
    }
    r = await client.post("/v1/ingest/meta", json=report, headers=keys.headers("ingest"))
    assert r.status_code == 422, r.text
    [error] = r.json()["errors"]
    assert (error["location"], error["type"]) == ("body.data[0].campaign_id", "dimension_not_allowed")
    assert "dimension 'campaign' is not allowed for metric 'spend' (allowed: channel)" in error["message"]
