"""Money is never silently mixed: an organisation in Hanoi reporting in VND runs Meta in USD and Google Ads in
VND; each day's money is converted at that day's rate, a missing rate is `no_data` with its reason, budgets keep
their own currency, and a timestamp at 23:30 UTC lands on the next local day."""

import asyncio
from datetime import date
from decimal import Decimal

from tests.conftest import PLATFORM_TOKEN, auth, make_key
from tests.ingest_support import push, wait_done

D = Decimal
DAYS = (1, 2, 3)
RATES = {1: D("25400"), 2: D("25410.5"), 3: D("25390")}  # 1 USD in VND, per day of November 2026
CPA = {"name": "CPA", "category": "output", "formula": "spend / conversions", "unit": "currency"}
CPA |= {"direction": "lower_is_better"}


async def hanoi(client, reporting="VND") -> tuple[str, dict, dict, dict]:
    """An organisation in Asia/Ho_Chi_Minh reporting in `reporting`: (id, admin, editor, ingest headers)."""
    body = {"name": "Hanoi Retail", "time_zone": "Asia/Ho_Chi_Minh", "reporting_currency": reporting}
    r = await client.post("/v1/orgs", json=body, headers={"X-Platform-Token": PLATFORM_TOKEN})
    assert r.status_code == 201, r.text
    created = r.json()
    assert (created["org"]["time_zone"], created["org"]["reporting_currency"]) == ("Asia/Ho_Chi_Minh", reporting)
    admin = auth(created["api_key"]["key"])

    class Org:
        headers = admin

    editor = auth(await make_key(client, Org, "editor"))
    ingest = auth(await make_key(client, Org, "ingest"))
    return created["org"]["id"], admin, editor, ingest


def meta_row(d: int) -> dict:
    return {
        "date_start": f"2026-11-{d:02d}",
        "date_stop": f"2026-11-{d:02d}",
        "campaign_id": "111",
        "account_currency": "USD",
        "spend": str(D(100 + 7 * d) + D("0.25")),
        "impressions": "1000",
        "clicks": "50",
        "actions": [{"action_type": "purchase", "value": str(2 + d)}],
    }


def google_row(d: int) -> dict:
    return {
        "customer": {"currencyCode": "VND"},
        "campaign": {"id": "333"},
        "segments": {"date": f"2026-11-{d:02d}"},
        "metrics": {
            "costMicros": str((1_500_000 + 10_000 * d) * 1_000_000),
            "impressions": "3000",
            "clicks": "90",
            "conversions": str(1 + d),
        },
    }


def hand_cpa(days=DAYS, rates=RATES) -> Decimal:
    """Σ(USD spend × that day's rate) + Σ VND spend, over Σ conversions: the converted ratio of sums."""
    spend = sum((D(meta_row(d)["spend"]) * rates[d] for d in days), D(0))
    spend += sum((D(google_row(d)["metrics"]["costMicros"]) / 1_000_000 for d in days), D(0))
    conversions = sum(
        (D(meta_row(d)["actions"][0]["value"]) + D(google_row(d)["metrics"]["conversions"]) for d in days), D(0)
    )
    return spend / conversions


async def put_rates(client, headers, rates=RATES) -> dict:
    body = {
        "rates": [{"day": f"2026-11-{d:02d}", "from": "USD", "to": "VND", "rate": str(r)} for d, r in rates.items()]
    }
    r = await client.put("/v1/fx-rates", json=body, headers=headers)
    assert r.status_code == 200, r.text
    return r.json()


async def push_reports(client, ingest) -> None:
    for source, payload in (
        ("meta", {"data": [meta_row(d) for d in DAYS]}),
        ("google_ads", {"results": [google_row(d) for d in DAYS]}),
    ):
        r = await client.post(f"/v1/ingest/{source}", json=payload, headers=ingest)
        assert r.status_code == 202, r.text
        assert (await wait_done(client, ingest, r.json()["batch_id"]))["status"] == "done"


