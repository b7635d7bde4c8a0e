"""What the notifications page shows: the channels, the routing and the silences in force, in words.

Read with the notification service's own functions (its channel list, routing and silence lists, `target_of` for
where a channel posts: never the secret part of a URL, never an SMTP password). A fixed number of statements
whatever the number of channels or rules: the organisation, the channels, every channel's last delivery at once,
the routing, the active and the pending silences, and the names of the teams and KPIs the matchers name.
"""

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.api.dashboard.views import StatusLook
from services.api.notifications import service as notifications
from services.api.pagination import MAX_LIMIT, PageParams
from shared.department.models import Team
from shared.kpis.models import Kpi
from shared.orgs.clock import session_zone, zone
from shared.orgs.models import Org
from shared.webhooks.channels.model import CHANNEL_KINDS
from shared.webhooks.channels.models import NotificationChannel, Silence
from shared.webhooks.channels.routing import MATCH_FIELDS
from shared.webhooks.models import DeliveryStatus, WebhookDelivery

ALL = PageParams(limit=MAX_LIMIT, after=None)
_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

MODES = {
    "first": ("First matching rule", "an event goes to the channels of the first rule it matches"),
    "all": ("Every matching rule", "an event goes to the channels of every rule it matches"),
}
EVENT_WORDS = {
    "kpi.off_track": "KPI off track",
    "kpi.at_risk": "KPI at risk",
    "kpi.recovered": "KPI back on track",
    "kpi.no_data": "KPI without data",
    "budget.overspend": "budget overspent",
    "ingest.batch_failed": "ingest batch failed",
}
FIELD_WORDS = {
    "event_types": "Event",
    "severities": "Severity",
    "categories": "KPI category",
    "team_ids": "Team",
    "kpi_ids": "KPI",
}
# A delivery's status as a word and an icon, never colour alone (the CSS classes are the dashboard's statuses).
DELIVERY = {
    DeliveryStatus.delivered: StatusLook("Delivered", "✓", "on-track"),
    DeliveryStatus.pending: StatusLook("Sending (retrying)", "…", "at-risk"),
    DeliveryStatus.failed: StatusLook("Failed", "✕", "off-track"),
    DeliveryStatus.gone: StatusLook("Gone: the receiver answered 410", "✕", "off-track"),
    DeliveryStatus.skipped: StatusLook("Skipped: the channel was disabled", "–", "no-data"),
    DeliveryStatus.held: StatusLook("Held for quiet hours", "…", "no-data"),
    DeliveryStatus.silenced: StatusLook("Silenced", "–", "no-data"),
    DeliveryStatus.superseded: StatusLook("Superseded by a later one", "–", "no-data"),
}
NOTHING_SENT = StatusLook("Nothing sent yet", "–", "no-data")
ENABLED = StatusLook("Enabled", "✓", "on-track")
FAILING = StatusLook("Enabled, failing", "!", "at-risk")
DISABLED = StatusLook("Disabled", "✕", "off-track")
SILENCE_STATES = {
    "active": StatusLook("Active", "✓", "on-track"),
    "pending": StatusLook("Pending", "…", "no-data"),
    "expired": StatusLook("Ended", "–", "no-data"),
}


@dataclass(frozen=True)
class Moment:
    """An instant as the organisation reads it: "Mon 23 Nov 2026 09:00", with its ISO form for `<time>`."""

    text: str
    iso: str


def moment(at: datetime | None, tz: str) -> Moment | None:
    if at is None:
        return None
    local = at.astimezone(zone(tz))
    return Moment(
        f"{_DAYS[local.weekday()]} {local.day} {_MONTHS[local.month - 1]} {local.year} {local:%H:%M}",
        local.isoformat(),
    )


@dataclass(frozen=True)
class LastDelivery:
    look: StatusLook
    at: Moment | None
    until: Moment | None  # a held one's release (the quiet hours' end)


@dataclass(frozen=True)
class ChannelRow:
    channel: NotificationChannel
    kind: str
    target: str
    state: StatusLook
    state_detail: str | None
    digest: str | None
    next_digest: Moment | None
    last: LastDelivery


@dataclass(frozen=True)
class RuleRow:
    position: int
    name: str
    matches: list[str]
    channels: list[str]


@dataclass(frozen=True)
class SilenceRow:
    silence: Silence
    state: StatusLook
    matches: list[str]
    starts: Moment | None
    ends: Moment | None


def digest_words(channel: NotificationChannel, tz: str) -> str | None:
    """ "Weekly on Monday at 09:00 (Asia/Ho_Chi_Minh)", "Daily at 18:30 (UTC)"; None without a digest."""
    schedule = notifications.digest_of(channel)
    if schedule is None:
        return None
    if schedule.weekday is not None:
        return f"Weekly on {schedule.weekday.capitalize()} at {schedule.time} ({tz})"
    return f"Daily at {schedule.time} ({tz})"


def _state(channel: NotificationChannel, tz: str) -> tuple[StatusLook, str | None]:
    if not channel.enabled:
        when = moment(channel.disabled_at, tz)
        reason = channel.disabled_reason or "by an admin"
        return DISABLED, f"{reason}{f' ({when.text})' if when else ''}"
    if channel.failing_since is not None:
        since = moment(channel.failing_since, tz)
        return FAILING, f"every delivery has failed since {since.text}" if since else None
    return ENABLED, None


