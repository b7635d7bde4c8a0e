"""The dashboard in a real browser: Debian's headless Chromium (installed by .ci/run), driven by playwright over
the DevTools protocol, against the app served by uvicorn on loopback, on either backend. Signs in through the form
and goes through each part of the dashboard with no console errors or failed requests; saves screenshots under
test-artifacts/: dashboard-<backend>.png (overview), -phone.png, -kpi.png (a KPI with its drill-down), -vi.png
(the Vietnamese overview), -print.png and dashboard-<backend>.pdf (the printed page), and
dashboard-<backend>-notifications.png; dashboard-<backend>-kpi.pdf is the printed KPI page."""

import asyncio
import csv
import io
import re
import shutil
from contextlib import AsyncExitStack
from datetime import timedelta
from pathlib import Path

from babel.numbers import format_currency

from tests import support
from tests.dashboard_support import DAYS, MONTH_START, PREVIOUS_DAYS, PREVIOUS_START, seed, seed_history
from tests.receiver import serving
from tests.test_notifications import channel, route

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


def _watch(page, problems: list[str]) -> None:
    page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.on("requestfailed", lambda r: problems.append(f"request failed: {r.url}"))
    page.on("response", lambda r: problems.append(f"{r.status} {r.url}") if r.status >= 400 else None)


async def _sign_in(page, base: str, key: str) -> None:
    await page.goto(f"{base}/dashboard")
    assert page.url.startswith(f"{base}/dashboard/login"), "not signed in: the sign-in form"
    await page.fill("#api_key", key)
    await page.click("form[action='/dashboard/login'] button[type=submit]")
    await page.wait_for_url(f"{base}/dashboard")


