"""The dashboard's views over HTTP, on both backends: any range and comparison through the URL, the KPI page's
drill-down (ratios of sums per slice, each row a filtered view), the view as CSV, KPIs without a target, and the
reader's language for words and numbers."""

import csv
import io
import re
from datetime import timedelta
from decimal import Decimal

from babel.numbers import format_currency

from tests.dashboard_support import (
    DAYS,
    GOOGLE_PER_DAY,
    MONTH,
    MONTH_START,
    PER_DAY,
    PREVIOUS_DAYS,
    PREVIOUS_PER_DAY,
    PREVIOUS_START,
    seed,
    seed_history,
)
from tests.ingest_support import point, push_and_wait
from tests.test_dashboard import sign_in
from tests.test_reports import bulk_kpis

PREVIOUS = f"{PREVIOUS_START:%Y-%m}"


def _card(html: str, kpi_id: str) -> str:
    found = re.search(rf'<article class="card [a-z-]+" data-kpi="{kpi_id}">(.*?)</article>', html, re.S)
    assert found, kpi_id
    return found.group(1)


async def test_a_view_compares_the_same_days_and_says_which_way_is_better(client, keys, org):
    seeded = await seed(client, org.headers)
    await seed_history(client, org.headers)
    await sign_in(client, keys.viewer)
    html = (await client.get(f"/dashboard?period={MONTH}")).text
    spend = _card(html, seeded.kpis["Ad spend"])
    now, before = (
        (PER_DAY["spend"] + GOOGLE_PER_DAY["spend"]) * DAYS,
        PREVIOUS_PER_DAY["spend"] * min(DAYS, PREVIOUS_DAYS),
    )
    # The month to date against as many days of last month, judged by the KPI's direction (lower is better).
    change = (Decimal(now - before) / before * 100).quantize(Decimal("0.1"))
    assert f"+{change}%" in spend and "worse" in spend and "✕" in spend
    assert f"vs {format_currency(before, 'USD', locale='en')}" in spend

    last_year = (await client.get(f"/dashboard?period={MONTH}&compare=last_year")).text
    assert "nothing to compare with" in _card(last_year, seeded.kpis["Ad spend"])
    assert 'aria-current="true">Same period last year' in last_year

    # A custom range of last month's dates is last month, with its own numbers.
    whole = PREVIOUS_START + timedelta(days=PREVIOUS_DAYS - 1)
    custom = await client.get(f"/dashboard?range=custom&from={PREVIOUS_START}&to={whole}")
    assert custom.status_code == 200
    shown = format_currency(PREVIOUS_PER_DAY["spend"] * PREVIOUS_DAYS, "USD", locale="en")
    assert f"<strong>{shown}</strong>" in _card(custom.text, seeded.kpis["Ad spend"])
    for preset in ("this_month", "last_month", "quarter_to_date", "year_to_date", "last_30_days", "last_90_days"):
        page = await client.get(f"/dashboard?range={preset}&compare=last_year")
        assert page.status_code == 200 and page.text.count('<article class="card') == 7, preset
        assert f'href="/dashboard/kpis/{seeded.kpis["CPA"]}?range={preset}&amp;compare=last_year"' in page.text
    for bad in ("range=forever", "range=custom&from=2026-11-09", "from=2026-11-09&to=2026-11-01", "compare=x"):
        refused = await client.get(f"/dashboard?{bad}")
        assert refused.status_code == 422 and "<h1>Unknown period</h1>" in refused.text, bad


async def test_the_kpi_page_splits_a_ratio_by_each_dimension_as_ratios_of_sums(client, keys, org):
    seeded = await seed(client, org.headers)
    await seed_history(client, org.headers)
    await sign_in(client, keys.viewer)
    cpa = seeded.kpis["CPA"]
    html = (await client.get(f"/dashboard/kpis/{cpa}?period={MONTH}")).text
    channel = re.search(r'<h3 id="by-channel">.*?</table>', html, re.S).group(0)
    rows = re.findall(r'<th scope="row"><a href="([^"]+)">([^<]+)</a></th>\s*<td class="num">([^<]+)</td>', channel)
    # Google Ads 80 a conversion, Meta 200/6: each the ratio of its own sums, the dearer first.
    assert [(name, value) for _, name, value in rows] == [("google_ads", "$80.00"), ("meta", "$33.33")]
    assert rows[0][0] == f"/dashboard/kpis/{cpa}?period={MONTH}&amp;filter=channel%3Agoogle_ads"
    assert '<h3 id="by-campaign">' in html

    narrowed = await client.get(f"/dashboard/kpis/{cpa}?period={MONTH}&filter=channel:meta")
    assert narrowed.status_code == 200
    assert re.search(r'<section class="panel kpi-value">\s*<p class="value"><strong>\$33.33</strong>', narrowed.text)
    assert '<h3 id="by-channel">' not in narrowed.text, "a filtered dimension is not offered again"
    campaigns = re.findall(r'<th scope="row"><a href="[^"]+">([^<]+)</a>', narrowed.text)
    assert campaigns == ["spring"]
    assert "Targets and alerts are for the whole KPI." in narrowed.text

    spend = await client.get(f"/dashboard/kpis/{seeded.kpis['Ad spend']}?period={MONTH}")
    shares = re.findall(r'<span class="share">([^<]+)</span>', spend.text)
    meta_share = Decimal(PER_DAY["spend"]) / (PER_DAY["spend"] + GOOGLE_PER_DAY["spend"]) * 100
    assert f"{meta_share:.1f}%" in shares, shares  # an additive KPI's slices are shares of the whole

    for bad in ("filter=channel", "filter=Channel:meta", "filter=currency:USD", "filter=channel:a&filter=channel:b"):
        refused = await client.get(f"/dashboard/kpis/{cpa}?{bad}")
        assert refused.status_code == 422, bad
    four = "&".join(f"filter=d{i}:x" for i in range(4))
    assert (await client.get(f"/dashboard/kpis/{cpa}?{four}")).status_code == 422


