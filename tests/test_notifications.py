"""Notifications end to end, on both backends with the real worker: an off-track KPI reaches Slack, Teams and
e-mail per the routing (real HTTP receivers, a real SMTP server); silences and quiet hours hold what they should;
a weekly digest arrives at its local time (the sweep is run with a `now`: time travel)."""

import json
import uuid
from contextlib import AsyncExitStack
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from tests.ingest_support import point, push_and_wait
from tests.receiver import running_receiver
from tests.smtp_server import running_smtp_server
from tests.test_alerts_e2e import cpa_with_target

DAY = "2026-11-20"


async def channel(client, headers, **body) -> dict:
    r = await client.post("/v1/notification-channels", json=body, headers=headers)
    assert r.status_code == 201, r.text
    return r.json()


async def three_channels(
    client, admin, stack: AsyncExitStack, **extra
) -> tuple[dict, dict, dict, object, object, object]:
    """A Slack, a Teams and an e-mail channel, each to its own real receiver."""
    slack_rx = await stack.enter_async_context(running_receiver())
    teams_rx = await stack.enter_async_context(running_receiver())
    smtp = await stack.enter_async_context(running_smtp_server())
    slack = await channel(client, admin, name="#marketing-alerts", kind="slack", url=slack_rx.url, **extra)
    teams = await channel(client, admin, name="Marketing (Teams)", kind="teams", url=teams_rx.url)
    email = await channel(
        client,
        admin,
        name="Marketing leads",
        kind="email",
        email=smtp_settings(
            smtp, sender="KPI alerts <kpi@example.com>", recipients=["lead@example.com", "cmo@example.com"]
        ),
    )
    return slack, teams, email, slack_rx, teams_rx, smtp


async def route(client, admin, **routing) -> dict:
    r = await client.put("/v1/notification-routing", json=routing, headers=admin)
    assert r.status_code == 200, r.text
    return r.json()


async def deliveries(client, admin, channel_id: str, **params) -> list[dict]:
    r = await client.get(f"/v1/notification-channels/{channel_id}/deliveries", params=params, headers=admin)
    assert r.status_code == 200, r.text
    return r.json()["items"]


async def settled(client, admin, channel_id: str, count: int) -> list[dict]:
    """The channel's deliveries once `count` of them are no longer pending (the receiver hears before the log)."""
    import asyncio

    for _ in range(400):
        items = await deliveries(client, admin, channel_id)
        if len([d for d in items if d["status"] != "pending"]) >= count:
            return items
        await asyncio.sleep(0.05)
    raise AssertionError(f"deliveries never settled: {items}")


def smtp_settings(smtp, **fields) -> dict:
    """E-mail settings for the test SMTP server (no TLS on loopback)."""
    return {
        "host": smtp.host,
        "port": smtp.port,
        "security": "none",
        "sender": "kpi@example.com",
        "recipients": ["ops@example.com"],
        **fields,
    }


def block_kit_text(body: dict) -> str:
    """Every text of a Slack message, for looking facts up."""
    return json.dumps(body, ensure_ascii=False)


