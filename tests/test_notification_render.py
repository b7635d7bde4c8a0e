"""Alerts as people read them in Slack, Teams and e-mail: every event type renders in each format within that
format's documented shape and limits, user text is escaped for each, and the three formats tell the same story."""

import copy
import re
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import default
from typing import Any

import pytest

from shared.webhooks.channels.render import email_message, slack_message, teams_card

SENDER = "KPI alerts <alerts@kpi.example>"
KPI_URL = "https://kpi.example/dashboard/kpis/k1"


def kpi_event(type_: str = "kpi.off_track", **evaluation: Any) -> dict[str, Any]:
    event = {
        "type": type_,
        "version": 1,
        "timestamp": "2026-11-20T05:00:00+00:00",
        "data": {
            "kpi": {
                "id": "k1",
                "name": "CPA",
                "category": "output",
                "unit": "currency",
                "direction": "lower_is_better",
            },
            "target": {
                "id": "t1",
                "period": "2026-11",
                "start_date": "2026-11-01",
                "end_date": "2026-11-30",
                "target_value": "20",
            },
            "evaluation": {
                "value": "24.5",
                "expected_to_date": "20",
                "forecast": "24.5",
                "attainment_pct": "81.63",
                "status": "off_track",
                "previous_status": "at_risk",
                "provisional": False,
                "reason": "CPA is above the critical level 22 (confirmed by 2 evaluations)",
            },
            "alert": {"id": "a1", "status": "open", "severity": "critical"},
            "dashboard_url": KPI_URL,
        },
    }
    event["data"]["evaluation"].update(evaluation)
    return event


BUDGET = {
    "type": "budget.overspend",
    "version": 1,
    "timestamp": "2026-11-20T05:00:00+00:00",
    "data": {
        "plan": {"id": "p1", "name": "November", "period": "2026-11"},
        "line": {"id": "l1", "name": None, "channel": "meta", "team_id": None, "campaign_id": None},
        "planned": "3000.00",
        "actual": "3450.00",
        "overspend": "450.00",
        "currency": "EUR",
        "threshold_pct": 100,
        "dashboard_url": "https://kpi.example/dashboard/plans/p1",
    },
}
INGEST = {
    "type": "ingest.batch_failed",
    "version": 1,
    "timestamp": "2026-11-20T05:00:00+00:00",
    "data": {
        "batch": {
            "id": "b1",
            "source": "meta",
            "points": 1200,
            "error_code": "internal_error",
            "error": "the batch failed after 5 attempts",
            "received_at": "2026-11-20T04:58:00+00:00",
        }
    },
}
WEBHOOK_TEST = {
    "type": "webhook.test",
    "version": 1,
    "timestamp": "2026-11-20T05:00:00+00:00",
    "data": {"endpoint_id": "e1", "message": "This is a test event", "dashboard_url": "https://kpi.example/dashboard"},
}


def channel_test(kind: str) -> dict[str, Any]:
    return {
        "type": "notification.test",
        "version": 1,
        "timestamp": "2026-11-20T05:00:00+00:00",
        "data": {
            "channel": {"id": "c1", "name": "#marketing-alerts", "kind": kind},
            "message": "If you can read this, alerts reach this channel.",
            "dashboard_url": "https://kpi.example/dashboard",
        },
    }


def kpi_ref(n: int, name: str = "CPA") -> dict[str, str]:
    return {"id": f"k{n}", "name": f"{name} {n}", "category": "output", "unit": "currency"}


def digest(size: int, name: str = "CPA", url: str = KPI_URL) -> dict[str, Any]:
    return {
        "type": "notification.digest",
        "version": 1,
        "timestamp": "2026-11-30T01:00:00+00:00",
        "data": {
            "org": {"name": "Acme", "time_zone": "Asia/Ho_Chi_Minh", "reporting_currency": "VND"},
            "frequency": "weekly",
            "from": "2026-11-23",
            "to": "2026-11-29",
            "counts": {"on_track": 10, "at_risk": 3, "off_track": 2, "no_data": 1},
            "status_changes": [
                {
                    "kpi": kpi_ref(n, name),
                    "from": "at_risk" if n % 2 else None,
                    "to": "off_track",
                    "at": "2026-11-25T07:00:00+00:00",
                    "value": "24.5",
                    "target_value": "20",
                    "url": f"{url}?n={n}",
                }
                for n in range(size)
            ],
            "worst_attainment": [
                {
                    "kpi": kpi_ref(n, name),
                    "period": "2026-11",
                    "value": "24.5",
                    "target_value": "20",
                    "attainment_pct": "81.63",
                    "status": "off_track",
                    "url": f"{url}?n={n}",
                }
                for n in range(size)
            ],
            "budget_pacing": [
                {
                    "plan": {"id": f"p{n}", "name": f"{name} plan {n}", "period": "2026-11"},
                    "currency": "EUR",
                    "planned": "3000.00",
                    "actual": "2640.00",
                    "elapsed_share": "0.9333",
                    "spent_share": "0.8810",
                    "pacing": "-0.0523",
                    "status": "on_track",
                    "url": f"{url}?plan={n}",
                }
                for n in range(size)
            ],
            "dashboard_url": "https://kpi.example/dashboard",
        },
    }


