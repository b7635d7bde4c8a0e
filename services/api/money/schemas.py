"""Request and response bodies of exchange rates."""

from datetime import date
from decimal import Decimal
from typing import Annotated

from pydantic import Field, model_validator

from services.api.schemas import Currency, Day, Input, Output

MAX_RATES = 10_000
Rate = Annotated[
    Decimal,
    Field(
        gt=0,
        max_digits=30,
        decimal_places=16,
        allow_inf_nan=False,
        description="How many `to` one `from` is worth, a positive decimal (up to 16 places)",
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
