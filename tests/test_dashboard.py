"""The dashboard: browser sign-in (API key -> HttpOnly, SameSite session cookie; CSRF on every form), tenant
isolation, and pages that show the same numbers as the JSON reports."""

import re
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from services.api.dashboard import formatting
from shared.alerts.models import Alert
from shared.db.scoping import bind_org
from tests.conftest import make_key
from tests.dashboard_support import MONTH, seed, wait_for_alert
from tests.ingest_support import point, push_and_wait
from tests.test_reports import bulk_kpis

CSRF = re.compile(r'name="csrf" value="([^"]+)"')


async def sign_in(client, key: str, next_path: str = "/dashboard"):
    form = await client.get(f"/dashboard/login?next={next_path}")
    assert form.status_code == 200 and "text/html" in form.headers["content-type"]
    csrf = CSRF.search(form.text).group(1)
    return await client.post("/dashboard/login", data={"api_key": key, "csrf": csrf, "next": next_path})


async def test_without_a_session_pages_redirect_to_the_sign_in_form(client):
    for path in ("/dashboard", "/dashboard?period=2026-Q4", "/dashboard/kpis/0194d3a0-0000-7000-8000-000000000001"):
        r = await client.get(path)
        assert r.status_code == 303, path
        assert r.headers["location"].startswith("/dashboard/login?next=%2Fdashboard")
    assert (await client.get("/dashboard/login")).status_code == 200


async def test_a_viewer_key_signs_in_with_a_strict_http_only_cookie(client, keys):
    r = await sign_in(client, keys.viewer)
    assert (r.status_code, r.headers["location"]) == (303, "/dashboard")
    cookie = r.headers["set-cookie"].lower()
    assert (
        "kpi_session=" in cookie
        and "httponly" in cookie
        and "samesite=strict" in cookie
        and "path=/dashboard" in cookie
    )
    page = await client.get("/dashboard")
    assert page.status_code == 200 and "Sign out" in page.text
    assert "script-src" not in page.headers["content-security-policy"]  # default-src 'none': no script at all
    assert page.headers["cache-control"] == "no-store"


@pytest.mark.parametrize(
    ("role", "status", "message"),
    [("ingest", 403, "cannot open the dashboard"), ("bogus", 401, "not valid")],
)
async def test_keys_that_may_not_look_are_refused_at_sign_in(client, keys, role, status, message):
    key = "kpi_nope_0000000000000000000000000000" if role == "bogus" else getattr(keys, role)
    r = await sign_in(client, key)
    assert r.status_code == status and message in r.text
    assert "kpi_session" not in r.headers.get("set-cookie", "")
    assert (await client.get("/dashboard")).status_code == 303


async def test_sign_in_without_the_forms_csrf_token_is_refused(client, keys):
    await client.get("/dashboard/login")
    r = await client.post("/dashboard/login", data={"api_key": keys.viewer, "csrf": "forged"})
    assert r.status_code == 403 and "kpi_session" not in r.headers.get("set-cookie", "")


async def test_sign_in_only_ever_redirects_within_the_dashboard(client, keys):
    for target in ("https://evil.example/", "//evil.example/x", "/v1/api-keys"):
        r = await sign_in(client, keys.viewer, next_path=target)
        assert r.headers["location"] == "/dashboard", target


async def test_a_tampered_or_revoked_session_is_signed_out(client, keys, org):
    viewer_key = await make_key(client, org, "viewer", "temporary")
    await sign_in(client, viewer_key)
    assert (await client.get("/dashboard")).status_code == 200
    good = client.cookies.get("kpi_session")
    payload, mac = good.split(".")
    client.cookies.clear()
    client.cookies.set("kpi_session", f"{payload[:-2]}AA.{mac}", path="/dashboard")
    assert (await client.get("/dashboard")).status_code == 303, "a changed payload fails its signature"

    client.cookies.clear()
    client.cookies.set("kpi_session", good, path="/dashboard")
    assert (await client.get("/dashboard")).status_code == 200
    keys_list = (await client.get("/v1/api-keys?role=viewer", headers=org.headers)).json()["items"]
    key_id = next(k["id"] for k in keys_list if k["name"] == "temporary")
    assert (await client.delete(f"/v1/api-keys/{key_id}", headers=org.headers)).status_code == 204
    assert (await client.get("/dashboard")).status_code == 303, "revoking the key ends its sessions"