async def test_an_off_track_kpi_reaches_slack_teams_and_email_once_each_per_the_routing(client, keys):
    admin, ingest = keys.headers("admin"), keys.headers("ingest")
    async with AsyncExitStack() as stack:
        slack, teams, email, slack_rx, teams_rx, smtp = await three_channels(client, admin, stack)
        # All-matching: the critical rule gives Slack and Teams, the output-KPI rule e-mail; impact KPIs only Slack.
        await route(
            client,
            admin,
            mode="all",
            rules=[
                {
                    "name": "critical to chat",
                    "match": {"severities": ["critical"]},
                    "channel_ids": [slack["id"], teams["id"]],
                },
                {"name": "output KPIs by mail", "match": {"categories": ["output"]}, "channel_ids": [email["id"]]},
                {"name": "impact only", "match": {"categories": ["impact"]}, "channel_ids": [slack["id"]]},
            ],
        )
        kpi_id = await cpa_with_target(client, admin)
        # CPA = 200 / 10 = 20: past the critical level 15.
        await push_and_wait(client, ingest, [point("spend", 200, DAY), point("conversions", 10, DAY)])

        [slack_msg] = await slack_rx.wait_for(1)
        body = json.loads(slack_msg.body)
        assert "CPA" in body["text"] and "Off track" in body["text"]
        kinds = [b["type"] for b in body["blocks"]]
        assert kinds[0] == "header" and "actions" in kinds
        [button] = next(b for b in body["blocks"] if b["type"] == "actions")["elements"]
        assert button["url"].endswith(f"/dashboard/kpis/{kpi_id}")
        assert ":red_circle:" in block_kit_text(body) and "20" in block_kit_text(body)

        [teams_msg] = await teams_rx.wait_for(1)
        card = json.loads(teams_msg.body)
        assert card["type"] == "message"
        [attachment] = card["attachments"]
        assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
        content = attachment["content"]
        assert content["type"] == "AdaptiveCard" and content["version"]
        facts = {f["title"]: f["value"] for b in content["body"] if b["type"] == "FactSet" for f in b["facts"]}
        assert "Off track" in " ".join(facts.values())
        assert content["actions"][0]["url"].endswith(f"/dashboard/kpis/{kpi_id}")

        [mail] = await smtp.wait_for(1)
        message = mail.parsed()
        assert sorted(mail.rcpt_tos) == ["cmo@example.com", "lead@example.com"]
        assert "Off track" in message["Subject"] and "CPA" in message["Subject"]
        assert message.get_content_type() == "multipart/alternative"
        plain = message.get_body(("plain",)).get_content()
        html = message.get_body(("html",)).get_content()
        assert f"/dashboard/kpis/{kpi_id}" in plain and f"/dashboard/kpis/{kpi_id}" in html

        for ch, code in ((slack, 200), (teams, 200), (email, 250)):
            [delivered] = await settled(client, admin, ch["id"], 1)
            assert delivered["status"] == "delivered" and delivered["event_type"] == "kpi.off_track"
            assert [a["status_code"] for a in delivered["attempts"]] == [code]
        assert len(slack_rx.requests) == len(teams_rx.requests) == len(smtp.received) == 1


async def test_first_match_stops_at_the_first_rule_and_the_default_route_takes_the_rest(client, keys):
    admin, ingest = keys.headers("admin"), keys.headers("ingest")
    async with AsyncExitStack() as stack:
        slack, teams, email, slack_rx, teams_rx, smtp = await three_channels(client, admin, stack)
        await route(
            client,
            admin,
            rules=[  # mode "first" is the default
                {"name": "budget", "match": {"event_types": ["budget.overspend"]}, "channel_ids": [email["id"]]},
                {"name": "critical", "match": {"severities": ["critical"]}, "channel_ids": [slack["id"]]},
                {"name": "also critical", "match": {"severities": ["critical"]}, "channel_ids": [email["id"]]},
            ],
            default_channel_ids=[teams["id"]],
        )
        await cpa_with_target(client, admin)
        # CPA = 130 / 10 = 13: past the warning level 12, not the critical 15: at risk (warning) → the default route.
        await push_and_wait(client, ingest, [point("spend", 130, DAY), point("conversions", 10, DAY)])
        [at_risk] = await teams_rx.wait_for(1)
        assert "At risk" in json.dumps(json.loads(at_risk.body), ensure_ascii=False)
        # Now 200 / 10 (points are snapshots: this one replaces the day's spend): off track (critical) → the first
        # critical rule only (Slack), not the second (e-mail).
        await push_and_wait(client, ingest, [point("spend", 200, DAY)])
        [off] = await slack_rx.wait_for(1)
        assert "Off track" in json.loads(off.body)["text"]
        await settled(client, admin, slack["id"], 1)
        assert smtp.received == [] and len(teams_rx.requests) == 1


