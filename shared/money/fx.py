"""Exchange rates as data: the rate of a day is the latest one the organisation gave on or before it, for the
pair as given or, failing that, its inverse. Nothing is fetched and nothing is triangulated (USD→EUR→VND is not
assumed from USD→EUR and EUR→VND: a company's books say which rates it uses)."""

import uuid
from bisect import bisect_right
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import TypeVar

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.money.models import FxRate
from shared.orgs.models import Org

_ONE = Decimal(1)
K = TypeVar("K")
V = TypeVar("V")


@dataclass(frozen=True)
class MissingRate:
    """A day whose amounts in `base` cannot be converted into `quote`: no rate of the pair (or its inverse) on or
    before it."""

    base: str
    quote: str
    day: date

    def __str__(self) -> str:
        return f"no {self.base}→{self.quote} exchange rate on or before {self.day.isoformat()} (PUT /v1/fx-rates)"


class Gapped(dict[K, V]):
    """Values by key, and for the keys that have none because some day's money could not be converted, the
    first such day and pair (`missing`)."""

    def __init__(
        self, values: dict[K, V], missing: dict[K, MissingRate], as_reported: dict[K, dict[str, Decimal]] | None = None
    ) -> None:
        super().__init__(values)
        self.missing = missing
        # Money: each key's sums as stored, per currency, before any conversion (where the reader keeps them).
        self.as_reported = as_reported or {}


class RateBook:
    """One organisation's rates, by pair, in day order."""

    def __init__(self, rows: Iterable[tuple[str, str, date, Decimal]] = ()) -> None:
        pairs: dict[tuple[str, str], list[tuple[date, Decimal]]] = defaultdict(list)
        for base, quote, day, rate in rows:
            pairs[base, quote].append((day, Decimal(rate)))
        self._days: dict[tuple[str, str], list[date]] = {}
        self._rates: dict[tuple[str, str], list[Decimal]] = {}
        for pair, items in pairs.items():
            items.sort()
            self._days[pair] = [day for day, _ in items]
            self._rates[pair] = [rate for _, rate in items]

    def _latest(self, base: str, quote: str, day: date) -> Decimal | None:
        days = self._days.get((base, quote))
        if not days:
            return None
        i = bisect_right(days, day)
        return self._rates[base, quote][i - 1] if i else None

    def rate(self, base: str, quote: str, day: date) -> Decimal | None:
        """How many `quote` one `base` is worth on the day; None without a rate on or before it."""
        if base == quote:
            return _ONE
        direct = self._latest(base, quote, day)
        if direct is not None:
            return direct
        inverse = self._latest(quote, base, day)
        return _ONE / inverse if inverse is not None else None


async def reporting_currency(session: AsyncSession, org_id: uuid.UUID) -> str:
    """The organisation's reporting currency: money KPI values and reports are in it."""
    return (await session.scalar(select(Org.reporting_currency).where(Org.id == org_id))) or "USD"


async def rate_books(
    session: AsyncSession, org_ids: Iterable[uuid.UUID], currencies: Iterable[str], until: date
) -> dict[uuid.UUID, RateBook]:
    """Each organisation's rates between the given currencies up to a day (one query)."""
    org_ids, currencies = set(org_ids), set(currencies)
    rows: dict[uuid.UUID, list[tuple[str, str, date, Decimal]]] = defaultdict(list)
    if org_ids and len(currencies) > 1:
        found = await session.execute(
            select(FxRate.org_id, FxRate.base, FxRate.quote, FxRate.day, FxRate.rate).where(
                FxRate.org_id.in_(org_ids),
                FxRate.base.in_(currencies),
                FxRate.quote.in_(currencies),
                FxRate.day <= until,
            )
        )
        for org_id, base, quote, day, rate in found:
            rows[org_id].append((base, quote, day, rate))
    return {org_id: RateBook(rows.get(org_id, ())) for org_id in org_ids}
