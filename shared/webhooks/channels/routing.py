"""Who gets what: an event's channels by the organisation's routing, and what each delivery does now.

For each channel an event is routed to, a delivery is made with one of three dispositions:
- `silenced` when an active silence matches the event: recorded (the log shows it), never sent;
- `held` when it is not critical and the organisation's quiet hours are on: sent when they end (only the latest of a
  subject, `shared.alerts.notices.release_held`);
- `pending`: sent now, as webhook deliveries are.

Matching: a rule's or silence's `match` lists values per fact (`event_types`, `severities`, `categories`,
`team_ids`, `kpi_ids`); an empty or missing list matches anything; a fact the event lacks (a budget event has no
KPI) matches no non-empty list. Mode `first`: the first matching rule's channels; `all`: every matching rule's.
No rule matches: the default route's channels.
"""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.orgs.clock import zone
from shared.orgs.models import Org
from shared.webhooks.channels.models import NotificationChannel, NotificationRouting, Silence
from shared.webhooks.models import DeliveryStatus, EventType

MATCH_FIELDS = ("event_types", "severities", "categories", "team_ids", "kpi_ids")


class Severity:
    """A notification's severity: quiet hours hold all but critical ones."""

    critical = "critical"
    warning = "warning"
    info = "info"
    ALL = ("critical", "warning", "info")


SEVERITY_OF: dict[EventType, str] = {
    EventType.kpi_off_track: Severity.critical,
    EventType.budget_overspend: Severity.critical,
    EventType.kpi_at_risk: Severity.warning,
    EventType.kpi_no_data: Severity.warning,
    EventType.ingest_batch_failed: Severity.warning,
    EventType.kpi_recovered: Severity.info,
    EventType.webhook_test: Severity.info,
    EventType.notification_test: Severity.info,
    EventType.notification_digest: Severity.info,
}
# Events that are routed (the others go to one channel on request, or on its own schedule, or only to webhooks).
ROUTED_TYPES = tuple(t for t in SEVERITY_OF if t.value.startswith(("kpi.", "budget.", "ingest.")))


@dataclass(frozen=True)
class Facts:
    """What routing and silences look at."""

    type: EventType
    category: str | None = None
    team_id: uuid.UUID | None = None
    kpi_id: uuid.UUID | None = None

    @property
    def severity(self) -> str:
        return SEVERITY_OF[self.type]

    def to_extra(self) -> dict[str, str | None]:
        """Kept with the event (`WebhookEvent.extra["facts"]`), so a silence's end can route it again."""
        return {
            "category": self.category,
            "team_id": str(self.team_id) if self.team_id else None,
            "kpi_id": str(self.kpi_id) if self.kpi_id else None,
        }

    @classmethod
    def from_extra(cls, type_: EventType, extra: dict[str, Any]) -> "Facts":
        kept = extra.get("facts") or {}
        team_id, kpi_id = kept.get("team_id"), kept.get("kpi_id")
        return cls(
            type_,
            kept.get("category"),
            uuid.UUID(team_id) if team_id else None,
            uuid.UUID(kpi_id) if kpi_id else None,
        )

    def values(self) -> dict[str, str | None]:
        return {
            "event_types": self.type.value,
            "severities": self.severity,
            "categories": self.category,
            "team_ids": str(self.team_id) if self.team_id else None,
            "kpi_ids": str(self.kpi_id) if self.kpi_id else None,
        }


def matches(match: dict[str, Any] | None, facts: Facts) -> bool:
    """Every non-empty list of the match holds the event's value for that fact."""
    values = facts.values()
    for field in MATCH_FIELDS:
        wanted = (match or {}).get(field) or []
        if wanted and values[field] not in wanted:
            return False
    return True


def _clock(text: str) -> time:
    hours, minutes = text.split(":")
    return time(int(hours), int(minutes))