async def test_a_silence_mutes_notifications_not_alerts_and_its_end_notifies_only_what_is_still_open(client, keys):
    admin, ingest, editor = keys.headers("admin"), keys.headers("ingest"), keys.headers("editor")
    async with running_receiver() as slack_rx:
        slack = await channel(client, admin, name="#alerts", kind="slack", url=slack_rx.url)
        await route(client, admin, default_channel_ids=[slack["id"]])
        kpi_id = await cpa_with_target(client, admin)
        r = await client.post(
            "/v1/silences",
            json={
                "ends_at": (datetime.now(UTC) + timedelta(hours=2)).isoformat(),
                "match": {"kpi_ids": [kpi_id]},
                "comment": "Black Friday launch: CPA spikes expected",
            },
            headers=editor,
        )
        assert r.status_code == 201, r.text
        silence = r.json()
        assert silence["state"] == "active" and silence["created_by"]
        # Off track, then at risk, while silenced: the alert opens and changes, nobody is notified.
        await push_and_wait(client, ingest, [point("spend", 200, DAY), point("conversions", 10, DAY)])
        await push_and_wait(client, ingest, [point("conversions", 15, DAY)])  # 200 / 15 = 13.3: at risk
        alerts = (await client.get(f"/v1/alerts?kpi_id={kpi_id}", headers=admin)).json()["items"]
        assert [(a["status"], a["severity"]) for a in alerts] == [("open", "warning")]
        muted = await deliveries(client, admin, slack["id"])
        assert [(d["event_type"], d["status"], d["silence_id"]) for d in muted] == [
            ("kpi.off_track", "silenced", silence["id"]),
            ("kpi.at_risk", "silenced", silence["id"]),
        ]
        assert slack_rx.requests == []

        # Ending it notifies the alert still open, once, with its latest state: not a replay of both.
        assert (await client.delete(f"/v1/silences/{silence['id']}", headers=editor)).status_code == 204
        [after] = await slack_rx.wait_for(1)
        text = json.dumps(json.loads(after.body), ensure_ascii=False)
        assert "At risk" in text and "Still open after the silence" in text and "Black Friday launch" in text
        ended = (await client.get(f"/v1/silences/{silence['id']}", headers=admin)).json()
        assert ended["state"] == "expired" and ended["ended_by"] and ended["concluded_at"]
        assert (await client.delete(f"/v1/silences/{silence['id']}", headers=editor)).status_code == 409
        await settled(client, admin, slack["id"], 3)
        assert len(slack_rx.requests) == 1


async def test_a_silenced_alert_that_resolved_is_not_announced_when_the_silence_ends(client, keys, state):
    admin, ingest = keys.headers("admin"), keys.headers("ingest")
    async with running_receiver() as slack_rx:
        slack = await channel(client, admin, name="#alerts", kind="slack", url=slack_rx.url)
        await route(client, admin, default_channel_ids=[slack["id"]])
        await cpa_with_target(client, admin)
        r = await client.post(
            "/v1/silences",
            json={"ends_at": (datetime.now(UTC) + timedelta(minutes=30)).isoformat(), "comment": "maintenance"},
            headers=admin,
        )
        silence_id = r.json()["id"]
        await push_and_wait(client, ingest, [point("spend", 200, DAY), point("conversions", 10, DAY)])
        await push_and_wait(client, ingest, [point("conversions", 30, DAY)])  # 200 / 40 = 5: recovered
        # The sweep concludes it once its time is over (time travel: the sweep is told it is 31 minutes later).
        later = (datetime.now(UTC) + timedelta(minutes=31)).isoformat()
        job_id = f"silences-{uuid.uuid4().hex[:8]}"
        await state.queue.enqueue("notifications.sweep", job_id=job_id, now=later)
        # The sweeps are global (every organisation's): other tests' silences may end in the same sweep.
        assert (await state.queue.result(job_id, timeout_s=20))["concluded"] >= 1
        assert (await client.get(f"/v1/silences/{silence_id}", headers=admin)).json()["concluded_at"]
        statuses = [d["status"] for d in await deliveries(client, admin, slack["id"])]
        assert statuses == ["silenced", "silenced"] and slack_rx.requests == []


def quiet_around_now(tz: str) -> dict:
    """Quiet hours from an hour ago to an hour from now, local time."""
    local = datetime.now(ZoneInfo(tz))
    return {
        "start": (local - timedelta(hours=1)).strftime("%H:%M"),
        "end": (local + timedelta(hours=1)).strftime("%H:%M"),
    }