def match_words(match: Mapping[str, Any] | None, names: Mapping[str, str]) -> list[str]:
    """A rule's or silence's matchers as phrases ("Severity: critical", "KPI: CPA or CTR"); empty: every event."""
    phrases = []
    for field in MATCH_FIELDS:
        values = (match or {}).get(field) or []
        if not values:
            continue
        if field == "event_types":
            shown = [EVENT_WORDS.get(v, v) for v in values]
        elif field in ("team_ids", "kpi_ids"):
            gone = "a deleted team" if field == "team_ids" else "a deleted KPI"
            shown = [names.get(str(v), gone) for v in values]
        else:
            shown = [str(v) for v in values]
        phrases.append(f"{FIELD_WORDS[field]}: {' or '.join(shown)}")
    return phrases or ["Every event"]


async def _last_deliveries(session: AsyncSession, channel_ids: list[uuid.UUID]) -> dict[uuid.UUID, Any]:
    """Each channel's latest delivery, in one statement for all of them."""
    if not channel_ids:
        return {}
    ranked = (
        select(
            WebhookDelivery.channel_id,
            WebhookDelivery.status,
            WebhookDelivery.created_at,
            WebhookDelivery.delivered_at,
            WebhookDelivery.next_attempt_at,
            func.row_number()
            .over(
                partition_by=WebhookDelivery.channel_id,
                order_by=(WebhookDelivery.created_at.desc(), WebhookDelivery.id.desc()),
            )
            .label("latest"),
        )
        .where(WebhookDelivery.channel_id.in_(channel_ids))
        .subquery()
    )
    rows = await session.execute(select(ranked).where(ranked.c.latest == 1))
    return {row.channel_id: row for row in rows}


def _last(row: Any, tz: str) -> LastDelivery:
    if row is None:
        return LastDelivery(NOTHING_SENT, None, None)
    status = DeliveryStatus(row.status)
    look = DELIVERY.get(status, StatusLook(status.value.capitalize(), "–", "no-data"))
    until = moment(row.next_attempt_at, tz) if status == DeliveryStatus.held else None
    return LastDelivery(look, moment(row.delivered_at or row.created_at, tz), until)


async def _names(session: AsyncSession, matchers: Iterable[Mapping[str, Any] | None]) -> dict[str, str]:
    """The names of the teams and KPIs the matchers name (one statement per kind, only when any is named)."""
    team_ids, kpi_ids = set(), set()
    for match in matchers:
        team_ids |= {uuid.UUID(str(t)) for t in (match or {}).get("team_ids") or []}
        kpi_ids |= {uuid.UUID(str(k)) for k in (match or {}).get("kpi_ids") or []}
    names: dict[str, str] = {}
    for model, ids in ((Team, team_ids), (Kpi, kpi_ids)):
        if ids:
            rows = await session.execute(select(model.id, model.name).where(model.id.in_(ids)))
            names |= {str(row_id): name for row_id, name in rows}
    return names


async def notifications_page(session: AsyncSession, *, org_id: uuid.UUID, now: datetime | None = None) -> dict:
    now = now or datetime.now(UTC)
    tz = await session_zone(session)
    channels, more_channels = await notifications.list_channels(session, page=ALL)
    last = await _last_deliveries(session, [c.id for c in channels])
    routing = await notifications.get_routing(session)
    active, more_active = await notifications.list_silences(session, page=ALL, state="active")
    pending, more_pending = await notifications.list_silences(session, page=ALL, state="pending")
    silences = sorted([*active, *pending], key=lambda s: (s.starts_at, s.ends_at))
    names = await _names(
        session, [*(r.get("match") for r in (routing.rules if routing else [])), *(s.matchers for s in silences)]
    )

    channel_names = {str(c.id): c.name + ("" if c.enabled else " (disabled)") for c in channels}

    def named(ids: Iterable[str]) -> list[str]:
        return [channel_names.get(str(c), "a channel not listed here") for c in ids]

    rows = []
    for channel in channels:
        state, detail = _state(channel, tz)
        rows.append(
            ChannelRow(
                channel=channel,
                kind=CHANNEL_KINDS.get(channel.kind.value, channel.kind.value),
                target=notifications.target_of(channel),
                state=state,
                state_detail=detail,
                digest=digest_words(channel, tz),
                next_digest=moment(channel.next_digest_at, tz),
                last=_last(last.get(channel.id), tz),
            )
        )
    rules = [
        RuleRow(i, rule.get("name") or f"Rule {i}", match_words(rule.get("match"), names), named(rule["channel_ids"]))
        for i, rule in enumerate(routing.rules if routing else [], start=1)
    ]
    mode = routing.mode if routing else "first"
    mode_text, mode_detail = MODES.get(mode, (mode, ""))
    quiet = routing.quiet_hours if routing else None
    return {
        "org": await session.get(Org, org_id),
        "time_zone": tz,
        "channels": rows,
        "more_channels": more_channels is not None,
        "routing": routing,
        "mode_text": mode_text,
        "mode_detail": mode_detail,
        "rules": rules,
        "default_route": named(routing.default_channel_ids) if routing else [],
        "quiet_hours": f"{quiet['start']} – {quiet['end']} ({tz})" if quiet else None,
        "silences": [
            SilenceRow(
                silence=s,
                state=SILENCE_STATES[notifications.silence_state(s, now)],
                matches=match_words(s.matchers, names),
                starts=moment(s.starts_at, tz),
                ends=moment(s.ends_at, tz),
            )
            for s in silences
        ],
        "more_silences": more_active is not None or more_pending is not None,
    }
