"""An organisation's calendar: its days are local days in its IANA time zone (`orgs.time_zone`).

"Today", the elapsed share of a period, the current period, the scheduled evaluation and the dashboard's
defaults all use the organisation's local date; a timestamped point is bucketed into the local day it falls on.
"""

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from sqlalchemy import Date, case, literal, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from shared.db.base import UTCDateTime
from shared.db.scoping import bound_org
from shared.orgs.models import Org

# Where a session keeps the zone of the organisation it is bound to, once read (or learnt with the API key).
_ZONE_KEY = "org_time_zone"


@cache
def zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


@cache
def known_zones() -> frozenset[str]:
    return frozenset(available_timezones())


def is_zone(name: str) -> bool:
    """Whether the name is an IANA zone this machine's tz database (the tzdata package) knows."""
    if name not in known_zones():
        return False
    try:
        zone(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def local_day(at: datetime, tz: str) -> date:
    """The organisation's local date at an instant (an aware datetime)."""
    return at.astimezone(zone(tz)).date()


def local_today(tz: str, now: datetime | None = None) -> date:
    return local_day(now or datetime.now(UTC), tz)


def day_start(day: date, tz: str) -> datetime:
    """The instant (UTC) a local day begins in a zone: its first local midnight (23 or 25 hours before the next
    one across a DST change)."""
    return datetime.combine(day, time(0), zone(tz)).astimezone(UTC)


def remember_zone(session: AsyncSession, org_id: uuid.UUID, tz: str) -> None:
    """Tell the session its organisation's zone (learnt with the API key, or just changed): `org_zone` then
    answers without a query."""
    session.info[_ZONE_KEY] = (org_id, tz)


async def org_zone(session: AsyncSession, org_id: uuid.UUID) -> str:
    known = session.info.get(_ZONE_KEY)
    if known is not None and known[0] == org_id:
        return known[1]
    tz = (await session.scalar(select(Org.time_zone).where(Org.id == org_id))) or "UTC"
    remember_zone(session, org_id, tz)
    return tz


async def org_today(session: AsyncSession, org_id: uuid.UUID, now: datetime | None = None) -> date:
    """Today in the organisation's time zone."""
    return local_today(await org_zone(session, org_id), now)


async def session_zone(session: AsyncSession) -> str:
    """The zone of the organisation the session is bound to (a request's caller); UTC for an unbound session."""
    org_id = bound_org(session)
    return "UTC" if org_id is None else await org_zone(session, org_id)


async def session_today(session: AsyncSession, now: datetime | None = None) -> date:
    """Today for the organisation the session is bound to (a request's caller); UTC's today for an unbound one."""
    return local_today(await session_zone(session), now)


# Every zone's date is within a day of UTC's (offsets run from -12:00 to +14:00): a query across organisations can
# bound by these and keep, in Python, the rows whose own local date fits.
def earliest_today(now: datetime) -> date:
    return now.astimezone(UTC).date() - timedelta(days=1)


def latest_today(now: datetime) -> date:
    return now.astimezone(UTC).date() + timedelta(days=1)


@dataclass(frozen=True)
class LocalDays:
    """Today, and the instant it began, in each of some zones at one instant: what a query across organisations
    needs to judge each organisation by its own calendar (`LocalDays.at(now, zones)`)."""

    now: datetime
    days: Mapping[str, tuple[date, datetime]]  # zone -> (local today, the instant it began)

    @classmethod
    def at(cls, now: datetime, zones: Iterable[str]) -> "LocalDays":
        days = {}
        for tz in {*zones, "UTC"}:
            today = local_today(tz, now)
            days[tz] = (today, day_start(today, tz))
        return cls(now, days)

    def today(self, tz: str) -> date:
        return self.days[tz][0] if tz in self.days else local_today(tz, self.now)

    def today_in_sql(self, zone_column: Any, offset_days: int = 0) -> ColumnElement[date]:
        """An SQL expression: the local today (plus `offset_days`) of the zone in `zone_column` (UTC's for a zone
        not in `days`)."""
        shift = timedelta(days=offset_days)
        return case(
            {tz: literal(today + shift, Date()) for tz, (today, _) in self.days.items()},
            value=zone_column,
            else_=literal(self.days["UTC"][0] + shift, Date()),
        )

    def day_start_in_sql(self, zone_column: Any) -> ColumnElement[datetime]:
        """An SQL expression: the instant today began in the zone in `zone_column`."""
        return case(
            {tz: literal(start, UTCDateTime()) for tz, (_, start) in self.days.items()},
            value=zone_column,
            else_=literal(self.days["UTC"][1], UTCDateTime()),
        )


async def zones_in_use(session: AsyncSession) -> list[str]:
    """The time zones the organisations use (one query; a few dozen at most)."""
    return list(await session.scalars(select(Org.time_zone).distinct()))


async def zones_of(session: AsyncSession, org_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, str]:
    """Each organisation's zone, in one query."""
    rows = await session.execute(select(Org.id, Org.time_zone).where(Org.id.in_(set(org_ids))))
    return {org_id: tz for org_id, tz in rows}
