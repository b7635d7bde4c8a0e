"""The currency of money points: each amount of a money metric (unit `currency`) is stored with its ISO 4217
code as the reserved dimension `currency` (shared.metrics.keys.CURRENCY_DIMENSION), so amounts of different
currencies are different keys and are only ever added after conversion (shared/money).

Where a point's currency comes from, first found wins: the point (a generic point's `currency`, an adapter's
report row), the batch (`currency` of a generic batch), the source's default (`PUT /v1/ingest/sources/{source}/
config`). A money point with none of these is refused (422 naming it); other metrics carry no currency."""

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, replace

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.ingest.models import IngestSourceConfig
from shared.ingest.points import Point
from shared.metrics.keys import CURRENCY_DIMENSION
from shared.metrics.models import MetricDefinition, MetricUnit
from shared.orgs.clock import org_zone


@dataclass(frozen=True)
class IngestContext:
    """What reading a push needs to know of the organisation: its time zone (a timestamp's local day), its money
    metrics and the default currency of each source that has one."""

    time_zone: str
    money: frozenset[str]
    source_currencies: dict[str, str]

    def default_currency(self, source: str, batch_currency: str | None) -> str | None:
        return batch_currency or self.source_currencies.get(source)


async def ingest_context(session: AsyncSession, org_id: uuid.UUID) -> IngestContext:
    """Two small reads (its money metrics, its sources' defaults); the zone came with the API key."""
    time_zone = await org_zone(session, org_id)  # known from the key lookup: no query
    money = await session.scalars(select(MetricDefinition.key).where(MetricDefinition.unit == MetricUnit.currency))
    defaults = await session.execute(
        select(IngestSourceConfig.source, IngestSourceConfig.default_currency).where(
            IngestSourceConfig.default_currency.is_not(None)
        )
    )
    return IngestContext(time_zone, frozenset(money), {s: c for s, c in defaults if c})


def priced(points: Iterable[Point], money: frozenset[str], default: str | None) -> list[Point]:
    """The points with each money amount's currency in its dimensions (its own, else `default`); a money point
    with neither is left without one, for validation to refuse. Other points are unchanged."""
    out = []
    for point in points:
        if point.metric in money:
            currency = point.currency or default
            if currency is not None:
                point = replace(point, dimensions={**point.dimensions, CURRENCY_DIMENSION: currency}, currency=currency)
        out.append(point)
    return out