async def month_value(client, headers, kpi_id) -> dict:
    r = await client.get(f"/v1/kpis/{kpi_id}/values?grain=month&from=2026-11-01&to=2026-11-03", headers=headers)
    assert r.status_code == 200, r.text
    [value] = r.json()["values"]
    return value


async def test_blended_cpa_over_a_usd_meta_and_a_vnd_google_account_is_the_converted_ratio_of_sums(client):
    _, _, editor, ingest = await hanoi(client)
    await push_reports(client, ingest)
    stored = await put_rates(client, editor)
    assert (stored["received"], stored["changed"]) == (3, 3)
    again = await put_rates(client, editor)  # idempotent: the same rates change nothing
    assert (again["changed"], again["reevaluating_since"]) == (0, None)
    kpi = (await client.post("/v1/kpis", json={**CPA, "name": "Blended CPA"}, headers=editor)).json()["id"]

    value = await month_value(client, editor, kpi)
    assert abs(D(value["value"]) - hand_cpa()) < D("0.0001"), (value, hand_cpa())
    assert value["unconverted"] is None
    # Adding dollars to dong would give a very different number (the test can tell).
    mixed = sum(D(meta_row(d)["spend"]) + D(google_row(d)["metrics"]["costMicros"]) / 1_000_000 for d in DAYS)
    assert abs(D(value["value"]) - mixed / 15) > 1000

    # The first day's rate removed: 1 November has no USD→VND rate on or before it, so the month has no value.
    r = await client.delete("/v1/fx-rates/USD/VND/2026-11-01", headers=editor)
    assert r.status_code == 204, r.text
    value = await month_value(client, editor, kpi)
    assert value["value"] is None
    assert value["unconverted"].startswith("no USD→VND exchange rate on or before 2026-11-01")

    # A target judged now says so: no_data, with the missing pair and day as its reason.
    target = {"period": "2026-11", "target_value": "400000", "threshold_mode": "absolute", "warning": "420000"}
    r = await client.post(f"/v1/kpis/{kpi}/targets", json=target, headers=editor)
    assert r.status_code == 201, r.text
    card = (await client.get("/v1/reports/scorecard?period=2026-11", headers=editor)).json()
    [row] = card["groups"][1]["kpis"]
    assert row["status"] == "no_data" and "no USD→VND exchange rate on or before 2026-11-01" in row["reason"], row

    # The inverse pair is used when the direct one is missing: 1 VND = 1/25400 USD on the 1st.
    r = await client.put(
        "/v1/fx-rates",
        content="day,from,to,rate\n2026-11-01,VND,USD,0.0000393700787\n",
        headers={**editor, "Content-Type": "text/csv"},
    )
    assert r.status_code == 200 and r.json()["reevaluating_since"] == "2026-11-01", r.text
    value = await month_value(client, editor, kpi)
    inverse = {**RATES, 1: 1 / D("0.0000393700787")}
    assert abs(D(value["value"]) - hand_cpa(rates=inverse)) < D("0.01")


async def test_a_money_point_without_a_currency_is_refused_naming_it_unless_the_source_has_a_default(client):
    _, _, _, ingest = await hanoi(client)
    points = [
        {"metric": "spend", "value": "5", "timestamp": "2026-11-02"},
        {"metric": "clicks", "value": 3, "timestamp": "2026-11-02"},
    ]
    r = await push(client, ingest, points, currency=None)
    assert r.status_code == 422, r.text
    [error] = r.json()["errors"]
    assert (error["location"], error["type"]) == ("body.points.0.currency", "currency_missing")
    assert "PUT /v1/ingest/sources/api/config" in error["message"]
    # A point's own currency, or the batch's, is enough; an unknown code is refused by the contract.
    ok = await push(client, ingest, [{**points[0], "currency": "vnd"}], currency=None)
    assert ok.status_code == 202, ok.text
    bad = await push(client, ingest, [{**points[0], "currency": "XYZ"}], currency=None)
    assert bad.status_code == 422 and bad.json()["errors"][0]["location"] == "body.points.0.currency", bad.text
    dimension = await push(client, ingest, [{**points[0], "dimensions": {"currency": "USD"}}])
    assert dimension.status_code == 422, dimension.text


