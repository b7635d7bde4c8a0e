"""An organisation's calendar: its days are local days in its IANA time zone (`orgs.time_zone`).

"Today", the elapsed share of a period, the current period, the scheduled evaluation and the dashboard's
defaults all use the organisation's local date; a timestamped point is bucketed into the local day it falls on.
"""

import uuid
from datetime import UTC, date, datetime
from functools import cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.orgs.models import Org


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


async def org_zone(session: AsyncSession, org_id: uuid.UUID) -> str:
    return (await session.scalar(select(Org.time_zone).where(Org.id == org_id))) or "UTC"


async def org_today(session: AsyncSession, org_id: uuid.UUID, now: datetime | None = None) -> date:
    """Today in the organisation's time zone."""
    return local_today(await org_zone(session, org_id), now)