EXTRA = {"owner": {"name": "Lan Nguyen", "team": "Performance"}, "note": None, "org_name": "Acme"}
EVENTS = {
    "kpi.off_track": kpi_event("kpi.off_track"),
    "kpi.at_risk": kpi_event("kpi.at_risk", status="at_risk", previous_status="on_track"),
    "kpi.recovered": kpi_event("kpi.recovered", status="on_track", previous_status="off_track"),
    "kpi.no_data": kpi_event("kpi.no_data", value=None, attainment_pct=None, forecast=None, status="no_data"),
    "budget.overspend": BUDGET,
    "ingest.batch_failed": INGEST,
    "webhook.test": WEBHOOK_TEST,
    "notification.test (slack)": channel_test("slack"),
    "notification.test (teams)": channel_test("teams"),
    "notification.test (email)": channel_test("email"),
    "digest, empty": digest(0),
    "digest, long": digest(100, name="Cost per acquisition & <friends> " * 8, url=KPI_URL + "/" + "x" * 400),
    "an unknown type": {"type": "kpi.exploded", "version": 1, "timestamp": "2026-11-20T05:00:00+00:00", "data": {}},
}


# --- Block Kit (https://docs.slack.dev/reference/block-kit) ---------------------------------------------------------

_SLACK_LINK = re.compile(r"<https?://[^|<>\s]+\|[^<>]*>")


def check_mrkdwn(text: str, limit: int) -> None:
    """Within its limit, and every `<…>` is a link we made: user text cannot open a link or mention anyone."""
    assert 0 < len(text) <= limit, len(text)
    assert "<" not in _SLACK_LINK.sub("", text) and ">" not in _SLACK_LINK.sub("", text), text


def check_text_object(obj: dict[str, Any], limit: int) -> None:
    assert obj["type"] in ("plain_text", "mrkdwn")
    assert isinstance(obj["text"], str)
    if obj["type"] == "mrkdwn":
        check_mrkdwn(obj["text"], limit)
    else:
        assert 0 < len(obj["text"]) <= limit


def check_block(block: dict[str, Any]) -> None:
    kind = block["type"]
    if kind == "header":
        assert block["text"]["type"] == "plain_text"
        check_text_object(block["text"], 150)
    elif kind == "section":
        assert "text" in block or "fields" in block
        if "text" in block:
            check_text_object(block["text"], 3000)
        for field in block.get("fields", []):
            check_text_object(field, 2000)
        assert len(block.get("fields", [])) <= 10
    elif kind == "context":
        assert 1 <= len(block["elements"]) <= 10
        for element in block["elements"]:
            check_text_object(element, 3000)
    elif kind == "actions":
        assert 1 <= len(block["elements"]) <= 25
        for button in block["elements"]:
            assert button["type"] == "button"
            assert button["text"]["type"] == "plain_text" and 0 < len(button["text"]["text"]) <= 75
            assert button["url"].startswith("https://") and len(button["url"]) <= 3000
    else:
        assert kind == "divider" and set(block) == {"type"}, block


def check_block_kit(body: dict[str, Any]) -> None:
    assert set(body) == {"text", "blocks"}
    check_mrkdwn(body["text"], 3000)
    assert 1 <= len(body["blocks"]) <= 50
    assert body["blocks"][0]["type"] == "header"
    for block in body["blocks"]:
        check_block(block)


