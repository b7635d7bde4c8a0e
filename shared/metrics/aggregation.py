"""How one metric is reduced over a window of days, from its daily roll-ups. Pure, no I/O.

Each metric is aggregated over the window by its own aggregation before a KPI's formula is applied ("ratios are
ratios of sums"): CPC over a month is sum(spend) / sum(clicks), not the mean of daily CPCs. The roll-ups keep
what every aggregation needs (sum, count, min, max, last), so an average is sum ÷ count over all the points,
never an average of daily averages.
"""

import enum
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Protocol

_ZERO = Decimal(0)


class Aggregation(enum.StrEnum):
    sum = "sum"
    avg = "avg"
    min = "min"
    max = "max"
    last = "last"


class DayRow(Protocol):
    """A roll-up row of one metric for one day and one dimension set (or several merged: `DayTotal`)."""

    @property
    def day(self) -> date: ...
    @property
    def value_sum(self) -> Decimal: ...
    @property
    def value_count(self) -> int: ...
    @property
    def value_min(self) -> Decimal: ...
    @property
    def value_max(self) -> Decimal: ...
    @property
    def value_last(self) -> Decimal: ...


@dataclass(frozen=True)
class DayTotal:
    """One day's roll-up rows of a metric (all matching dimension sets) merged: the same fields as a row, so
    `window_aggregate` reads either. Every aggregation survives the merge: sums add, counts add, min of mins,
    max of maxes; `value_last` is the sum of each dimension set's last value that day (a gauge such as
    followers, reported per channel, totals across channels)."""

    day: date
    value_sum: Decimal
    value_count: int
    value_min: Decimal
    value_max: Decimal
    value_last: Decimal

    @classmethod
    def of(cls, day: date, rows: Sequence[DayRow]) -> "DayTotal":
        return cls(
            day=day,
            value_sum=sum((Decimal(r.value_sum) for r in rows), _ZERO),
            value_count=sum(r.value_count for r in rows),
            value_min=min(Decimal(r.value_min) for r in rows),
            value_max=max(Decimal(r.value_max) for r in rows),
            value_last=sum((Decimal(r.value_last) for r in rows), _ZERO),
        )


def window_aggregate(rows: Iterable[DayRow], how: Aggregation) -> Decimal | None:
    """One metric over a window from its per-day rows: a sum of sums, an average of all points (sum of sums ÷
    sum of counts), the extreme, or the latest day's value. None when the window has no data."""
    rows = list(rows)
    if not rows:
        return None
    if how == Aggregation.sum:
        return sum((Decimal(r.value_sum) for r in rows), _ZERO)
    if how == Aggregation.avg:
        count = sum(r.value_count for r in rows)
        return sum((Decimal(r.value_sum) for r in rows), _ZERO) / count if count else None
    if how == Aggregation.min:
        return min(Decimal(r.value_min) for r in rows)
    if how == Aggregation.max:
        return max(Decimal(r.value_max) for r in rows)
    # `last`: the latest day in the window that has data, every matching dimension set of that day summed. Never
    # the time the data arrived: a backfill or a late restatement of an early day must not make that day the
    # window's "last".
    latest = max(rows, key=lambda r: r.day)
    return Decimal(latest.value_last)