async def test_quiet_hours_hold_what_is_not_critical_and_send_only_the_latest_when_they_end(client, keys, state):
    admin, ingest = keys.headers("admin"), keys.headers("ingest")
    tz = (await client.get("/v1/org", headers=admin)).json()["time_zone"]
    async with running_receiver() as slack_rx:
        slack = await channel(client, admin, name="#alerts", kind="slack", url=slack_rx.url)
        routing = await route(client, admin, default_channel_ids=[slack["id"]], quiet_hours=quiet_around_now(tz))
        assert routing["time_zone"] == tz
        await cpa_with_target(client, admin)
        # At risk (warning): held. Off track (critical): sent at once. Back to at risk: held again.
        await push_and_wait(client, ingest, [point("spend", 130, DAY), point("conversions", 10, DAY)])
        await push_and_wait(client, ingest, [point("spend", 200, DAY)])
        [critical] = await slack_rx.wait_for(1)
        assert "Off track" in json.loads(critical.body)["text"]
        await push_and_wait(client, ingest, [point("conversions", 15, DAY)])  # 200 / 15: at risk
        held = [d for d in await deliveries(client, admin, slack["id"]) if d["status"] == "held"]
        assert [d["event_type"] for d in held] == ["kpi.at_risk", "kpi.at_risk"]
        end = datetime.fromisoformat(held[0]["next_attempt_at"])
        assert timedelta(minutes=55) < end - datetime.now(UTC) <= timedelta(hours=1)

        # Before the end nothing moves; after it, only the latest of the target goes out. (The sweep is global:
        # what it counts may include other tests' organisations, so this one's deliveries are what is checked.)
        for at, still_held in ((end - timedelta(minutes=1), 2), (end + timedelta(seconds=30), 0)):
            job_id = f"release-{uuid.uuid4().hex[:8]}"
            await state.queue.enqueue("notifications.sweep", job_id=job_id, now=at.isoformat())
            await state.queue.result(job_id, timeout_s=20)
            statuses = [d["status"] for d in await deliveries(client, admin, slack["id"])]
            assert statuses.count("held") == still_held, statuses
        await slack_rx.wait_for(2)
        assert "At risk" in json.loads(slack_rx.requests[1].body)["text"]
        final = await settled(client, admin, slack["id"], 3)
        assert [d["status"] for d in final] == ["superseded", "delivered", "delivered"]
        assert len(slack_rx.requests) == 2


async def test_a_weekly_digest_arrives_at_its_local_time_once(client, keys, state):
    admin = keys.headers("admin")
    assert (await client.patch("/v1/org", json={"time_zone": "Asia/Ho_Chi_Minh"}, headers=admin)).status_code == 200
    async with AsyncExitStack() as stack:
        slack_rx = await stack.enter_async_context(running_receiver())
        smtp = await stack.enter_async_context(running_smtp_server())
        digest = {"frequency": "weekly", "weekday": "monday", "time": "09:00"}
        slack = await channel(client, admin, name="#weekly", kind="slack", url=slack_rx.url, digest=digest)
        email = await channel(
            client,
            admin,
            name="CMO",
            kind="email",
            email=smtp_settings(smtp, sender="kpi@example.com", recipients=["cmo@example.com"]),
            digest=digest,
        )
        await cpa_with_target(client, admin)
        due = datetime.fromisoformat(slack["next_digest_at"])
        local = due.astimezone(ZoneInfo("Asia/Ho_Chi_Minh"))
        assert (local.weekday(), local.strftime("%H:%M")) == (0, "09:00")
        assert due - datetime.now(UTC) <= timedelta(days=7)

        async def sweep(at: datetime) -> int:
            job_id = f"digests-{uuid.uuid4().hex[:8]}"
            await state.queue.enqueue("notifications.sweep", job_id=job_id, now=at.isoformat())
            return (await state.queue.result(job_id, timeout_s=30))["digests"]

        # The sweep is global (other tests' channels may be due too): this organisation's channels are checked.
        await sweep(due - timedelta(minutes=1))
        assert await deliveries(client, admin, slack["id"]) == [] and slack_rx.requests == []
        # Two sweeps at the due time at once (two workers): each channel's digest is sent once.
        job_ids = [f"digests-{uuid.uuid4().hex[:8]}" for _ in range(2)]
        for job_id in job_ids:
            await state.queue.enqueue("notifications.sweep", job_id=job_id, now=due.isoformat())
        assert sum([(await state.queue.result(job_id, timeout_s=30))["digests"] for job_id in job_ids]) >= 2
        [msg] = await slack_rx.wait_for(1)
        body = json.loads(msg.body)
        assert "digest" in body["text"].lower() and body["blocks"][0]["type"] == "header"
        [mail] = await smtp.wait_for(1)
        assert "digest" in mail.parsed()["Subject"].lower()
        await sweep(due + timedelta(minutes=5))
        assert len(await deliveries(client, admin, slack["id"])) == 1, "one digest per due time"
        again = (await client.get(f"/v1/notification-channels/{slack['id']}", headers=admin)).json()
        assert datetime.fromisoformat(again["next_digest_at"]) == due + timedelta(days=7)
        assert datetime.fromisoformat(again["last_digest_at"]) == due
        [sent] = await settled(client, admin, email["id"], 1)
        assert sent["event_type"] == "notification.digest" and sent["status"] == "delivered"