def slack_texts(body: dict[str, Any]) -> str:
    """Every text a reader sees, joined."""
    texts = [body["text"]]
    for block in body["blocks"]:
        texts += [block[k]["text"] for k in ("text",) if k in block]
        texts += [f["text"] for f in block.get("fields", [])]
        texts += [e["text"] if isinstance(e["text"], str) else e["text"]["text"] for e in block.get("elements", [])]
    return "\n".join(texts)


# --- Adaptive Card 1.4 (https://adaptivecards.io/explorer/) ---------------------------------------------------------


def check_element(element: dict[str, Any]) -> None:
    if element["type"] == "TextBlock":
        assert isinstance(element["text"], str) and element["text"]
        assert element.get("wrap") is True
    elif element["type"] == "FactSet":
        assert element["facts"]
        for fact in element["facts"]:
            assert set(fact) == {"title", "value"} and all(isinstance(v, str) and v for v in fact.values())
    else:
        assert element["type"] == "ColumnSet"
        for column in element["columns"]:
            for item in column["items"]:
                check_element(item)


def check_adaptive_card(body: dict[str, Any]) -> dict[str, Any]:
    assert body["type"] == "message"
    [attachment] = body["attachments"]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    assert attachment["contentUrl"] is None
    card = attachment["content"]
    assert card["$schema"] == "http://adaptivecards.io/schemas/adaptive-card.json"
    assert (card["type"], card["version"]) == ("AdaptiveCard", "1.4")
    title = card["body"][0]
    assert (title["type"], title["weight"], title["size"], title["wrap"]) == ("TextBlock", "Bolder", "Medium", True)
    for element in card["body"]:
        check_element(element)
    for action in card["actions"]:
        assert action["type"] == "Action.OpenUrl" and action["title"]
        assert action["url"].startswith("https://")
    return card


def card_facts(card: dict[str, Any]) -> dict[str, str]:
    return {f["title"]: f["value"] for e in card["body"] if e["type"] == "FactSet" for f in e["facts"]}


# --- E-mail (RFC 5322 / 2046) ---------------------------------------------------------------------------------------


def render_email(event: dict[str, Any], extra: dict[str, Any] | None = EXTRA) -> EmailMessage:
    message = email_message(event, extra, sender=SENDER, recipients=["lan@example.com", "minh@example.com"])
    parsed = BytesParser(policy=default).parsebytes(message.as_bytes())  # what a mail client reads
    assert isinstance(parsed, EmailMessage)
    return parsed


def check_email(message: EmailMessage) -> tuple[str, str]:
    """The headers and the two alternatives, plain text first; returns (text, html)."""
    assert message["From"] == SENDER
    assert message["To"] == "lan@example.com, minh@example.com"
    assert message["Subject"] and "\n" not in message["Subject"] and len(message["Subject"]) <= 200
    assert message["Date"].datetime.tzinfo is not None
    assert re.fullmatch(r"<[^<>@\s]+@kpi\.example>", message["Message-ID"])
    assert message["Auto-Submitted"] == "auto-generated"
    assert message.get_content_type() == "multipart/alternative"
    plain, rich = message.iter_parts()
    assert (plain.get_content_type(), rich.get_content_type()) == ("text/plain", "text/html")
    return plain.get_content(), rich.get_content()


# --- Every event type, every format ---------------------------------------------------------------------------------


@pytest.mark.parametrize("event", EVENTS.values(), ids=EVENTS.keys())
def test_every_event_renders_as_valid_block_kit(event):
    check_block_kit(slack_message(event, EXTRA))


@pytest.mark.parametrize("event", EVENTS.values(), ids=EVENTS.keys())
def test_every_event_renders_as_a_valid_adaptive_card(event):
    check_adaptive_card(teams_card(event, EXTRA))


@pytest.mark.parametrize("event", EVENTS.values(), ids=EVENTS.keys())
def test_every_event_renders_as_a_valid_email(event):
    check_email(render_email(event))


@pytest.mark.parametrize("event", EVENTS.values(), ids=EVENTS.keys())
def test_no_extra_at_all_is_fine(event):
    check_block_kit(slack_message(event))
    check_adaptive_card(teams_card(event))
    check_email(render_email(event, None))


# --- A KPI alert ----------------------------------------------------------------------------------------------------