async def test_signing_out_needs_the_pages_csrf_token(client, keys):
    await sign_in(client, keys.viewer)
    page = await client.get("/dashboard")
    forged = await client.post("/dashboard/logout", data={"csrf": "forged"})
    assert forged.status_code == 403
    assert (await client.get("/dashboard")).status_code == 200, "still signed in"
    copied = client.cookies.get("kpi_session")
    out = await client.post("/dashboard/logout", data={"csrf": CSRF.search(page.text).group(1)})
    assert (out.status_code, out.headers["location"]) == (303, "/dashboard/login")
    assert (await client.get("/dashboard")).status_code == 303
    client.cookies.set("kpi_session", copied, path="/dashboard")
    assert (await client.get("/dashboard")).status_code == 303, "a copy of the cookie died with the session"


async def test_a_viewer_of_one_org_never_sees_anothers_dashboard(client, keys, other_org):
    theirs = await seed(client, other_org.headers)
    await sign_in(client, keys.viewer)
    page = await client.get("/dashboard")
    assert page.status_code == 200 and "Ada Park" not in page.text
    assert "CPA" not in page.text and "Performance plan" not in page.text and "No open alerts" in page.text
    detail = await client.get(f"/dashboard/kpis/{theirs.kpis['CPA']}")
    assert detail.status_code == 404 and "CPA" not in detail.text


async def test_the_overview_shows_the_scorecards_numbers_grouped_with_charts_budget_alerts_and_org_chart(
    client, keys, org
):
    seeded = await seed(client, org.headers)
    await sign_in(client, keys.viewer)
    page = await client.get("/dashboard")
    assert page.status_code == 200
    html = page.text
    assert html.index("Input KPIs") < html.index("Output KPIs") < html.index("Impact KPIs")

    scorecard = (await client.get(f"/v1/reports/scorecard?period={MONTH}", headers=keys.headers("viewer"))).json()
    rows = {r["name"]: r for g in scorecard["groups"] for r in g["kpis"]}
    for name, kpi_id in seeded.kpis.items():
        card = re.search(rf'<article class="card ([a-z-]+)" data-kpi="{kpi_id}">(.*?)</article>', html, re.S)
        assert card, name
        row = rows[name]
        value = None if row["value"] is None else Decimal(row["value"])
        shown = formatting.value(value, row["unit"], row.get("currency"), "en")  # money as money, by unit
        assert f"<strong>{shown}" in card.group(2), name
        status_text = {"on_track": "On track", "at_risk": "At risk", "off_track": "Off track", "no_data": "No data"}
        assert status_text[row["status"]] in card.group(2), f"{name}: the status in words, not colour alone"
        assert card.group(1) == row["status"].replace("_", "-")
        if row["value"] is not None:
            assert '<svg class="chart chart-trend"' in card.group(2) and 'class="level level-target"' in card.group(2)
    assert rows["CPA"]["status"] == "off_track" and rows["NPS"]["status"] == "no_data"
    assert "no target in this view" not in html, "every KPI has a target this month"
    r = await client.post(
        "/v1/kpis",
        json={
            "name": "Share of voice",
            "category": "impact",
            "formula": "impressions",
            "unit": "count",
            "direction": "higher_is_better",
        },
        headers=org.headers,
    )
    assert r.status_code == 201, r.text
    untargeted = re.search(
        rf'<article class="card no-target" data-kpi="{r.json()["id"]}">(.*?)</article>',
        (await client.get("/dashboard")).text,
        re.S,
    )
    assert untargeted, "a KPI without a target is shown, not dropped"
    assert "Share of voice" in untargeted.group(1) and "No target" in untargeted.group(1)
    assert "/targets" not in untargeted.group(1), "how to set a target is for editors, not viewers"

    alerts = re.search(r'<section class="panel alerts".*?</section>', html, re.S).group(0)
    assert "CPA" in alerts and "Critical" in alerts
    budget = re.search(r'<section class="panel budget".*?</section>', html, re.S).group(0)
    assert budget.count('<svg class="bar"') == 4 and "over by" in budget  # total + 3 lines; Meta is overspent
    org_chart = re.search(r'<section class="panel org".*?</section>', html, re.S).group(0)
    assert org_chart.index("Marketing") < org_chart.index("Paid media") and "1 open" in org_chart
    assert "Raise monthly online revenue" in html