async def test_a_test_event_reaches_each_kind_of_channel_whatever_the_routing(client, keys):
    admin = keys.headers("admin")
    async with AsyncExitStack() as stack:
        slack, teams, email, slack_rx, teams_rx, smtp = await three_channels(client, admin, stack)
        for ch in (slack, teams, email):
            r = await client.post(f"/v1/notification-channels/{ch['id']}/test", headers=admin)
            assert r.status_code == 202, r.text
            assert r.json()["deliveries_url"] == f"/v1/notification-channels/{ch['id']}/deliveries"
        await slack_rx.wait_for(1)
        await teams_rx.wait_for(1)
        [mail] = await smtp.wait_for(1)
        assert "test" in mail.parsed()["Subject"].lower()
        [delivered] = await settled(client, admin, email["id"], 1)
        assert delivered["attempts"][0]["status_code"] == 250 and delivered["attempts"][0]["response_excerpt"]


async def test_slack_answering_410_disables_the_channel_with_an_operator_event(client, keys):
    admin = keys.headers("admin")
    async with running_receiver() as slack_rx:
        slack_rx.script = [410]
        slack = await channel(client, admin, name="#archived", kind="slack", url=slack_rx.url)
        assert (await client.post(f"/v1/notification-channels/{slack['id']}/test", headers=admin)).status_code == 202
        [gone] = await settled(client, admin, slack["id"], 1)
        assert gone["status"] == "gone"
        now = (await client.get(f"/v1/notification-channels/{slack['id']}", headers=admin)).json()
        assert now["enabled"] is False and "410" in now["disabled_reason"]
        events = (await client.get("/v1/operator-events?kind=notification_channel_disabled", headers=admin)).json()
        assert [e["detail"]["channel_id"] for e in events["items"]] == [slack["id"]]
        assert (await client.post(f"/v1/notification-channels/{slack['id']}/test", headers=admin)).status_code == 409


async def test_channels_routing_and_silences_refuse_what_cannot_work(client, keys):
    admin = keys.headers("admin")
    r = await client.post(
        "/v1/notification-channels", json={"name": "x", "kind": "email", "url": "https://a.example/h"}, headers=admin
    )
    assert r.status_code == 422
    r = await client.post("/v1/notification-channels", json={"name": "x", "kind": "slack"}, headers=admin)
    assert r.status_code == 422
    r = await client.post(
        "/v1/notification-channels",
        json={
            "name": "x",
            "kind": "email",
            "email": {"host": "smtp.example.com", "sender": "not an address", "recipients": ["a@example.com"]},
        },
        headers=admin,
    )
    assert r.status_code == 422 and "sender" in r.text
    r = await client.post(
        "/v1/notification-channels",
        json={"name": "x", "kind": "slack", "url": "http://169.254.169.254/latest"},
        headers=admin,
    )
    assert r.status_code == 422 and r.json()["errors"][0]["type"] == "unsafe_url"
    async with running_receiver() as rx:
        slack = await channel(client, admin, name="#a", kind="slack", url=rx.url)
        listed = (await client.get("/v1/notification-channels", headers=admin)).json()["items"]
        assert [c["id"] for c in listed] == [slack["id"]]
        assert "/hook" not in listed[0]["target"] or listed[0]["target"].endswith("…"), (
            "the URL's secret part is not shown"
        )
        unknown = str(uuid.uuid4())
        r = await client.put(
            "/v1/notification-routing",
            json={"rules": [{"name": "r", "channel_ids": [unknown]}]},
            headers=admin,
        )
        assert r.status_code == 422 and r.json()["errors"][0]["location"] == "body.rules.0.channel_ids.0"
        r = await client.put(
            "/v1/notification-routing", json={"quiet_hours": {"start": "22:00", "end": "22:00"}}, headers=admin
        )
        assert r.status_code == 422
        await route(client, admin, rules=[{"name": "all to slack", "channel_ids": [slack["id"]]}])
        r = await client.delete(f"/v1/notification-channels/{slack['id']}", headers=admin)
        assert r.status_code == 409 and "all to slack" in r.json()["detail"]
        await route(client, admin)
        assert (await client.delete(f"/v1/notification-channels/{slack['id']}", headers=admin)).status_code == 204
    past = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    r = await client.post("/v1/silences", json={"ends_at": past, "comment": "late"}, headers=admin)
    assert r.status_code == 422 and r.json()["errors"][0]["location"] == "body.ends_at"
    r = await client.post("/v1/silences", json={"ends_at": "2030-01-01T00:00:00Z"}, headers=admin)
    assert r.status_code == 422, "a silence says why"
    r = await client.post(
        "/v1/webhook-endpoints",
        json={"url": "https://hooks.example.com/x", "event_types": ["notification.digest"]},
        headers=admin,
    )
    assert r.status_code == 422, "channel-only events are not for webhook endpoints"


