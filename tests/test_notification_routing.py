"""Routing, silences and quiet hours as pure rules (shared/webhooks/channels/routing.py): which channels an event
goes to, and whether each delivery is sent now, held or silenced."""

import uuid
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest

from shared.webhooks.channels.routing import Facts, OrgRoutes, matches, quiet_until
from shared.webhooks.models import DeliveryStatus, EventType

TEAM, OTHER_TEAM, KPI = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
NOW = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)


def routes(*, mode="first", rules=(), default=(), quiet=None, silences=(), tz="UTC", disabled=()) -> OrgRoutes:
    names = {n for rule in rules for n in rule[1]} | set(default)
    channels = {n: SimpleNamespace(id=n, name=n) for n in names if n not in disabled}
    routing = SimpleNamespace(
        mode=mode,
        rules=[{"name": f"rule {i}", "match": match, "channel_ids": list(ids)} for i, (match, ids) in enumerate(rules)],
        default_channel_ids=list(default),
        quiet_hours=quiet,
    )
    return OrgRoutes(tz, "Acme", channels, routing, list(silences))  # type: ignore[arg-type]


OFF = Facts(EventType.kpi_off_track, "output", TEAM, KPI)
AT_RISK = Facts(EventType.kpi_at_risk, "impact", OTHER_TEAM, uuid.uuid4())
OVERSPEND = Facts(EventType.budget_overspend, None, TEAM, None)


@pytest.mark.parametrize(
    ("match", "facts", "expected"),
    [
        ({}, OFF, True),
        (None, OVERSPEND, True),
        ({"event_types": ["kpi.off_track"]}, OFF, True),
        ({"event_types": ["kpi.off_track"]}, AT_RISK, False),
        ({"severities": ["critical"]}, OVERSPEND, True),
        ({"severities": ["critical"]}, AT_RISK, False),
        ({"categories": ["impact"]}, AT_RISK, True),
        ({"categories": ["impact"]}, OVERSPEND, False),  # a budget event has no KPI category
        ({"team_ids": [str(TEAM)]}, OVERSPEND, True),  # the budget line's team
        ({"team_ids": [str(TEAM)]}, AT_RISK, False),
        ({"kpi_ids": [str(KPI)]}, OFF, True),
        ({"kpi_ids": [str(KPI)]}, OVERSPEND, False),
        ({"severities": ["critical"], "categories": ["impact"]}, OFF, False),  # every list must hold
    ],
)
def test_a_match_needs_every_non_empty_list_to_hold_the_events_value(match, facts, expected):
    assert matches(match, facts) is expected


def test_first_match_takes_the_first_rule_all_takes_every_rule_and_the_default_takes_the_rest():
    rules = [({"severities": ["critical"]}, ["slack"]), ({"categories": ["output"]}, ["email", "slack"])]
    assert routes(rules=rules, default=["teams"]).channel_ids_for(OFF) == ["slack"]
    assert routes(mode="all", rules=rules, default=["teams"]).channel_ids_for(OFF) == ["slack", "email"]
    assert routes(mode="all", rules=rules, default=["teams"]).channel_ids_for(AT_RISK) == ["teams"]
    assert routes(rules=rules).channel_ids_for(AT_RISK) == [], "no default route: nowhere"
    assert routes(rules=rules, disabled={"slack"}).channel_ids_for(OFF) == [], "a disabled channel gets nothing"


def silence(*, start=NOW - timedelta(hours=1), end=NOW + timedelta(hours=1), **match):
    return SimpleNamespace(id=uuid.uuid4(), starts_at=start, ends_at=end, matchers=match)


def test_a_silence_beats_quiet_hours_and_quiet_hours_never_hold_a_critical_notification():
    quiet = {"start": "09:00", "end": "11:00"}  # NOW is 10:00 UTC
    muted = silence(kpi_ids=[str(KPI)])
    table = routes(default=["slack"], quiet=quiet, silences=[muted])
    [off] = table.route(OFF, NOW)
    assert (off.status, off.silence_id) == (DeliveryStatus.silenced, muted.id)
    [at_risk] = table.route(AT_RISK, NOW)
    assert (at_risk.status, at_risk.due) == (DeliveryStatus.held, datetime(2026, 12, 1, 11, 0, tzinfo=UTC))
    [critical] = routes(default=["slack"], quiet=quiet).route(OFF, NOW)
    assert (critical.status, critical.due) == (DeliveryStatus.pending, NOW)
    later = routes(default=["slack"], silences=[silence(start=NOW + timedelta(minutes=1))])
    assert later.route(OFF, NOW)[0].status == DeliveryStatus.pending, "a silence not yet started mutes nothing"


@pytest.mark.parametrize(
    ("quiet", "tz", "now", "until"),
    [
        ({"start": "22:00", "end": "07:00"}, "UTC", datetime(2026, 12, 1, 23, 30, tzinfo=UTC), "2026-12-02T07:00"),
        ({"start": "22:00", "end": "07:00"}, "UTC", datetime(2026, 12, 1, 6, 59, tzinfo=UTC), "2026-12-01T07:00"),
        ({"start": "22:00", "end": "07:00"}, "UTC", datetime(2026, 12, 1, 7, 0, tzinfo=UTC), None),
        ({"start": "22:00", "end": "07:00"}, "UTC", datetime(2026, 12, 1, 21, 59, tzinfo=UTC), None),
        # 23:30 in Hanoi is 16:30 UTC; the end, 07:00 local the next day, is 00:00 UTC.
        (
            {"start": "22:00", "end": "07:00"},
            "Asia/Ho_Chi_Minh",
            datetime(2026, 12, 1, 16, 30, tzinfo=UTC),
            "2026-12-02T00:00",
        ),
        # Berlin springs forward on 29 March 2026 at 02:00: an end at 02:30 that night does not exist; read forward.
        (
            {"start": "01:00", "end": "02:30"},
            "Europe/Berlin",
            datetime(2026, 3, 29, 0, 30, tzinfo=UTC),
            "2026-03-29T01:30",
        ),
        (None, "UTC", NOW, None),
    ],
)
def test_quiet_hours_are_local_wall_clock_time_and_may_run_past_midnight(quiet, tz, now, until):
    end = quiet_until(quiet, tz, now)
    assert (end.strftime("%Y-%m-%dT%H:%M") if end else None) == until


def test_a_message_that_cannot_be_built_is_a_failed_attempt_not_a_crash():
    from shared.webhooks.channels.models import ChannelKind
    from shared.webhooks.channels.outbound import outbound

    channel = SimpleNamespace(
        id=uuid.uuid4(),
        kind=ChannelKind.email,
        secret=None,
        config={
            "host": "127.0.0.1",
            "port": 25,
            "security": "none",
            "username": None,
            "sender": "KPI <kpi@example.com>\nBcc: evil@example.com",  # stored before addresses were checked
            "recipients": ["a@example.com"],
        },
    )
    event = SimpleNamespace(
        id="msg_1",
        payload={"type": "notification.test", "version": 1, "timestamp": "2026-12-01T00:00:00+00:00", "data": {}},
        extra=None,
    )
    out = outbound(channel, event)  # type: ignore[arg-type]
    assert out.error and out.error.startswith("the message could not be built")