def test_an_off_track_kpi_in_slack_says_status_value_period_and_owner():
    body = slack_message(kpi_event(), EXTRA)
    header, facts, reason, context, actions = body["blocks"]

    assert header["text"]["text"] == "CPA · Off track"
    assert [f["text"] for f in facts["fields"]] == [
        "*Status*\n:red_circle: Off track",
        "*Value vs target*\n24.5 vs target 20",
        "*Attainment*\n81.63 %",
        "*Forecast to period end*\n24.5",
        "*Period*\n2026-11",
        "*Owner*\nLan Nguyen · Performance",
    ]
    assert reason["text"]["text"] == "CPA is above the critical level 22 (confirmed by 2 evaluations)"
    assert [e["text"] for e in context["elements"]] == ["Previously: At risk", "Acme · 20 Nov 2026 05:00 UTC"]
    assert actions["elements"][0]["url"] == KPI_URL
    assert actions["elements"][0]["text"]["text"] == "Open KPI"
    assert body["text"] == ":red_circle: [Off track] CPA: 24.5 vs target 20 (2026-11)"


@pytest.mark.parametrize(
    ("type_", "status", "shortcode", "emoji", "word"),
    [
        ("kpi.off_track", "off_track", ":red_circle:", "🔴", "Off track"),
        ("kpi.at_risk", "at_risk", ":large_orange_circle:", "🟠", "At risk"),
        ("kpi.recovered", "on_track", ":large_green_circle:", "🟢", "Back on track"),
        ("kpi.no_data", "no_data", ":white_circle:", "⚪", "No data"),
    ],
)
def test_the_three_formats_agree_on_the_status(type_, status, shortcode, emoji, word):
    event = kpi_event(type_, status=status)

    slack_status = slack_message(event, EXTRA)["blocks"][1]["fields"][0]["text"]
    teams_status = card_facts(check_adaptive_card(teams_card(event, EXTRA)))["Status"]
    message = render_email(event)
    text, html = check_email(message)

    assert slack_status == f"*Status*\n{shortcode} {word}"
    assert teams_status == f"{emoji} {word}"
    assert message["Subject"].startswith(f"[{word}] CPA: ")
    assert f"Status: {word}\n" in text
    assert f">{word}</span>" in html  # the word, not only the badge's colour


def test_the_teams_card_has_the_same_facts_as_slack_and_a_button_to_the_kpi():
    card = check_adaptive_card(teams_card(kpi_event(), EXTRA))
    slack_fields = slack_message(kpi_event(), EXTRA)["blocks"][1]["fields"]

    facts = card_facts(card)
    assert list(facts) == [f["text"].split("\n")[0].strip("*") for f in slack_fields]
    assert facts["Value vs target"] == "24.5 vs target 20"
    assert facts["Owner"] == "Lan Nguyen · Performance"
    assert card["body"][0]["text"] == "CPA · Off track"
    assert card["actions"] == [{"type": "Action.OpenUrl", "title": "Open KPI", "url": KPI_URL}]


def test_the_email_has_the_subject_the_facts_and_the_link():
    message = render_email(kpi_event())
    text, html = check_email(message)

    assert message["Subject"] == "[Off track] CPA: 24.5 vs target 20 (2026-11)"
    assert "Value vs target: 24.5 vs target 20\n" in text
    assert "Owner: Lan Nguyen · Performance\n" in text
    assert f"Open KPI: {KPI_URL}\n" in text
    assert f'<a href="{KPI_URL}"' in html
    assert "CPA is above the critical level 22" in html


def test_no_owner_is_said_in_words():
    extra = {"owner": None, "note": None, "org_name": None}
    assert "*Owner*\nNo owner" in slack_texts(slack_message(kpi_event(), extra))
    assert card_facts(check_adaptive_card(teams_card(kpi_event(), extra)))["Owner"] == "No owner"


def test_the_note_and_the_provisional_flag_are_context_lines():
    extra = {**EXTRA, "note": "Still open after the silence 'Black Friday launch' ended"}
    body = slack_message(kpi_event(provisional=True), extra)
    [context] = [b for b in body["blocks"] if b["type"] == "context"]
    card = check_adaptive_card(teams_card(kpi_event(provisional=True), extra))
    text, _html = check_email(render_email(kpi_event(provisional=True), extra))

    lines = [e["text"] for e in context["elements"]]
    assert lines[0] == "Still open after the silence 'Black Friday launch' ended"
    assert lines[1].startswith("Provisional: ")
    assert any(e.get("text") == "Still open after the silence 'Black Friday launch' ended" for e in card["body"])
    assert "Still open after the silence 'Black Friday launch' ended" in text


