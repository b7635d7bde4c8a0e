"""Request and response bodies of exchange rates."""

from datetime import date
from decimal import Context, Decimal
from typing import Annotated

from pydantic import AfterValidator, Field, model_validator

from services.api.schemas import Currency, Day, Input, Output

MAX_RATES = 10_000


def _significant(rate: Decimal) -> Decimal:
    """A rate kept to 20 significant digits (1/25400 written out in full is still accepted)."""
    if not rate.is_finite() or rate <= 0 or rate >= RATE_LIMIT:
        raise ValueError(f"a rate is a positive number below {RATE_LIMIT:,}")
    return +Context(prec=20).create_decimal(rate)


RATE_LIMIT = Decimal(10) ** 12
Rate = Annotated[
    Decimal,
    AfterValidator(_significant),
    Field(
        description="How many `to` one `from` is worth: a positive decimal below 10^12, kept to 20 significant "
        "digits (a JSON number or a string)",
        examples=["25400"],
    ),
]


class FxRateIn(Input):
    """One rate: 1 `from` = `rate` `to`, from `day` on until the pair's next rate."""

    day: Day = Field(examples=["2026-11-01"])
    from_: Currency = Field(alias="from", examples=["USD"])
    to: Currency = Field(examples=["VND"])
    rate: Rate

    @model_validator(mode="after")
    def _two_currencies(self) -> "FxRateIn":
        if self.from_ == self.to:
            raise ValueError(f"from and to are both {self.to}: a currency converts into itself at 1")
        return self


class FxRatesIn(Input):
    """Rates to store (each replaces the pair's rate of its day; the same rates again change nothing)."""

    rates: list[FxRateIn] = Field(min_length=1, max_length=MAX_RATES)


class FxRateOut(Output):
    day: date = Field(examples=["2026-11-01"])
    from_: str = Field(serialization_alias="from", examples=["USD"])
    to: str = Field(examples=["VND"])
    rate: str = Field(examples=["25400"], description="As given, a decimal string")


class FxRatesStored(Output):
    received: int = Field(description="Rates in the request", examples=[30])
    changed: int = Field(description="Rates new or different from the stored ones", examples=[30])
    reevaluating_since: date | None = Field(
        description="The first day whose money the change converts differently: the organisation's KPIs that read "
        "money are re-evaluated from it (null: nothing changed)",
        examples=["2026-11-01"],
    )


class FxRatesPage(Output):
    items: list[FxRateOut]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last")