async def test_timestamps_land_on_the_organisations_local_day(client):
    _, _, editor, ingest = await hanoi(client)
    points = [
        {"metric": "clicks", "value": 5, "timestamp": "2026-11-02T23:30:00Z"},  # 06:30 on the 3rd in Hanoi
        {"metric": "clicks", "value": 7, "timestamp": "2026-11-02T16:59:00Z"},  # 23:59 on the 2nd
    ]
    r = await push(client, ingest, points)
    assert r.status_code == 202 and (await wait_done(client, ingest, r.json()["batch_id"]))["status"] == "done"
    body = {
        "name": "Clicks",
        "category": "input",
        "formula": "clicks",
        "unit": "count",
        "direction": "higher_is_better",
    }
    kpi = (await client.post("/v1/kpis", json=body, headers=editor)).json()["id"]
    r = await client.get(f"/v1/kpis/{kpi}/values?grain=day&from=2026-11-02&to=2026-11-03", headers=editor)
    assert [(v["period"], v["value"]) for v in r.json()["values"]] == [("2026-11-02", "7"), ("2026-11-03", "5")]


async def test_budget_actuals_are_converted_into_the_budgets_own_currency(client):
    _, _, editor, ingest = await hanoi(client)
    await push_reports(client, ingest)
    await put_rates(client, editor)
    plan = (await client.post("/v1/plans", json={"name": "Nov", "period_label": "2026-11"}, headers=editor)).json()
    pid = plan["id"]
    r = await client.put(f"/v1/plans/{pid}/budget", json={"total": "5000", "currency": "USD"}, headers=editor)
    assert r.status_code == 200, r.text
    for channel in ("meta", "google_ads"):
        line = {"channel": channel, "planned_amount": "2000"}
        assert (await client.post(f"/v1/plans/{pid}/budget/lines", json=line, headers=editor)).status_code == 201
    report = (await client.get(f"/v1/plans/{pid}/budget/report", headers=editor)).json()
    lines = {row["channel"]: row for row in report["lines"]}
    usd = sum((D(meta_row(d)["spend"]) for d in DAYS), D(0))
    vnd_in_usd = sum((D(google_row(d)["metrics"]["costMicros"]) / 1_000_000 / RATES[d] for d in DAYS), D(0))
    assert report["currency"] == "USD"
    assert D(lines["meta"]["ingested_spend"]) == usd.quantize(D("0.01"))
    assert D(lines["google_ads"]["ingested_spend"]) == vnd_in_usd.quantize(D("0.01"))
    # Both: the budget's currency, and the spend as the platforms reported it.
    vnd = sum((D(google_row(d)["metrics"]["costMicros"]) / 1_000_000 for d in DAYS), D(0))
    assert {k: D(v) for k, v in lines["google_ads"]["ingested_as_reported"].items()} == {"VND": vnd}
    assert {k: D(v) for k, v in lines["meta"]["ingested_as_reported"].items()} == {"USD": usd}
    # Without the first day's rate the VND line's spend is unknown (never a partial sum), and says why.
    assert (await client.delete("/v1/fx-rates/USD/VND/2026-11-01", headers=editor)).status_code == 204
    report = (await client.get(f"/v1/plans/{pid}/budget/report", headers=editor)).json()
    lines = {row["channel"]: row for row in report["lines"]}
    assert lines["google_ads"]["ingested_spend"] is None and lines["google_ads"]["actual"] is None
    assert "VND→USD" in lines["google_ads"]["unconverted"] and report["totals"]["actual"] is None
    assert D(lines["meta"]["ingested_spend"]) == usd.quantize(D("0.01"))