# --- Escaping -------------------------------------------------------------------------------------------------------


def named(name: str, reason: str = "It is <above> the limit & rising") -> dict[str, Any]:
    event = kpi_event(reason=reason)
    event["data"]["kpi"]["name"] = name
    return event


def test_slack_escapes_user_text_so_it_cannot_link_or_mention():
    body = slack_message(named("<!channel> <https://evil.example|CPA> & co"), EXTRA)

    check_block_kit(body)
    assert "&lt;!channel&gt; &lt;https://evil.example|CPA&gt; &amp; co" in body["text"]
    assert body["blocks"][0]["text"]["text"] == "<!channel> <https://evil.example|CPA> & co · Off track"  # plain
    assert "It is &lt;above&gt; the limit &amp; rising" in slack_texts(body)


def test_the_email_escapes_a_kpi_name_with_markup():
    message = render_email(named("<b>CPA & co</b>"))
    text, html = check_email(message)

    assert message["Subject"] == "[Off track] <b>CPA & co</b>: 24.5 vs target 20 (2026-11)"
    assert "<b>CPA & co</b> · Off track" in text
    assert "&lt;b&gt;CPA &amp; co&lt;/b&gt;" in html
    assert "<b>CPA" not in html
    assert "It is &lt;above&gt; the limit &amp; rising" in html


def test_teams_escapes_markdown_in_user_text():
    card = check_adaptive_card(teams_card(named("*CPA* [click](https://evil.example)"), EXTRA))

    assert card["body"][0]["text"] == r"\*CPA\* \[click\](https://evil.example) · Off track"


def test_a_newline_in_a_name_cannot_inject_an_email_header():
    message = render_email(named("CPA\r\nBcc: everyone@example.com"))

    assert message["Bcc"] is None
    # (Python folds a long subject holding an "@" onto its own line; unfolded, it keeps the fold's space.)
    assert message["Subject"].lstrip().startswith("[Off track] CPA Bcc: everyone@example.com: ")


def test_a_link_that_is_not_http_is_left_out_everywhere():
    event = kpi_event()
    event["data"]["dashboard_url"] = "javascript:alert(1)"

    assert all(b["type"] != "actions" for b in slack_message(event, EXTRA)["blocks"])
    assert teams_card(event, EXTRA)["attachments"][0]["content"]["actions"] == []
    assert "javascript:" not in check_email(render_email(event))[1]


# --- Limits ---------------------------------------------------------------------------------------------------------


def test_long_text_is_cut_with_an_ellipsis_within_slacks_limits():
    event = named("Cost per acquisition & more " * 30, reason="Too high & rising. " * 500)
    body = slack_message(event, {**EXTRA, "note": "<note> " * 1000})

    check_block_kit(body)
    header = body["blocks"][0]["text"]["text"]
    assert len(header) <= 150 and header.endswith("…")
    [reason] = [b for b in body["blocks"] if b["type"] == "section" and "text" in b]
    assert len(reason["text"]["text"]) <= 3000 and reason["text"]["text"].endswith("…")
    assert re.search(r"&[a-z]{0,3}$", reason["text"]["text"][:-1]) is None  # no entity cut in half


def test_a_url_too_long_for_a_button_drops_the_button_but_not_the_message():
    event = kpi_event()
    event["data"]["dashboard_url"] = "https://kpi.example/" + "x" * 3000

    body = slack_message(event, EXTRA)
    check_block_kit(body)
    assert all(b["type"] != "actions" for b in body["blocks"])


# --- The digest -----------------------------------------------------------------------------------------------------


def test_an_empty_digest_says_so_in_every_format():
    body = slack_message(digest(0), EXTRA)
    card = check_adaptive_card(teams_card(digest(0), EXTRA))
    message = render_email(digest(0))
    text, html = check_email(message)

    assert body["blocks"][0]["text"]["text"] == "Weekly KPI digest · 23 Nov – 29 Nov 2026"
    assert message["Subject"] == "Weekly KPI digest: 23 Nov – 29 Nov 2026"
    for said in ("No status changes", "No KPI targets to rank", "No budgets to pace"):
        assert said in slack_texts(body)
        assert any(e.get("text") == said for e in card["body"])
        assert said in text and said in html


