"""The dashboard's notifications page: an organisation's channels, routing and silences as admins set them up
through the API, shown in words (never a webhook URL's secret path or an SMTP password), with setup instructions
for an admin where a part is empty and none for a viewer."""

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from tests.smtp_server import running_smtp_server
from tests.test_dashboard import sign_in
from tests.test_notifications import channel, route, settled, smtp_settings

ZONE = "Asia/Ho_Chi_Minh"
SLACK_SECRET = "T0ABCDEF/B0GHIJKL/x1Secr3tPathZ"
SLACK_URL = f"http://127.0.0.1:9/services/{SLACK_SECRET}"
TEAMS_URL = "http://127.0.0.1:9/workflows/f00d/triggers/manual?sig=s3cr3tSig"
SMTP_PASSWORD = "pw-s3cret-Value"
PAGE = "/dashboard/notifications"


def local(iso: str) -> str:
    """An API timestamp as the page shows it in the organisation's zone: "Mon 23 Nov 2026 09:00"."""
    at = datetime.fromisoformat(iso.replace("Z", "+00:00")).astimezone(ZoneInfo(ZONE))
    return f"{at:%a} {at.day} {at:%b} {at.year} {at:%H:%M}"


def section(html: str, heading_id: str) -> str:
    found = re.search(rf'<section class="panel" aria-labelledby="{heading_id}">(.*?)</section>', html, re.S)
    assert found, heading_id
    return found.group(1)


def row(html: str, channel_id: str) -> str:
    found = re.search(rf'<tr data-channel="{channel_id}">(.*?)</tr>', html, re.S)
    assert found, channel_id
    return re.sub(r"\s+", " ", found.group(1))


async def post(client, path: str, body: dict, headers: dict) -> dict:
    r = await client.post(path, json=body, headers=headers)
    assert r.status_code == 201, r.text
    return r.json()


async def test_an_admin_sees_channels_routing_and_silences_in_words_without_secrets(client, keys, org):
    admin, editor = org.headers, keys.headers("editor")
    assert (await client.patch("/v1/org", json={"time_zone": ZONE}, headers=admin)).status_code == 200
    team = await post(client, "/v1/teams", {"name": "Paid media"}, admin)
    kpi = await post(
        client,
        "/v1/kpis",
        {
            "name": "CPA",
            "category": "output",
            "formula": "spend / conversions",
            "unit": "currency",
            "direction": "lower_is_better",
        },
        admin,
    )
    async with running_smtp_server(auth=("alerts", SMTP_PASSWORD)) as smtp:
        slack = await channel(
            client,
            admin,
            name="#marketing-alerts",
            kind="slack",
            url=SLACK_URL,
            digest={"frequency": "weekly", "time": "09:00", "weekday": "monday"},
        )
        email = await channel(
            client,
            admin,
            name="Marketing leads",
            kind="email",
            email=smtp_settings(
                smtp,
                username="alerts",
                password=SMTP_PASSWORD,
                sender="KPI alerts <kpi@example.com>",
                recipients=["lead@example.com"],
            ),
        )
        teams = await channel(client, admin, name="Marketing (Teams)", kind="teams", url=TEAMS_URL, enabled=False)
        await route(
            client,
            admin,
            mode="all",
            rules=[
                {
                    "name": "Critical output KPIs to chat",
                    "match": {"severities": ["critical"], "categories": ["output"]},
                    "channel_ids": [slack["id"]],
                },
                {
                    "name": "Paid media by mail",
                    "match": {"team_ids": [team["id"]], "event_types": ["kpi.at_risk", "kpi.off_track"]},
                    "channel_ids": [email["id"], teams["id"]],
                },
            ],
            default_channel_ids=[slack["id"]],
            quiet_hours={"start": "22:00", "end": "07:00"},
        )
        now = datetime.now(UTC)
        active = await post(
            client,
            "/v1/silences",
            {
                "ends_at": (now + timedelta(hours=2)).isoformat(),
                "match": {"kpi_ids": [kpi["id"]]},
                "comment": "Black Friday launch: CPA spikes expected",
            },
            editor,
        )
        pending = await post(
            client,
            "/v1/silences",
            {
                "starts_at": (now + timedelta(days=1)).isoformat(),
                "ends_at": (now + timedelta(days=2)).isoformat(),
                "comment": "Agency migration",
            },
            editor,
        )
        r = await client.post(f"/v1/notification-channels/{email['id']}/test", headers=admin)
        assert r.status_code == 202, r.text
        await smtp.wait_for(1)
        [sent] = await settled(client, admin, email["id"], 1)
        assert sent["status"] == "delivered"

    await sign_in(client, keys.admin, PAGE)
    page = await client.get(PAGE)
    assert page.status_code == 200, page.text
    html = page.text
    assert 'href="/dashboard/notifications" aria-current="page"' in html

    shown = row(html, slack["id"])
    assert "#marketing-alerts" in shown and "<td>Slack</td>" in shown
    assert "http://127.0.0.1:9/…" in shown, "where it posts: scheme and host, never the path holding the token"
    assert "Weekly on Monday at 09:00 (Asia/Ho_Chi_Minh)" in shown
    next_digest = datetime.fromisoformat(slack["next_digest_at"].replace("Z", "+00:00"))
    assert timedelta(0) < next_digest - now <= timedelta(days=7)
    assert re.fullmatch(r"Mon \d+ \w{3} \d{4} 09:00", local(slack["next_digest_at"]))
    assert f'next <time datetime="{next_digest.astimezone(ZoneInfo(ZONE)).isoformat()}">' in shown
    assert local(slack["next_digest_at"]) in shown, "the next digest in the organisation's zone"
    assert "✓</span> Enabled" in shown and "Nothing sent yet" in shown

    shown = row(html, email["id"])
    assert "<td>E-mail</td>" in shown and f"{smtp.host}:{smtp.port} → lead@example.com" in shown
    assert "No digest" in shown and "✓</span> Delivered" in shown

    shown = row(html, teams["id"])
    assert "<td>Microsoft Teams</td>" in shown and "✕</span> Disabled" in shown and "by an admin" in shown

    routing = section(html, "routing-h")
    assert "Every matching rule" in routing and "22:00 – 07:00 (Asia/Ho_Chi_Minh)" in routing
    assert routing.index("Critical output KPIs to chat") < routing.index("Paid media by mail")
    for words in (
        "Severity: critical",
        "KPI category: output",
        "Team: Paid media",
        "Event: KPI at risk or KPI off track",
        "Marketing leads, Marketing (Teams) (disabled)",
    ):
        assert words in routing, words
    default = re.search(r"<dt>Default route</dt><dd>(.*?)</dd>", routing, re.S).group(1)
    assert default.startswith("#marketing-alerts<br>")

    silences = section(html, "silences-h")
    assert silences.index("Black Friday launch") < silences.index("Agency migration")
    assert "KPI: CPA" in silences and "Every event" in silences and silences.count("editor key") == 2
    assert "✓</span> Active" in silences and "Pending" in silences
    assert local(active["ends_at"]) in silences and local(pending["starts_at"]) in silences

    for secret in (SLACK_SECRET, "x1Secr3tPathZ", "s3cr3tSig", SMTP_PASSWORD, "triggers/manual"):
        assert secret not in html, secret
    assert "POST /v1/" not in html and "PUT /v1/" not in html, "nothing is empty: no setup instructions"

    client.cookies.clear()
    await sign_in(client, keys.viewer, PAGE)
    seen = (await client.get(PAGE)).text
    assert "#marketing-alerts" in seen and "Weekly on Monday at 09:00 (Asia/Ho_Chi_Minh)" in seen
    assert "Black Friday launch" in seen and "Every matching rule" in seen
    assert "lead@example.com" not in seen and "Posts to" not in seen, "where channels post is for admins, as in the API"
    assert "/v1/" not in seen