async def test_rates_are_checked_and_listed(client):
    _, _, editor, ingest = await hanoi(client)
    bad = {
        "rates": [
            {"day": "2026-11-01", "from": "USD", "to": "USD", "rate": "1"},
            {"day": "2026-11-01", "from": "USD", "to": "VND", "rate": "-3"},
        ]
    }
    r = await client.put("/v1/fx-rates", json=bad, headers=editor)
    assert r.status_code == 422, r.text
    assert {e["location"] for e in r.json()["errors"]} == {"body.rates.0", "body.rates.1.rate"}
    twice = {"rates": [{"day": "2026-11-01", "from": "USD", "to": "VND", "rate": "1"}] * 2}
    assert (await client.put("/v1/fx-rates", json=twice, headers=editor)).status_code == 422
    csv = "day,from,to,rate\n2026-11-01,USD,VND,25400\n2026-11-02,USD,VND,abc\n"
    r = await client.put("/v1/fx-rates", content=csv, headers={**editor, "Content-Type": "text/csv"})
    assert r.status_code == 422 and r.json()["errors"][0]["location"] == "body.line[3].rate", r.text
    viewer = ingest  # an ingest key may not change rates
    assert (await client.put("/v1/fx-rates", json={"rates": twice["rates"][:1]}, headers=viewer)).status_code == 403
    await put_rates(client, editor)
    listed = (await client.get("/v1/fx-rates?from=USD&to=VND&limit=2", headers=editor)).json()
    assert [(i["day"], i["rate"]) for i in listed["items"]] == [("2026-11-01", "25400"), ("2026-11-02", "25410.5")]
    rest = (await client.get(f"/v1/fx-rates?limit=2&cursor={listed['next_cursor']}", headers=editor)).json()
    assert [i["day"] for i in rest["items"]] == ["2026-11-03"] and rest["next_cursor"] is None
    assert date.fromisoformat(rest["items"][0]["day"]) == date(2026, 11, 3)


async def test_generic_points_give_their_currency_per_point_or_per_batch(client):
    _, _, editor, ingest = await hanoi(client)
    points = []
    for d in DAYS:
        day = f"2026-11-{d:02d}"
        meta, google = meta_row(d), google_row(d)
        points += [
            {
                "metric": "spend",
                "value": meta["spend"],
                "timestamp": day,
                "currency": "USD",
                "dimensions": {"channel": "meta"},
            },
            {"metric": "spend", "value": str(D(google["metrics"]["costMicros"]) / 1_000_000), "timestamp": day},
            {
                "metric": "conversions",
                "value": meta["actions"][0]["value"],
                "timestamp": day,
                "dimensions": {"channel": "meta"},
            },
            {"metric": "conversions", "value": google["metrics"]["conversions"], "timestamp": day},
        ]
    r = await push(client, ingest, points, currency="VND")  # the batch's currency: the points that give none
    assert r.status_code == 202 and (await wait_done(client, ingest, r.json()["batch_id"]))["status"] == "done", r.text
    await put_rates(client, editor)
    kpi = (await client.post("/v1/kpis", json=CPA, headers=editor)).json()["id"]
    value = await month_value(client, editor, kpi)
    assert abs(D(value["value"]) - hand_cpa()) < D("0.0001"), (value, hand_cpa())
    # Filtered on one dimension (read from the slices) the conversion holds too: Meta's USD only.
    meta_only = {**CPA, "name": "Meta CPA", "dimension_filter": {"channel": "meta"}}
    kpi = (await client.post("/v1/kpis", json=meta_only, headers=editor)).json()["id"]
    want = sum((D(meta_row(d)["spend"]) * RATES[d] for d in DAYS), D(0)) / sum(
        (D(meta_row(d)["actions"][0]["value"]) for d in DAYS), D(0)
    )
    assert abs(D((await month_value(client, editor, kpi))["value"]) - want) < D("0.0001")