def test_a_digest_counts_statuses_and_links_each_item():
    body = slack_message(digest(2), EXTRA)
    card = check_adaptive_card(teams_card(digest(2), EXTRA))
    text, html = check_email(render_email(digest(2)))

    fields = [f["text"] for f in body["blocks"][1]["fields"]]
    assert fields == [
        "*Off track*\n:red_circle: 2",
        "*At risk*\n:large_orange_circle: 3",
        "*On track*\n:large_green_circle: 10",
        "*No data*\n:white_circle: 1",
    ]
    changes = body["blocks"][3]["text"]["text"]
    assert changes.startswith("*Status changes*\n")
    assert (
        f":red_circle: <{KPI_URL}?n=1|CPA 1> · At risk → Off track · 24.5 vs target 20 · 25 Nov 2026 14:00" in changes
    )
    assert "No status → Off track" in changes  # a first evaluation has no "from"
    pacing = body["blocks"][5]["text"]["text"]
    assert "2640.00 of 3000.00 EUR spent · 88 % spent, 93 % of the period elapsed · 5 points behind" in pacing
    assert card_facts(card)["Off track"] == "🔴 2"
    assert any(e.get("text", "").startswith(f"🔴 [CPA 1]({KPI_URL}?n=1) · At risk → Off track") for e in card["body"])
    assert f"- CPA 1: At risk → Off track · 24.5 vs target 20 · 25 Nov 2026 14:00\n  {KPI_URL}?n=1" in text
    assert f'<a href="{KPI_URL}?n=1">CPA 1</a>' in html
    assert "Acme · times in Asia/Ho_Chi_Minh" in text


def test_a_long_digest_stays_within_limits_and_says_how_many_more():
    event = digest(100, name="Cost per acquisition & <friends> " * 8, url=KPI_URL + "/" + "x" * 400)
    body = slack_message(event, EXTRA)
    card = check_adaptive_card(teams_card(event, EXTRA))
    text, _html = check_email(render_email(event))

    check_block_kit(body)
    for section in body["blocks"][3:6]:
        assert section["text"]["text"].endswith("more on the dashboard_")
    assert sum(re.match(r"^\S+ \[", e.get("text", "")) is not None for e in card["body"]) == 30  # 10 per list
    assert "…and 90 more on the dashboard" in text
    assert len(str(teams_card(event, EXTRA)).encode()) < 28_000  # Teams' webhook payload limit


def test_a_digest_does_not_change_the_event_it_renders():
    event = digest(3)
    before = copy.deepcopy(event)
    slack_message(event, EXTRA), teams_card(event, EXTRA), render_email(event)
    assert event == before


def test_a_daily_digest_covers_one_day():
    event = digest(0)
    event["data"].update({"frequency": "daily", "from": "2026-11-29", "to": "2026-11-29"})

    assert render_email(event)["Subject"] == "Daily KPI digest: 29 Nov 2026"


# --- Other events ---------------------------------------------------------------------------------------------------


def test_an_overspend_says_how_much_and_where():
    body = slack_message(BUDGET, EXTRA)
    message = render_email(BUDGET)

    assert body["blocks"][0]["text"]["text"] == "Budget overspend · November · Meta"
    assert "*Over by*\n450.00 EUR" in slack_texts(body)
    assert message["Subject"] == "[Overspent] November · Meta: 3450.00 vs planned 3000.00 EUR"


def test_a_failed_batch_shows_its_error_and_no_button():
    body = slack_message(INGEST, EXTRA)

    assert body["blocks"][0]["text"]["text"] == "Ingest batch failed · meta"
    assert "the batch failed after 5 attempts" in slack_texts(body)
    assert all(b["type"] != "actions" for b in body["blocks"])


def test_a_channel_test_names_the_channel():
    message = render_email(channel_test("email"))
    card = check_adaptive_card(teams_card(channel_test("teams"), EXTRA))

    assert message["Subject"] == "[Test] Test message for #marketing-alerts (E-mail)"
    assert card_facts(card)["Kind"] == "Microsoft Teams"


def test_an_email_without_recipients_is_a_callers_mistake():
    with pytest.raises(ValueError, match="at least one recipient"):
        email_message(kpi_event(), EXTRA, sender=SENDER, recipients=[])


def test_a_digest_says_how_many_status_changes_its_data_left_out():
    event = digest(10)
    event["data"]["status_changes_total"] = 37  # the digest data lists 10 and gives the total
    text, _html = check_email(render_email(event))
    assert "…and 27 more on the dashboard" in text