async def _no_overflow(page, what: str) -> None:
    overflow = await page.evaluate("document.scrollingElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"{what} is {overflow}px wider than a phone"


def _pdf_pages(pdf: bytes) -> int:
    return len(re.findall(rb"/Type\s*/Page[^s]", pdf))


async def test_the_dashboard_in_chromium_ranges_trends_drill_down_money_export_print_and_languages(
    app, client, keys, org
):
    """Each part of the manager's dashboard in a real browser: presets, a custom range and the comparison in the
    URL; twelve-period trends with focusable points; a KPI split by channel and campaign, each row a filtered view;
    money as money and a rise of spend marked worse in words; a KPI without a target shown (its set-up hint for
    editors only); the view as CSV and as one printed page; Vietnamese by choice and by Accept-Language."""
    if shutil.which("chromium") is None:
        support.unavailable("Chromium", "install Debian's `chromium` package (.ci/run does)")
    from playwright.async_api import async_playwright

    seeded = await seed(client, org.headers)
    untargeted = await seed_history(client, org.headers)
    digest = {"frequency": "weekly", "time": "09:00", "weekday": "monday"}
    slack = await channel(
        client, org.headers, name="#marketing-alerts", kind="slack", url="http://127.0.0.1:9/s/T0/B0/x", digest=digest
    )
    await route(
        client,
        org.headers,
        rules=[{"name": "Critical to chat", "match": {"severities": ["critical"]}, "channel_ids": [slack["id"]]}],
        quiet_hours={"start": "22:00", "end": "07:00"},
    )
    server = AsyncExitStack()
    base = await server.enter_async_context(serving(app))
    support.ARTIFACTS.mkdir(exist_ok=True)
    names = ("", "-phone", "-kpi", "-vi", "-print")
    shots = {name: support.ARTIFACTS / f"dashboard-{support.BACKEND}{name}.png" for name in names}
    shots["-notifications"] = support.ARTIFACTS / f"dashboard-{support.BACKEND}-notifications.png"
    problems: list[str] = []
    try:
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
            context = await browser.new_context(
                viewport={"width": 1280, "height": 900}, locale="en-GB", accept_downloads=True
            )
            page = await context.new_page()
            _watch(page, problems)
            await _sign_in(page, base, keys.viewer)
            assert await page.get_attribute("html", "lang") == "en"

            # 5. Every KPI is a card: the six with targets and the one without, in words, with no hint to a viewer.
            assert await page.locator("article.card").count() == 7
            bare = page.locator(f'article.card[data-kpi="{untargeted}"]')
            assert "no-target" in await bare.get_attribute("class")
            bare_text = await bare.inner_text()
            assert "No target" in bare_text and "/targets" not in bare_text
            assert await bare.locator("svg.chart-trend g.point").count() >= 1, "its value and trend all the same"

            # 4. Money as money; a rise of spend where lower is better is "worse" in words, with an icon.
            spend = page.locator(f'article.card[data-kpi="{seeded.kpis["Ad spend"]}"]')
            value = await spend.locator(".value strong").inner_text()
            assert value == f"${200 * DAYS + 80 * DAYS:,.2f}", value
            change = await spend.locator(".change").inner_text()
            assert "worse" in change and "✕" in change and "▲" in change, change
            assert await spend.locator(".change.worse").count() == 1
            revenue_change = await page.locator(f'article[data-kpi="{seeded.kpis["Revenue"]}"] .change').inner_text()
            assert "better" in revenue_change and "✓" in revenue_change, revenue_change

            # 2. A trend per card over twelve months: axes with labels, the target band, a title on every point,
            # points that take keyboard focus; an off-target point is drawn as a square, not a circle.
            cpa_card = page.locator(f'article.card[data-kpi="{seeded.kpis["CPA"]}"]')
            chart = cpa_card.locator("svg.chart-trend")
            assert await chart.locator("text.tick-y").count() == 3 and await chart.locator("text.tick-x").count() == 2
            assert await chart.locator("rect.band").count() >= 1
            point = chart.locator("g.point").last
            assert "target" in await point.locator("title").text_content()
            assert await point.locator("rect.marker").count() == 1, "CPA is off target: a square"
            assert not await point.locator("text.point-label").is_visible()
            await point.focus()
            assert await page.evaluate("document.activeElement.getAttribute('class')") == await point.get_attribute(
                "class"
            )
            shown = point.locator("text.point-label")
            assert await shown.is_visible(), "a focused point shows its value, not only a hover title"
            assert (await shown.text_content()).startswith("$")
            await page.screenshot(path=str(shots[""]), full_page=True)

            # 1. Presets and the comparison are links that put the choice in the URL; a custom range is a form.
            await page.click("ul.presets a:text('Last 30 days')")
            await page.wait_for_url(re.compile(r"range=last_30_days"))
            assert "Last 30 days" in await page.locator(".period-head h1").inner_text()
            await page.click(".compare-with a:text('Same period last year')")
            await page.wait_for_url(re.compile(r"range=last_30_days.*compare=last_year"))
            await page.fill(".range-form input[name=from]", str(PREVIOUS_START))
            await page.fill(".range-form input[name=to]", str(MONTH_START - timedelta(days=1)))
            await page.select_option(".range-form select[name=compare]", "previous")
            await page.click(".range-form button")
            await page.wait_for_url(re.compile(r"range=custom"))
            custom = page.url
            # The form's dates are a whole month: the page says so, and steps to the months around it.
            assert await page.locator(".period-head a[rel=prev]").count() == 1
            last_month_spend = await spend.locator(".value strong").inner_text()
            assert last_month_spend == f"${150 * PREVIOUS_DAYS:,.2f}", (custom, last_month_spend)

            # 6. The view as CSV (a row per card, plain numbers) and as one printed page.
            async with page.expect_download() as download:
                await page.click("a.download")
            saved = await (await download.value).path()
            text = await asyncio.to_thread(Path(saved).read_text, encoding="utf-8-sig")
            rows = list(csv.reader(io.StringIO(text)))
            assert len(rows) == 1 + 7 and rows[0][:2] == ["Category", "KPI"]
            spend_row = next(r for r in rows if r[1] == "Ad spend")
            assert spend_row[rows[0].index("Value")] == str(150 * PREVIOUS_DAYS)
            await page.goto(f"{base}/dashboard")
            await page.emulate_media(media="print")
            pdf = await page.pdf(format="A4", print_background=True)
            (support.ARTIFACTS / f"dashboard-{support.BACKEND}.pdf").write_bytes(pdf)
            await page.set_viewport_size({"width": 794, "height": 1123})  # A4 at 96 dpi, as printed
            await page.screenshot(path=str(shots["-print"]), full_page=True)
            await page.set_viewport_size({"width": 1280, "height": 900})
            assert _pdf_pages(pdf) == 1, f"printed on {_pdf_pages(pdf)} pages"
            assert await page.locator("header.top").is_hidden() and await page.locator(".range-form").is_hidden()
            await page.emulate_media(media="screen")

            # A phone: one column, nothing wider than the screen, the objectives table stacked.
            await page.set_viewport_size({"width": 390, "height": 844})
            await _no_overflow(page, "the overview")
            assert await page.eval_on_selector("table.stack td", "e => getComputedStyle(e).display") == "grid"
            await page.screenshot(path=str(shots["-phone"]), full_page=True)
            await page.set_viewport_size({"width": 1280, "height": 900})

            # 3. The KPI page: a larger trend, the value split by channel and by campaign as ratios of sums, sorted,
            # each row linking to the view filtered to it.
            await page.click(f'article.card[data-kpi="{seeded.kpis["CPA"]}"] h3 a')
            await page.wait_for_selector("svg.chart-trend-large")
            assert await page.locator("svg.chart-trend-large text.tick-x").count() == 12
            by_channel = page.locator("#by-channel + table.drill-table")
            cells = await by_channel.locator("tbody tr").all_inner_texts()
            assert [c.split("\t")[0] for c in cells] == ["google_ads", "meta"], cells
            assert "$80.00" in cells[0] and "$33.33" in cells[1], cells  # Σspend / Σconversions of each channel
            assert await page.locator("#by-campaign").count() == 1
            await page.screenshot(path=str(shots["-kpi"]), full_page=True)
            await by_channel.locator("tbody tr a:text('google_ads')").click()
            await page.wait_for_url(re.compile(r"filter=channel%3Agoogle_ads"))
            assert "google_ads" in await page.locator(".filters").inner_text()
            assert await page.locator(".kpi-value .value strong").inner_text() == "$80.00"
            campaigns = await page.locator("table.drill-table tbody tr").all_inner_texts()
            assert [c.split("\t")[0] for c in campaigns] == ["brand"], campaigns
            # The KPI page fits a phone, and prints on one page too.
            await page.set_viewport_size({"width": 390, "height": 844})
            await _no_overflow(page, "the KPI page")
            await page.set_viewport_size({"width": 1280, "height": 900})
            await page.emulate_media(media="print")
            kpi_pdf = await page.pdf(format="A4", print_background=True)
            (support.ARTIFACTS / f"dashboard-{support.BACKEND}-kpi.pdf").write_bytes(kpi_pdf)
            assert _pdf_pages(kpi_pdf) == 1, f"the KPI page printed on {_pdf_pages(kpi_pdf)} pages"
            await page.emulate_media(media="screen")

            # 7. Vietnamese, chosen on the page and remembered by the session; numbers and dates in its format.
            await page.goto(f"{base}/dashboard")
            await page.select_option("form.language select[name=locale]", "vi")
            await page.click("form.language button")
            await page.wait_for_load_state()
            assert await page.get_attribute("html", "lang") == "vi"
            assert "Tháng này" in await page.locator("ul.presets").inner_text()
            vi_value = await spend.locator(".value strong").inner_text()
            assert vi_value == format_currency(200 * DAYS + 80 * DAYS, "USD", locale="vi"), vi_value
            assert "xấu hơn" in await spend.locator(".change").inner_text()
            await page.screenshot(path=str(shots["-vi"]), full_page=True)
            await page.reload()
            assert await page.get_attribute("html", "lang") == "vi", "the choice is kept by the session"

            # An editor whose browser asks for Vietnamese gets it by default, and the set-up hint for the KPI.
            editor = await browser.new_context(viewport={"width": 1280, "height": 900}, locale="vi-VN")
            page2 = await editor.new_page()
            _watch(page2, problems)
            await _sign_in(page2, base, keys.editor)
            assert await page2.get_attribute("html", "lang") == "vi"
            hint = await page2.locator(f'article.card[data-kpi="{untargeted}"] .hint').inner_text()
            assert f"/v1/kpis/{untargeted}/targets" in hint

            await page.click("nav.site a[href='/dashboard/notifications']")
            await page.wait_for_url(f"{base}/dashboard/notifications")
            assert await page.locator("table.channels tbody tr").count() == 1
            assert await page.locator("table.rules tbody tr").count() == 1
            await page.select_option("form.language select[name=locale]", "en")
            await page.click("form.language button")
            await page.wait_for_load_state()
            assert "Weekly on Monday at 09:00" in await page.locator("table.channels").inner_text()
            await page.screenshot(path=str(shots["-notifications"]), full_page=True)
            await page.set_viewport_size({"width": 390, "height": 844})
            await _no_overflow(page, "the notifications page")
            await browser.close()
    finally:
        await server.aclose()
    assert problems == []
    for path in shots.values():
        assert path.stat().st_size > 10_000, f"{path} looks empty"


async def test_the_api_docs_render_with_no_network_but_the_service(app):
    """/docs (Swagger UI) and /redoc (ReDoc) load their files from the service itself: with every other host
    blocked, as where the service runs without internet, both render every operation."""
    if shutil.which("chromium") is None:
        support.unavailable("Chromium", "install Debian's `chromium` package (.ci/run does)")
    from playwright.async_api import async_playwright

    server = AsyncExitStack()
    base = await server.enter_async_context(serving(app))
    elsewhere: list[str] = []
    support.ARTIFACTS.mkdir(exist_ok=True)
    try:
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
            page = await browser.new_page(viewport={"width": 1280, "height": 900})

            async def only_the_service(route):
                if route.request.url.startswith(base):
                    await route.continue_()
                else:
                    elsewhere.append(route.request.url)
                    await route.abort()

            await page.route("**/*", only_the_service)
            await page.goto(f"{base}/docs")
            await page.wait_for_selector(".swagger-ui .opblock-summary-path", timeout=20_000)
            assert await page.locator(".swagger-ui .opblock").count() >= 100
            assert "Marketing department" in await page.locator(".swagger-ui .info .title").inner_text()
            await page.screenshot(path=str(support.ARTIFACTS / f"docs-{support.BACKEND}.png"))

            await page.goto(f"{base}/redoc")
            await page.wait_for_selector("li[data-item-id] label", timeout=20_000)  # ReDoc's menu, built from the spec
            assert await page.locator("li[data-item-id]").count() >= 100
            assert "Marketing department" in await page.locator("h1").first.inner_text()
            await page.screenshot(path=str(support.ARTIFACTS / f"redoc-{support.BACKEND}.png"))
            await browser.close()
    finally:
        await server.aclose()
    # Everything they need comes from the service; the one outside request is ReDoc's "powered by" logo, blocked
    # here as it would be offline, without which the page is complete (checked above).
    assert set(elsewhere) <= {"https://cdn.redoc.ly/redoc/logo-mini.svg"}, f"the docs reached out: {elsewhere}"