async def test_budget_amounts_keep_their_currencys_minor_units(client):
    _, _, editor, _ = await hanoi(client)
    pid = (await client.post("/v1/plans", json={"name": "Q", "period_label": "2026-12"}, headers=editor)).json()["id"]
    r = await client.put(f"/v1/plans/{pid}/budget", json={"total": "1500000.5", "currency": "VND"}, headers=editor)
    assert r.status_code == 422, r.text
    assert r.json()["errors"] == [
        {
            "location": "body.total",
            "message": "VND amounts have no decimal places: 1500000.5 is not a whole number of its minor unit",
            "type": "minor_units",
        }
    ]
    assert (
        await client.put(f"/v1/plans/{pid}/budget", json={"total": "12.345", "currency": "USD"}, headers=editor)
    ).status_code == 422
    r = await client.put(f"/v1/plans/{pid}/budget", json={"total": "1500000", "currency": "VND"}, headers=editor)
    assert r.status_code == 200 and (r.json()["total"], r.json()["unallocated"]) == ("1500000", "1500000"), r.text
    # Kuwaiti dinars have three places (the fils): kept and shown, not rounded to two.
    r = await client.put(f"/v1/plans/{pid}/budget", json={"total": "1000.125", "currency": "KWD"}, headers=editor)
    assert r.status_code == 200 and r.json()["total"] == "1000.125", r.text
    line = {"channel": "meta", "planned_amount": "10.0005"}
    r = await client.post(f"/v1/plans/{pid}/budget/lines", json=line, headers=editor)
    assert r.status_code == 422, r.text
    line = {"channel": "meta", "planned_amount": "10.005", "actual_amount": "0.0015"}
    r = await client.post(f"/v1/plans/{pid}/budget/lines", json=line, headers=editor)
    assert r.status_code == 422 and r.json()["errors"][0]["location"] == "body.actual_amount", r.text
    line = {"channel": "meta", "planned_amount": "10.005"}
    r = await client.post(f"/v1/plans/{pid}/budget/lines", json=line, headers=editor)
    assert r.status_code == 201, r.text
    assert (r.json()["planned_amount"], r.json()["actual_amount"], r.json()["currency"]) == ("10.005", "0.000", "KWD")
    report = (await client.get(f"/v1/plans/{pid}/budget/report", headers=editor)).json()
    assert (report["total"], report["totals"]["planned"], report["lines"][0]["actual"]) == (
        "1000.125",
        "10.005",
        "0.000",
    )


async def test_new_or_corrected_rates_re_evaluate_the_kpis_that_read_money(client):
    _, _, editor, ingest = await hanoi(client)
    await push_reports(client, ingest)
    await put_rates(client, editor)
    kpi = (await client.post("/v1/kpis", json=CPA, headers=editor)).json()["id"]
    clicks = {"name": "Clicks", "category": "input", "formula": "clicks", "unit": "count"}
    other = (await client.post("/v1/kpis", json={**clicks, "direction": "higher_is_better"}, headers=editor)).json()
    target = {
        "start_date": "2026-11-01",
        "end_date": "2026-11-03",
        "target_value": "500000",
        "threshold_mode": "absolute",
    }
    for k, levels in ((kpi, {"warning": "600000"}), (other["id"], {"target_value": "100", "warning": "50"})):
        r = await client.post(f"/v1/kpis/{k}/targets", json={**target, **levels}, headers=editor)
        assert r.status_code == 201, r.text

    async def triggers(k: str) -> list[str]:
        r = await client.get(f"/v1/kpis/{k}/evaluations", headers=editor)
        return [e["trigger"] for e in r.json()["items"]]

    before = await triggers(kpi)
    corrected = {2: RATES[2] + 100}  # a corrected rate of the 2nd
    stored = await put_rates(client, editor, corrected)
    assert stored["reevaluating_since"] == "2026-11-02"
    for _ in range(100):  # the job runs after the commit (in process here, in the worker on Postgres)
        if (await triggers(kpi)).count("fx_rates") > before.count("fx_rates"):
            break
        await asyncio.sleep(0.05)
    assert (await triggers(kpi)).count("fx_rates") == before.count("fx_rates") + 1
    assert "fx_rates" not in await triggers(other["id"]), "a KPI that reads no money is not re-evaluated"
    value = await month_value(client, editor, kpi)
    assert abs(D(value["value"]) - hand_cpa(rates={**RATES, **corrected})) < D("0.0001")