async def test_the_view_exports_as_csv_with_plain_numbers(client, keys, org):
    seeded = await seed(client, org.headers)
    await seed_history(client, org.headers)
    r = await client.post(
        "/v1/kpis",
        json={
            "name": '=HYPERLINK("http://evil.example")',
            "category": "input",
            "formula": "spend",
            "unit": "currency",
            "direction": "lower_is_better",
        },
        headers=org.headers,
    )
    assert r.status_code == 201, r.text
    await sign_in(client, keys.viewer)
    export = await client.get(f"/dashboard/export.csv?period={PREVIOUS}")
    assert export.status_code == 200 and export.headers["content-type"].startswith("text/csv")
    assert "attachment" in export.headers["content-disposition"]
    assert export.content.startswith("\ufeff".encode())
    rows = list(csv.DictReader(io.StringIO(export.content.decode("utf-8-sig"))))
    assert len(rows) == 8
    spend = next(r for r in rows if r["KPI"] == "Ad spend")
    assert spend["Value"] == str(PREVIOUS_PER_DAY["spend"] * PREVIOUS_DAYS) and spend["Currency"] == "USD"
    assert spend["From"] == str(PREVIOUS_START) and spend["Status"] == "No target"
    assert any(r["KPI"] == '\'=HYPERLINK("http://evil.example")' for r in rows), "never a formula"

    drill = await client.get(f"/dashboard/kpis/{seeded.kpis['CPA']}/export.csv?period={MONTH}")
    lines = list(csv.DictReader(io.StringIO(drill.content.decode("utf-8-sig"))))
    by = {(r["Dimension"], r["Dimension value"]): r["Value"] for r in lines}
    assert Decimal(by[("channel", "google_ads")]) == 80 and by[("", "All")] != ""
    assert (await client.get("/dashboard/export.csv?range=forever")).status_code == 422
    client.cookies.clear()
    assert (await client.get("/dashboard/export.csv")).status_code == 303


async def test_a_kpi_without_a_target_shows_its_value_and_tells_only_editors_how_to_set_one(client, keys, org):
    await seed(client, org.headers)
    untargeted = await seed_history(client, org.headers)
    for key, sees_hint in ((keys.viewer, False), (keys.editor, True)):
        client.cookies.clear()
        await sign_in(client, key)
        card = _card((await client.get("/dashboard")).text, untargeted)
        clicks = (PER_DAY["clicks"] + GOOGLE_PER_DAY["clicks"]) * DAYS
        assert f"<strong>{clicks:,}</strong>" in card and "No target" in card
        assert ("/targets" in card) is sees_hint
        page = (await client.get(f"/dashboard/kpis/{untargeted}")).text
        assert "This KPI has no target in this view" in page and ("/targets" in page) is sees_hint


async def test_words_and_numbers_follow_accept_language(client, keys, org):
    seeded = await seed(client, org.headers)
    await sign_in(client, keys.viewer)
    html = (await client.get("/dashboard", headers={"Accept-Language": "vi-VN,vi;q=0.9,en;q=0.5"})).text
    assert '<html lang="vi">' in html
    spend = _card(html, seeded.kpis["Ad spend"])
    assert format_currency(PER_DAY["spend"] * DAYS, "USD", locale="vi") in spend
    assert "Tháng này" in html


async def test_the_kpi_page_costs_the_same_statements_for_few_and_many_slices(client, keys, org, count_queries, state):
    [(kpi_id, _target)] = await bulk_kpis(state, org.id, 1)
    await sign_in(client, keys.viewer)
    counts = []
    for campaigns in (2, 12):
        points = [
            point("leads", 10, str(MONTH_START + timedelta(days=d)), channel=f"c{i % 3}", campaign=f"{campaigns}-{i}")
            for i in range(campaigns)
            for d in range(DAYS)
        ]
        assert (await push_and_wait(client, org.headers, points))["status"] == "done"
        with count_queries as counted:
            page = await client.get(f"/dashboard/kpis/{kpi_id}?period={MONTH}")
        assert page.status_code == 200
        counts.append(counted.count)
    assert counts[0] == counts[1]
