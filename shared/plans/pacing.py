"""A plan's budget pacing: the share of the budget spent against the share of its period elapsed. Pure; the budget
report (API) and the notification digest (worker) both read it, so both say the same thing about a plan."""

import enum
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from shared.money.fx import MissingRate
from shared.periods import elapsed_fraction
from shared.plans.models import BudgetLine

SHARE = Decimal("0.0001")
# Spending within 5 points of the elapsed share (e.g. 48-58 % spent halfway through) is on pace: a budget is not
# spent evenly day by day (invoices land weekly, campaigns start together), so a smaller gap is noise, not news.
ON_PACE_BAND = Decimal("0.05")


class PaceStatus(enum.StrEnum):
    over_pace = "over_pace"  # spending ahead of time
    on_pace = "on_pace"
    under_pace = "under_pace"  # spending behind time
    unconverted = "unconverted"  # some spend cannot be converted into the budget's currency yet: no share is known


@dataclass(frozen=True)
class Pace:
    """Shares to 4 places; `spent_share` and `pacing` None when the actual is unknown or the budget is 0."""

    elapsed_share: Decimal
    spent_share: Decimal | None
    pacing: Decimal | None  # spent_share − elapsed_share: above 0 spends ahead of time

    @property
    def status(self) -> PaceStatus:
        """The pacing in a word, with ON_PACE_BAND either side of exact pace counting as on pace."""
        if self.pacing is None:
            return PaceStatus.unconverted
        if self.pacing > ON_PACE_BAND:
            return PaceStatus.over_pace
        if self.pacing < -ON_PACE_BAND:
            return PaceStatus.under_pace
        return PaceStatus.on_pace


def pace(*, total: Decimal, actual: Decimal | None, start: date, end: date, today: date) -> Pace:
    """The pacing of a budget of `total` with `actual` spent (None: not known) over a plan from `start` to `end`,
    as of `today` (included in the elapsed share)."""
    elapsed = elapsed_fraction(start, end, today)
    spent = (actual / total).quantize(SHARE) if total and actual is not None else None
    return Pace(
        elapsed_share=elapsed.quantize(SHARE),
        spent_share=spent,
        pacing=None if spent is None else (spent - elapsed).quantize(SHARE),
    )


def total_actual(lines: Iterable[BudgetLine], ingested: Mapping[uuid.UUID, Decimal | MissingRate]) -> Decimal | None:
    """A budget's actual over its lines: each line's manual actual plus its ingested spend (`ingested`: the
    line's amount or `MissingRate`, as `shared.plans.actuals.ingested_by_lines` gives it). None as soon as one
    line's spend cannot be converted: never a partial sum that reads as the whole."""
    total = Decimal(0)
    for line in lines:
        spend = ingested[line.id]
        if isinstance(spend, MissingRate):
            return None
        total += line.actual_amount + spend
    return total