async def test_odd_rate_uploads_are_read_or_refused_clearly(client):
    _, _, editor, _ = await hanoi(client)
    # A bare CR ends a line in old Excel exports; a bare JSON list is the rates; a long decimal is kept.
    csv = "day,from,to,rate\r2026-11-01,USD,VND,25400\r2026-11-02,VND,USD,0.00003937007874015748031496\r"
    r = await client.put("/v1/fx-rates", content=csv, headers={**editor, "Content-Type": "text/plain"})
    assert r.status_code == 200 and r.json()["changed"] == 2, r.text
    [listed] = [i["rate"] for i in (await client.get("/v1/fx-rates?from=VND", headers=editor)).json()["items"]]
    # Kept to 20 significant digits on Postgres; SQLite keeps a double (15-17 digits).
    assert abs(D(listed) - D("0.00003937007874015748031")) < D("1e-18"), listed
    r = await client.put(
        "/v1/fx-rates", json=[{"day": "2026-11-03", "from": "USD", "to": "VND", "rate": 25395.5}], headers=editor
    )
    assert r.status_code == 200 and r.json()["changed"] == 1, r.text
    for content, where in (
        ("day,from,to,rate\n", "body"),
        ("day,from,rate\n2026-11-01,USD,1\n", "body.line[1]"),
        ('day,from,to,rate\n"2026-11-01,USD,VND,1\n', "body.line[2]"),
    ):
        r = await client.put("/v1/fx-rates", content=content, headers={**editor, "Content-Type": "text/csv"})
        assert r.status_code == 422 and r.json()["errors"][0]["location"].startswith(where), (content, r.text)
    r = await client.put("/v1/fx-rates", content=b"\x80\x81", headers={**editor, "Content-Type": "application/json"})
    assert r.status_code == 400, r.text


async def test_currency_is_no_dimension_and_money_keeps_its_unit_once_it_has_data(client):
    _, _, editor, ingest = await hanoi(client)
    r = await client.post(
        "/v1/metrics",
        json={"key": "fees", "name": "Fees", "unit": "count", "aggregation": "sum", "allowed_dimensions": ["currency"]},
        headers=editor,
    )
    assert r.status_code == 422 and "reserved" in r.text, r.text
    body = {
        "name": "USD spend",
        "category": "input",
        "formula": "spend",
        "unit": "currency",
        "direction": "higher_is_better",
    }
    r = await client.post("/v1/kpis", json={**body, "dimension_filter": {"currency": "USD"}}, headers=editor)
    assert r.status_code == 422, r.text
    r = await client.post(
        "/v1/metrics", json={"key": "fees", "name": "Fees", "unit": "currency", "aggregation": "sum"}, headers=editor
    )
    assert r.status_code == 201, r.text
    pushed = await push(client, ingest, [{"metric": "fees", "value": "3", "timestamp": "2026-11-02"}], currency="VND")
    assert (await wait_done(client, ingest, pushed.json()["batch_id"]))["status"] == "done"
    r = await client.patch("/v1/metrics/fees", json={"unit": "count"}, headers=editor)
    assert r.status_code == 409 and "currency" in r.json()["detail"], r.text