async def test_routing_by_the_kpi_owners_team_and_the_owner_shown_in_the_message(client, keys):
    admin, ingest = keys.headers("admin"), keys.headers("ingest")
    team = (await client.post("/v1/teams", json={"name": "Paid media"}, headers=admin)).json()
    member = (
        await client.post("/v1/members", json={"name": "Linh Tran", "email": "linh@example.com"}, headers=admin)
    ).json()
    async with AsyncExitStack() as stack:
        slack, _teams, email, slack_rx, _teams_rx, smtp = await three_channels(client, admin, stack)
        await route(
            client,
            admin,
            rules=[{"name": "paid media", "match": {"team_ids": [team["id"]]}, "channel_ids": [email["id"]]}],
            default_channel_ids=[slack["id"]],
        )
        kpi_id = await cpa_with_target(client, admin)
        r = await client.patch(
            f"/v1/kpis/{kpi_id}", json={"owner_team_id": team["id"], "owner_member_id": member["id"]}, headers=admin
        )
        assert r.status_code == 200, r.text
        await push_and_wait(client, ingest, [point("spend", 200, DAY), point("conversions", 10, DAY)])
        [mail] = await smtp.wait_for(1)
        plain = mail.parsed().get_body(("plain",)).get_content()
        assert "Linh Tran" in plain and "Paid media" in plain
        await settled(client, admin, email["id"], 1)
        assert slack_rx.requests == [], "the team's rule matched: the default route is not used"


async def test_an_smtp_refusal_is_retried_on_the_schedule_and_logged(client, keys):
    admin = keys.headers("admin")
    async with running_smtp_server(fail_next=1) as smtp:
        email = await channel(
            client,
            admin,
            name="Ops",
            kind="email",
            email=smtp_settings(smtp, sender="kpi@example.com", recipients=["ops@example.com"]),
        )
        assert (await client.post(f"/v1/notification-channels/{email['id']}/test", headers=admin)).status_code == 202
        [mail] = await smtp.wait_for(1, timeout_s=30)
        assert smtp.refused == 1
        [delivery] = await settled(client, admin, email["id"], 1)
        assert delivery["status"] == "delivered"
        assert [(a["number"], a["status_code"], a["outcome"]) for a in delivery["attempts"]] == [
            (1, 451, "retry"),
            (2, 250, "delivered"),
        ]
        assert "451" in (delivery["attempts"][0]["error"] or delivery["attempts"][0]["response_excerpt"] or "")
        assert mail.parsed()["Message-ID"].startswith(f"<{delivery['event_id']}.")


async def test_a_change_of_time_zone_moves_digests_to_the_same_local_time(client, keys):
    admin = keys.headers("admin")
    async with running_receiver() as rx:
        digest = {"frequency": "daily", "time": "08:30"}
        slack = await channel(client, admin, name="#daily", kind="slack", url=rx.url, digest=digest)
        assert slack["digest"] == {"frequency": "daily", "time": "08:30", "weekday": None}
        assert datetime.fromisoformat(slack["next_digest_at"]).astimezone(UTC).strftime("%H:%M") == "08:30"
        r = await client.patch("/v1/org", json={"time_zone": "America/New_York"}, headers=admin)
        assert r.status_code == 200 and "digest" in r.json()["changes"][0]["effects"]
        moved = (await client.get(f"/v1/notification-channels/{slack['id']}", headers=admin)).json()
        local = datetime.fromisoformat(moved["next_digest_at"]).astimezone(ZoneInfo("America/New_York"))
        assert local.strftime("%H:%M") == "08:30"
        r = await client.patch(f"/v1/notification-channels/{slack['id']}", json={"digest": None}, headers=admin)
        assert r.status_code == 200 and r.json()["digest"] is None and r.json()["next_digest_at"] is None


