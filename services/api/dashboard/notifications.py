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

from babel.dates import format_datetime, format_skeleton, get_day_names
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.api.dashboard.i18n import current_locale
from services.api.dashboard.i18n import gettext as _
from services.api.dashboard.views import N_, StatusLook, translated, words
from services.api.notifications import service as notifications
from services.api.notifications.schemas import WEEKDAYS
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

# The page's words, marked with N_ and translated when a page is made (never at import).
MODES = {
    "first": (N_("First matching rule"), N_("an event goes to the channels of the first rule it matches")),
    "all": (N_("Every matching rule"), N_("an event goes to the channels of every rule it matches")),
}
KIND_WORDS = {"email": N_("E-mail")}  # Slack and Microsoft Teams are names: CHANNEL_KINDS as they are
EVENT_WORDS = {
    "kpi.off_track": N_("KPI off track"),
    "kpi.at_risk": N_("KPI at risk"),
    "kpi.recovered": N_("KPI back on track"),
    "kpi.no_data": N_("KPI without data"),
    "budget.overspend": N_("budget overspent"),
    "ingest.batch_failed": N_("ingest batch failed"),
}
FIELD_WORDS = {
    "event_types": N_("Event"),
    "severities": N_("Severity"),
    "categories": N_("KPI category"),
    "team_ids": N_("Team"),
    "kpi_ids": N_("KPI"),
}
# A delivery's status as a word and an icon, never colour alone (the CSS classes are the dashboard's statuses).
DELIVERY = {
    DeliveryStatus.delivered: StatusLook(N_("Delivered"), "✓", "on-track"),
    DeliveryStatus.pending: StatusLook(N_("Sending (retrying)"), "…", "at-risk"),
    DeliveryStatus.failed: StatusLook(N_("Failed"), "✕", "off-track"),
    DeliveryStatus.gone: StatusLook(N_("Gone: the receiver answered 410"), "✕", "off-track"),
    DeliveryStatus.skipped: StatusLook(N_("Skipped: the channel was disabled"), "–", "no-data"),
    DeliveryStatus.held: StatusLook(N_("Held for quiet hours"), "…", "no-data"),
    DeliveryStatus.silenced: StatusLook(N_("Silenced"), "–", "no-data"),
    DeliveryStatus.superseded: StatusLook(N_("Superseded by a later one"), "–", "no-data"),
}
NOTHING_SENT = StatusLook(N_("Nothing sent yet"), "–", "no-data")
ENABLED = StatusLook(N_("Enabled"), "✓", "on-track")
FAILING = StatusLook(N_("Enabled, failing"), "!", "at-risk")
DISABLED = StatusLook(N_("Disabled"), "✕", "off-track")
SILENCE_STATES = {
    "active": StatusLook(N_("Active"), "✓", "on-track"),
    "pending": StatusLook(N_("Pending"), "…", "no-data"),
    "expired": StatusLook(N_("Ended"), "–", "no-data"),
}


@dataclass(frozen=True)
class Moment:
    """An instant as the organisation reads it: "Mon 23 Nov 2026 09:00" ("T2, 23 thg 11, 2026 09:00" in Vietnamese),
    with its ISO form for `<time>`."""

    text: str
    iso: str


def moment(at: datetime | None, tz: str) -> Moment | None:
    if at is None:
        return None
    local = at.astimezone(zone(tz))
    loc = current_locale()
    if loc == "en":
        text = format_datetime(local, "EEE d MMM y HH:mm", locale=loc)
    else:  # the language's own order of weekday, day, month and year (Babel's CLDR data)
        text = f"{format_skeleton('yMMMEd', local, locale=loc)} {local:%H:%M}"
    return Moment(text, local.isoformat())


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
        day = get_day_names("wide", locale=current_locale())[WEEKDAYS.index(schedule.weekday)]
        return _("Weekly on %(day)s at %(time)s (%(zone)s)") % {"day": day, "time": schedule.time, "zone": tz}
    return _("Daily at %(time)s (%(zone)s)") % {"time": schedule.time, "zone": tz}


def _state(channel: NotificationChannel, tz: str) -> tuple[StatusLook, str | None]:
    if not channel.enabled:
        when = moment(channel.disabled_at, tz)
        reason = channel.disabled_reason or _("by an admin")  # a reason the service wrote is shown as written
        return translated(DISABLED), f"{reason}{f' ({when.text})' if when else ''}"
    if channel.failing_since is not None:
        since = moment(channel.failing_since, tz)
        failing = _("every delivery has failed since %(when)s") % {"when": since.text} if since else None
        return translated(FAILING), failing
    return translated(ENABLED), None


def match_words(match: Mapping[str, Any] | None, names: Mapping[str, str]) -> list[str]:
    """A rule's or silence's matchers as phrases ("Severity: critical", "KPI: CPA or CTR"); empty: every event."""
    phrases = []
    for field in MATCH_FIELDS:
        values = (match or {}).get(field) or []
        if not values:
            continue
        if field == "event_types":
            shown = [words(EVENT_WORDS, v) for v in values]
        elif field in ("team_ids", "kpi_ids"):
            gone = _("a deleted team") if field == "team_ids" else _("a deleted KPI")
            shown = [names.get(str(v), gone) for v in values]
        else:
            shown = [str(v) for v in values]
        either = _("or")
        phrases.append(f"{words(FIELD_WORDS, field)}: {f' {either} '.join(shown)}")
    return phrases or [_("Every event")]


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
        return LastDelivery(translated(NOTHING_SENT), None, None)
    status = DeliveryStatus(row.status)
    look = translated(DELIVERY[status]) if status in DELIVERY else StatusLook(status.value.capitalize(), "–", "no-data")
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

    channel_names = {str(c.id): c.name if c.enabled else _("%(name)s (disabled)") % {"name": c.name} for c in channels}

    def named(ids: Iterable[str]) -> list[str]:
        return [channel_names.get(str(c), _("a channel not listed here")) for c in ids]

    rows = []
    for channel in channels:
        state, detail = _state(channel, tz)
        rows.append(
            ChannelRow(
                channel=channel,
                kind=words(KIND_WORDS, channel.kind.value)
                if channel.kind.value in KIND_WORDS
                else CHANNEL_KINDS.get(channel.kind.value, channel.kind.value),
                target=notifications.target_of(channel),
                state=state,
                state_detail=detail,
                digest=digest_words(channel, tz),
                next_digest=moment(channel.next_digest_at, tz),
                last=_last(last.get(channel.id), tz),
            )
        )
    rules = [
        RuleRow(
            i,
            rule.get("name") or _("Rule %(n)d") % {"n": i},
            match_words(rule.get("match"), names),
            named(rule["channel_ids"]),
        )
        for i, rule in enumerate(routing.rules if routing else [], start=1)
    ]
    mode = routing.mode if routing else "first"
    mode_text, mode_detail = (_(MODES[mode][0]), _(MODES[mode][1])) if mode in MODES else (mode, "")
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
                state=translated(SILENCE_STATES[notifications.silence_state(s, now)]),
                matches=match_words(s.matchers, names),
                starts=moment(s.starts_at, tz),
                ends=moment(s.ends_at, tz),
            )
            for s in silences
        ],
        "more_silences": more_active is not None or more_pending is not None,
    }
