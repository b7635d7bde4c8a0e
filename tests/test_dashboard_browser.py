"""The dashboard in a real browser: Debian's headless Chromium (installed by .ci/run), driven by playwright over
the DevTools protocol, against the app served by uvicorn on loopback. Signs in through the form, checks the
cards, charts and alerts render with no console errors or failed requests, fits a phone's width, and saves
screenshots under test-artifacts/ (dashboard-<backend>.png, -phone.png, -kpi.png, and dashboard-notifications.png
of the notifications page)."""

import shutil
from contextlib import AsyncExitStack

from tests import support
from tests.dashboard_support import DAYS, seed
from tests.receiver import serving
from tests.test_notifications import channel, route

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


async def test_the_dashboard_renders_in_chromium_without_errors(app, client, keys, org):
    if shutil.which("chromium") is None:
        support.unavailable("Chromium", "install Debian's `chromium` package (.ci/run does)")
    from playwright.async_api import async_playwright

    await seed(client, org.headers)
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
    shots = {name: support.ARTIFACTS / f"dashboard-{support.BACKEND}{name}.png" for name in ("", "-phone", "-kpi")}
    shots["-notifications"] = support.ARTIFACTS / "dashboard-notifications.png"
    problems: list[str] = []
    try:
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
            page = await browser.new_page(viewport={"width": 1280, "height": 900})
            page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
            page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
            page.on("requestfailed", lambda r: problems.append(f"request failed: {r.url}"))
            page.on("response", lambda r: problems.append(f"{r.status} {r.url}") if r.status >= 400 else None)

            await page.goto(f"{base}/dashboard")
            assert page.url.startswith(f"{base}/dashboard/login"), "not signed in: the sign-in form"
            await page.fill("#api_key", keys.viewer)
            await page.click("button[type=submit]")
            await page.wait_for_url(f"{base}/dashboard")

            assert await page.locator("article.card").count() == 6
            # Each series ends in a marked point; a line joins its points from the month's second day on.
            assert await page.locator("article.card svg.chart circle.series-end").count() >= 5
            if DAYS >= 2:
                assert await page.locator("article.card svg.chart polyline.series").count() >= 5
            assert await page.locator(".alert-list li").count() >= 1
            assert "Off track" in await page.locator("article.card.off-track .badge").first.inner_text()
            assert await page.locator("svg.bar").count() == 4
            # The stylesheet loaded and applied: cards are laid out in a grid, the status colour is set.
            assert await page.eval_on_selector(".cards", "e => getComputedStyle(e).display") == "grid"
            await page.screenshot(path=str(shots[""]), full_page=True)

            await page.set_viewport_size({"width": 390, "height": 844})
            overflow = await page.evaluate("document.scrollingElement.scrollWidth - window.innerWidth")
            assert overflow <= 0, f"the page is {overflow}px wider than a phone"
            await page.screenshot(path=str(shots["-phone"]), full_page=True)

            await page.set_viewport_size({"width": 1280, "height": 900})
            await page.click("article.card.off-track h3 a")
            await page.wait_for_selector(".chart-wide svg.chart")
            assert await page.locator(".chart-wide polyline.level-critical").count() == 1
            await page.screenshot(path=str(shots["-kpi"]), full_page=True)

            await page.click("nav.site a[href='/dashboard/notifications']")
            await page.wait_for_url(f"{base}/dashboard/notifications")
            assert await page.locator("table.channels tbody tr").count() == 1
            assert await page.locator("table.rules tbody tr").count() == 1
            assert "Weekly on Monday at 09:00" in await page.locator("table.channels").inner_text()
            await page.screenshot(path=str(shots["-notifications"]), full_page=True)
            await page.set_viewport_size({"width": 390, "height": 844})
            overflow = await page.evaluate("document.scrollingElement.scrollWidth - window.innerWidth")
            assert overflow <= 0, f"the notifications page is {overflow}px wider than a phone"
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