async def test_an_empty_setup_tells_an_admin_how_and_a_viewer_only_what_is_missing(client, keys):
    await sign_in(client, keys.admin, PAGE)
    html = (await client.get(PAGE)).text
    assert "No channels yet. Add a Slack" in section(html, "channels-h")
    assert "<code>POST /v1/notification-channels</code>" in html
    assert "<code>PUT /v1/notification-routing</code>" in section(html, "routing-h")
    assert "<code>POST /v1/silences</code>" in section(html, "silences-h")

    client.cookies.clear()
    await sign_in(client, keys.viewer, PAGE)
    html = (await client.get(PAGE)).text
    assert '<p class="empty">No channels yet.</p>' in html and "No routing yet." in html
    assert "No active or pending silences." in html
    assert "/v1/" not in html, "a viewer cannot set anything up: no instructions"


async def test_the_overview_links_to_the_page_and_the_page_costs_the_same_statements_for_1_and_6_channels(
    client, keys, org, other_org, count_queries
):
    await sign_in(client, keys.viewer)
    overview = (await client.get("/dashboard")).text
    assert 'href="/dashboard" aria-current="page"' in overview and 'href="/dashboard/notifications"' in overview

    for handle, count in ((org, 1), (other_org, 6)):
        team = await post(client, "/v1/teams", {"name": "Paid media"}, handle.headers)
        made = [
            await channel(client, handle.headers, name=f"#alerts-{i}", kind="slack", url=f"http://127.0.0.1:9/s/{i}")
            for i in range(count)
        ]
        rules = [
            {"name": f"rule {i}", "match": {"team_ids": [team["id"]]}, "channel_ids": [c["id"]]}
            for i, c in enumerate(made)
        ]
        await route(client, handle.headers, rules=rules, default_channel_ids=[made[0]["id"]])
    counts, rows = [], []
    for key in (keys.viewer, other_org.admin_key):
        client.cookies.clear()
        await sign_in(client, key)
        with count_queries as counted:
            page = await client.get(PAGE)
        assert page.status_code == 200
        counts.append(counted.count)
        rows.append(page.text.count("<tr data-channel="))
    assert rows == [1, 6], "each organisation sees its own channels only"
    assert 0 < counts[0] == counts[1]