async def kpi_at(client, admin, name: str, warning: str, critical: str) -> str:
    kpi = await client.post(
        "/v1/kpis",
        json={
            "name": name,
            "category": "output",
            "formula": "spend / conversions",
            "unit": "currency",
            "direction": "lower_is_better",
        },
        headers=admin,
    )
    assert kpi.status_code == 201, kpi.text
    target = await client.post(
        f"/v1/kpis/{kpi.json()['id']}/targets",
        json={
            "period": "2026-11",
            "target_value": "10",
            "threshold_mode": "absolute",
            "warning": warning,
            "critical": critical,
            "pacing": "none",
        },
        headers=admin,
    )
    assert target.status_code == 201, target.text
    return kpi.json()["id"]


async def test_two_sweeps_at_once_release_each_held_notification_once(client, keys, state):
    admin, ingest = keys.headers("admin"), keys.headers("ingest")
    tz = (await client.get("/v1/org", headers=admin)).json()["time_zone"]
    async with running_receiver() as slack_rx:
        slack = await channel(client, admin, name="#alerts", kind="slack", url=slack_rx.url)
        await route(client, admin, default_channel_ids=[slack["id"]], quiet_hours=quiet_around_now(tz))
        for i in range(4):
            await kpi_at(client, admin, f"CPA {i}", warning="12", critical=str(15 + i))
        await push_and_wait(client, ingest, [point("spend", 130, DAY), point("conversions", 10, DAY)])  # all at risk
        held = [d for d in await deliveries(client, admin, slack["id"]) if d["status"] == "held"]
        assert len(held) == 4
        after = (datetime.fromisoformat(held[0]["next_attempt_at"]) + timedelta(seconds=1)).isoformat()
        job_ids = [f"release-{uuid.uuid4().hex[:8]}" for _ in range(3)]
        for job_id in job_ids:
            await state.queue.enqueue("notifications.sweep", job_id=job_id, now=after)
        released = [(await state.queue.result(job_id, timeout_s=20))["released"] for job_id in job_ids]
        assert sum(released) >= 4, released  # global sweeps: other tests' held ones may count too
        final = await settled(client, admin, slack["id"], 4)
        assert [d["status"] for d in final] == ["delivered"] * 4
        assert len(slack_rx.requests) == 4, "each held notification sent once"


async def test_a_held_notification_overtaken_or_silenced_during_quiet_hours_is_not_sent_when_they_end(
    client, keys, state
):
    admin, ingest = keys.headers("admin"), keys.headers("ingest")
    tz = (await client.get("/v1/org", headers=admin)).json()["time_zone"]
    async with running_receiver() as slack_rx:
        slack = await channel(client, admin, name="#alerts", kind="slack", url=slack_rx.url)
        await route(client, admin, default_channel_ids=[slack["id"]], quiet_hours=quiet_around_now(tz))
        overtaken = await kpi_at(client, admin, "CPA overtaken", warning="12", critical="15")
        muted = await kpi_at(client, admin, "CPA muted", warning="12", critical="99")
        # Both at risk (held); then the first goes off track (critical: sent at once), the second stays at risk.
        await push_and_wait(client, ingest, [point("spend", 130, DAY), point("conversions", 10, DAY)])
        await push_and_wait(client, ingest, [point("spend", 200, DAY)])
        [critical] = await slack_rx.wait_for(1)
        assert "CPA overtaken" in json.loads(critical.body)["text"]
        r = await client.post(
            "/v1/silences",
            json={
                "ends_at": (datetime.now(UTC) + timedelta(hours=3)).isoformat(),
                "match": {"kpi_ids": [muted]},
                "comment": "known issue",
            },
            headers=admin,
        )
        silence_id = r.json()["id"]
        held = [d for d in await deliveries(client, admin, slack["id"]) if d["status"] == "held"]
        assert len(held) == 2
        after = (datetime.fromisoformat(held[0]["next_attempt_at"]) + timedelta(seconds=1)).isoformat()
        job_id = f"release-{uuid.uuid4().hex[:8]}"
        await state.queue.enqueue("notifications.sweep", job_id=job_id, now=after)
        await state.queue.result(job_id, timeout_s=20)
        final = {d["id"]: d for d in await deliveries(client, admin, slack["id"])}
        assert sorted((final[d["id"]]["status"], final[d["id"]]["silence_id"]) for d in held) == sorted(
            [("superseded", None), ("silenced", silence_id)]
        )
        assert len(slack_rx.requests) == 1 and overtaken