def quiet_until(quiet_hours: dict[str, str] | None, tz: str, now: datetime) -> datetime | None:
    """The end of the quiet hours `now` falls in (UTC), or None when it falls in none.

    The window is local wall-clock time in the organisation's zone and may run past midnight (22:00–07:00). Its end
    on a day the clocks skip that hour is read forward, as zoneinfo reads a nonexistent local time."""
    if not quiet_hours:
        return None
    start, end = _clock(quiet_hours["start"]), _clock(quiet_hours["end"])
    if start == end:
        return None
    local = now.astimezone(zone(tz))
    at = local.time().replace(tzinfo=None)
    inside = start <= at < end if start < end else (at >= start or at < end)
    if not inside:
        return None
    end_day = local.date() if at < end else local.date() + timedelta(days=1)
    return datetime.combine(end_day, end, tzinfo=zone(tz)).astimezone(UTC)


@dataclass(frozen=True)
class Disposition:
    """One channel's delivery of an event: its status, when it is due, and the silence that muted it."""

    channel: NotificationChannel
    status: DeliveryStatus
    due: datetime | None
    silence_id: uuid.UUID | None = None


@dataclass
class OrgRoutes:
    """One organisation's enabled channels, routing and silences in force, read once per run."""

    tz: str
    org_name: str
    channels: dict[str, NotificationChannel]
    routing: NotificationRouting | None
    silences: Sequence[Silence]

    def channel_ids_for(self, facts: Facts) -> list[str]:
        """The channels the routing picks (in rule order, each once); disabled or deleted ones are left out."""
        routing = self.routing
        if routing is None:
            return []
        picked: list[str] = []
        for rule in routing.rules:
            if matches(rule.get("match"), facts):
                picked += [c for c in rule.get("channel_ids", []) if c not in picked]
                if routing.mode == "first":
                    break
        else:
            if not picked:
                picked = list(dict.fromkeys(routing.default_channel_ids))  # each once
        return [c for c in picked if c in self.channels]

    def silence_for(self, facts: Facts, now: datetime) -> Silence | None:
        """The first silence in force at `now` that matches."""
        for silence in self.silences:
            if silence.starts_at <= now < silence.ends_at and matches(silence.matchers, facts):
                return silence
        return None

    def dispose(self, channel: NotificationChannel, facts: Facts, now: datetime) -> Disposition:
        """Silenced beats held; critical notifications are never held."""
        if (silence := self.silence_for(facts, now)) is not None:
            return Disposition(channel, DeliveryStatus.silenced, None, silence.id)
        if facts.severity != Severity.critical:
            held_until = quiet_until(self.routing.quiet_hours if self.routing else None, self.tz, now)
            if held_until is not None:
                return Disposition(channel, DeliveryStatus.held, held_until)
        return Disposition(channel, DeliveryStatus.pending, now)

    def route(self, facts: Facts, now: datetime) -> list[Disposition]:
        return [self.dispose(self.channels[c], facts, now) for c in self.channel_ids_for(facts)]


async def load_routes(session: AsyncSession, org_id: uuid.UUID, now: datetime) -> OrgRoutes:
    """One read for an organisation without routing (most: webhooks only): its zone, name and routing together;
    with routing, two more (its enabled channels, its silences in force)."""
    found = (
        await session.execute(
            select(Org.time_zone, Org.name, NotificationRouting)
            .outerjoin(NotificationRouting, NotificationRouting.org_id == Org.id)
            .where(Org.id == org_id)
        )
    ).one_or_none()
    tz, name, routing = found if found is not None else ("UTC", "", None)
    if routing is None:
        return OrgRoutes(tz, name, {}, None, [])
    channels = (
        await session.scalars(
            select(NotificationChannel).where(
                NotificationChannel.org_id == org_id, NotificationChannel.enabled.is_(True)
            )
        )
    ).all()
    silences = (
        await session.scalars(
            select(Silence).where(Silence.org_id == org_id, Silence.starts_at <= now, Silence.ends_at > now)
        )
    ).all()
    return OrgRoutes(tz, name, {str(c.id): c for c in channels}, routing, silences)