async def test_the_kpi_page_shows_its_levels_history_and_alert(client, keys, org):
    seeded = await seed(client, org.headers)
    await sign_in(client, keys.viewer)
    page = await client.get(f"/dashboard/kpis/{seeded.kpis['CPA']}")
    assert page.status_code == 200
    for level in ("target", "warning", "critical"):
        assert f'class="level level-{level}"' in page.text
    assert "Off track" in page.text and "spend / conversions" in page.text
    assert "→ Off track" in page.text, "the transition is listed with its reason"
    assert (await client.get("/dashboard/kpis/not-an-id")).status_code == 404


async def test_an_unknown_period_is_a_clear_422_page(client, keys):
    await sign_in(client, keys.viewer)
    r = await client.get("/dashboard?period=someday")
    assert r.status_code == 422 and "Unknown period" in r.text
    other = await client.get("/dashboard?period=2026-Q3")
    assert other.status_code == 200 and "2026-Q2" in other.text and "2026-Q4" in other.text
    # The first and last periods the service covers have no link beyond them (and are no 500).
    first, last = await client.get("/dashboard?period=1900-01"), await client.get("/dashboard?period=2199")
    assert first.status_code == 200 and 'rel="prev"' not in first.text and "1900-02" in first.text
    assert last.status_code == 200 and 'rel="next"' not in last.text and "2198" in last.text


async def test_the_overview_costs_the_same_statements_for_5_and_100_kpis(
    client, keys, state, org, other_org, count_queries
):
    await bulk_kpis(state, org.id, 5)
    await bulk_kpis(state, other_org.id, 100)
    counts, cards = [], []
    for key in (keys.viewer, other_org.admin_key):
        client.cookies.clear()
        await sign_in(client, key)
        with count_queries as counted:
            page = await client.get("/dashboard?period=2026-11")
        assert page.status_code == 200
        counts.append(counted.count)
        cards.append(page.text.count('<article class="card'))
    assert cards == [5, 100]
    assert 0 < counts[0] == counts[1]


async def test_editors_acknowledge_an_alert_from_the_dashboard_with_the_pages_csrf_token(client, keys, org, other_org):
    seeded = await seed(client, org.headers)
    theirs = await seed(client, other_org.headers)
    [alert] = (await client.get(f"/v1/alerts?kpi_id={seeded.kpis['CPA']}", headers=keys.headers("viewer"))).json()[
        "items"
    ]
    [their_alert] = (await client.get(f"/v1/alerts?kpi_id={theirs.kpis['CPA']}", headers=other_org.headers)).json()[
        "items"
    ]
    url = f"/dashboard/alerts/{alert['id']}/ack"

    await sign_in(client, keys.viewer)
    page = await client.get("/dashboard")
    assert "Acknowledge" not in page.text, "viewers see no button"
    assert (await client.post(url, data={"csrf": CSRF.search(page.text).group(1)})).status_code == 403

    client.cookies.clear()
    await sign_in(client, keys.editor)
    page = await client.get("/dashboard")
    assert page.text.count("Acknowledge<span") == 3
    assert (await client.post(url, data={"csrf": "forged"})).status_code == 403
    token = CSRF.search(page.text).group(1)
    assert (await client.post(f"/dashboard/alerts/{their_alert['id']}/ack", data={"csrf": token})).status_code == 404
    done = await client.post(url, data={"csrf": token, "next": f"/dashboard?period={MONTH}"})
    assert (done.status_code, done.headers["location"]) == (303, f"/dashboard?period={MONTH}")

    statuses = {
        a["id"]: a["status"] for a in (await client.get("/v1/alerts", headers=keys.headers("viewer"))).json()["items"]
    }
    assert statuses[alert["id"]] == "acknowledged" and list(statuses.values()).count("open") == 2
    theirs_now = (await client.get(f"/v1/alerts?kpi_id={theirs.kpis['CPA']}", headers=other_org.headers)).json()
    assert theirs_now["items"][0]["status"] == "open"
    assert (await client.get("/dashboard")).text.count("Acknowledge<span") == 2