async def test_digests_missed_while_no_worker_ran_are_sent_as_one_that_leaves_no_gap(client, keys, state):
    admin = keys.headers("admin")
    async with running_receiver() as rx:
        slack = await channel(
            client, admin, name="#daily", kind="slack", url=rx.url, digest={"frequency": "daily", "time": "08:30"}
        )
        due = datetime.fromisoformat(slack["next_digest_at"])
        job_id = f"digests-{uuid.uuid4().hex[:8]}"
        await state.queue.enqueue(
            "notifications.sweep", job_id=job_id, now=(due + timedelta(days=2, hours=1)).isoformat()
        )
        assert (await state.queue.result(job_id, timeout_s=30))["digests"] >= 1
        [msg] = await rx.wait_for(1)
        header = json.loads(msg.body)["blocks"][0]["text"]["text"]
        first, last = (due - timedelta(days=1)).date(), (due + timedelta(days=2)).date()
        assert f"{first.day} {first:%b}" in header and f"{last.day} {last:%b}" in header, header
        after = (await client.get(f"/v1/notification-channels/{slack['id']}", headers=admin)).json()
        assert datetime.fromisoformat(after["last_digest_at"]) == due + timedelta(days=2)
        assert datetime.fromisoformat(after["next_digest_at"]) == due + timedelta(days=3)


async def test_addresses_and_silence_times_that_cannot_work_are_refused(client, keys):
    admin = keys.headers("admin")
    base = {"host": "127.0.0.1", "port": 2525, "security": "none"}
    for sender, recipients in (
        ("KPI <kpi@example.com>\r\nBcc: evil@example.com", ["a@example.com"]),
        ("kpi@example.com", ["a@example.com\nBcc: evil@example.com"]),
        ("kpi@example.com", ["a@example.com, b@example.com"]),  # one entry is one address
    ):
        r = await client.post(
            "/v1/notification-channels",
            json={"name": "x", "kind": "email", "email": {**base, "sender": sender, "recipients": recipients}},
            headers=admin,
        )
        assert r.status_code == 422, (sender, recipients, r.text)
    for starts_at, ends_at in (
        ("9999-12-31T20:00:00-05:00", "9999-12-31T23:00:00-05:00"),
        (None, (datetime.now(UTC) + timedelta(days=800)).isoformat()),
        ((datetime.now(UTC) + timedelta(days=400)).isoformat(), (datetime.now(UTC) + timedelta(days=401)).isoformat()),
    ):
        r = await client.post(
            "/v1/silences",
            json={"starts_at": starts_at, "ends_at": ends_at, "comment": "far"},
            headers=admin,
        )
        assert r.status_code == 422, (starts_at, ends_at, r.text)


async def test_a_silence_end_repeats_nothing_a_channel_has_since_been_told(client, keys):
    admin, ingest = keys.headers("admin"), keys.headers("ingest")
    async with running_receiver() as slack_rx:
        slack = await channel(client, admin, name="#alerts", kind="slack", url=slack_rx.url)
        await route(client, admin, default_channel_ids=[slack["id"], slack["id"]])  # listed twice: sent once
        await cpa_with_target(client, admin)
        r = await client.post(
            "/v1/silences",
            json={
                "ends_at": (datetime.now(UTC) + timedelta(hours=1)).isoformat(),
                "match": {"severities": ["warning"]},
                "comment": "warnings only",
            },
            headers=admin,
        )
        silence_id = r.json()["id"]
        await push_and_wait(client, ingest, [point("spend", 130, DAY), point("conversions", 10, DAY)])  # at risk: muted
        await push_and_wait(client, ingest, [point("spend", 200, DAY)])  # off track: critical, not matched: sent
        [off] = await slack_rx.wait_for(1)
        assert "Off track" in json.loads(off.body)["text"]
        assert (await client.delete(f"/v1/silences/{silence_id}", headers=admin)).status_code == 204
        statuses = [(d["event_type"], d["status"]) for d in await settled(client, admin, slack["id"], 2)]
        assert statuses == [("kpi.at_risk", "silenced"), ("kpi.off_track", "delivered")]
        assert len(slack_rx.requests) == 1, "the stale at-risk message is not repeated after the off-track one"