async def test_names_from_users_are_escaped_everywhere_on_the_pages(client, keys, org):
    evil = '<img src=x onerror="alert(1)">'
    r = await client.post(
        "/v1/kpis",
        json={
            "name": evil,
            "category": "output",
            "formula": "spend / conversions",
            "unit": "currency",
            "direction": "lower_is_better",
            "description": evil,
        },
        headers=org.headers,
    )
    assert r.status_code == 201, r.text
    kpi_id = r.json()["id"]
    target = {
        "period": MONTH,
        "target_value": "20",
        "threshold_mode": "absolute",
        "warning": "25",
        "critical": "30",
        "pacing": "none",
    }
    assert (await client.post(f"/v1/kpis/{kpi_id}/targets", json=target, headers=org.headers)).status_code == 201
    await push_and_wait(
        client, org.headers, [point("spend", 500, f"{MONTH}-01"), point("conversions", 5, f"{MONTH}-01")]
    )
    await wait_for_alert(client, org.headers, kpi_id)
    await sign_in(client, keys.viewer)
    for path in ("/dashboard", f"/dashboard/kpis/{kpi_id}"):
        html = (await client.get(path)).text
        assert "<img" not in html and "&lt;img src=x" in html, path


async def test_pages_of_a_fresh_organisation_render_their_empty_states(client, keys, org):
    kpi = await client.post(
        "/v1/kpis",
        json={
            "name": "Leads",
            "category": "output",
            "formula": "leads",
            "unit": "count",
            "direction": "higher_is_better",
        },
        headers=org.headers,
    )
    plan = await client.post("/v1/plans", json={"name": "No budget yet", "period_label": MONTH}, headers=org.headers)
    assert (
        await client.post(f"/v1/plans/{plan.json()['id']}/status", json={"status": "approved"}, headers=org.headers)
    ).status_code == 200
    await sign_in(client, keys.viewer)
    overview = await client.get("/dashboard")
    assert overview.status_code == 200
    for empty in (
        "no target in this view",
        "No open alerts.",
        "No approved or active plan with a budget",
        "No objectives yet.",
        "No teams yet.",
        "nothing to compare with",
    ):
        assert empty in overview.text, empty
    detail = await client.get(f"/dashboard/kpis/{kpi.json()['id']}")
    assert detail.status_code == 200 and "This KPI has no target in this view" in detail.text
    assert "Nothing to split by" in detail.text
    week = await client.get("/dashboard?period=2026-W05")
    assert week.status_code == 200 and "2026-W04" in week.text and "2026-W06" in week.text


async def test_a_no_data_alert_is_shown_as_no_data_in_words_and_icon(client, keys, state, org):
    [(kpi_id, target_id)] = await bulk_kpis(state, org.id, 1, prefix="Leads")
    async with state.db.sessionmaker() as session:
        bind_org(session, org.id)
        session.add(
            Alert(
                kpi_id=kpi_id,
                target_id=target_id,
                severity="no_data",
                reason="Leads has had no data for 3 days",
                period_label="2026-11",
                opened_at=datetime.now(UTC),
            )
        )
        await session.commit()
    await sign_in(client, keys.viewer)
    for path in ("/dashboard?period=2026-11", f"/dashboard/kpis/{kpi_id}"):
        html = (await client.get(path)).text
        badges = re.findall(r'<li class="alert ([a-z-]+)">\s*<span class="badge [a-z-]+">(.*?)</span>\s*<', html)
        assert badges == [("no-data", '<span aria-hidden="true">?</span> No data')], path  # not "! Warning"
