"""Request and response bodies of a plan's budget: the budget, its lines, reallocations and the report."""

import uuid
from decimal import Decimal
from typing import Annotated, Any

from pydantic import (
    Field,
    SerializationInfo,
    SerializerFunctionWrapHandler,
    model_serializer,
    model_validator,
)

from services.api.schemas import (
    Amount,
    ChannelKey,
    Currency,
    Id,
    Input,
    Money,
    Name,
    Output,
    Text,
    Timestamp,
    UpdateInput,
)
from shared.money.currencies import amount_text, is_currency


class BudgetPut(Input):
    total: Money = Field(examples=["120000.00"])
    currency: Currency


# The amounts of a budget's outputs, written in whole minor units of the budget's currency in JSON (VND "1500000",
# USD "1500.00", KWD "1000.125"); `ingested_as_reported` maps each currency to an amount in that currency.
_AMOUNT_FIELDS = frozenset(
    {"total", "allocated", "unallocated", "planned", "actual", "variance", "manual_actual", "ingested_spend"}
    | {"planned_amount", "actual_amount"}
)


def _in_minor_units(data: Any, currency: str) -> Any:
    if isinstance(data, list):
        return [_in_minor_units(item, currency) for item in data]
    if not isinstance(data, dict):
        return data
    out: dict[str, Any] = {}
    for key, value in data.items():
        if key in _AMOUNT_FIELDS and isinstance(value, str):
            out[key] = amount_text(Decimal(value), currency)
        elif key == "ingested_as_reported" and isinstance(value, dict):
            out[key] = {c: amount_text(Decimal(v), c) for c, v in value.items()}
        else:
            out[key] = _in_minor_units(value, currency)
    return out


class InItsCurrency(Output):
    """An output with a `currency`: its amounts (and its nested rows') in JSON have that currency's minor units."""

    @model_serializer(mode="wrap")
    # No return annotation: the JSON schema stays the model's own (an annotation would replace it).
    def _minor_units(self, handler: SerializerFunctionWrapHandler, info: SerializationInfo):
        data = handler(self)
        currency = getattr(self, "currency", None)
        if info.mode_is_json() and isinstance(data, dict) and currency and is_currency(currency):
            return _in_minor_units(data, currency)
        return data


class BudgetOut(InItsCurrency):
    id: Id
    plan_id: uuid.UUID
    total: Amount
    currency: str = Field(examples=["EUR"])
    allocated: Amount = Field(description="Sum of the lines' planned amounts")
    unallocated: Amount = Field(description="total − allocated")
    updated_at: Timestamp


class BudgetLineCreate(Input):
    """Allocate part of the budget to a channel, a team and/or a campaign (at least one)."""

    name: Name | None = Field(default=None, examples=["Paid social"])
    channel: ChannelKey | None = None
    team_id: uuid.UUID | None = None
    campaign_id: uuid.UUID | None = Field(default=None, description="A campaign of the same plan")
    planned_amount: Money = Field(examples=["30000.00"])
    actual_amount: Money = Field(default=Decimal("0"), description="Spend so far, entered by hand")
    notes: Text | None = None

    @model_validator(mode="after")
    def _dimension(self) -> "BudgetLineCreate":
        if self.channel is None and self.team_id is None and self.campaign_id is None:
            raise ValueError("a budget line needs a channel, a team_id or a campaign_id")
        return self


class BudgetLineUpdate(UpdateInput):
    not_null = frozenset({"planned_amount", "actual_amount"})

    name: Name | None = None
    channel: ChannelKey | None = None
    team_id: uuid.UUID | None = None
    campaign_id: uuid.UUID | None = None
    planned_amount: Money | None = None
    actual_amount: Money | None = None
    notes: Text | None = None


class BudgetLineOut(InItsCurrency):
    id: Id
    currency: str | None = Field(default=None, description="The budget's currency", examples=["EUR"])
    name: str | None
    channel: str | None
    team_id: uuid.UUID | None
    campaign_id: uuid.UUID | None
    planned_amount: Amount
    actual_amount: Amount = Field(description="Spend entered by hand")
    ingested_spend: Amount | None = Field(
        default=Decimal(0),
        description="The ingested `spend` metric over the plan's period for this line, converted into the budget's "
        "currency at each day's rate; null when some day cannot be converted (`unconverted` says why)",
    )
    actual: Amount | None = Field(default=Decimal(0), description="actual_amount + ingested_spend")
    unconverted: str | None = Field(
        default=None,
        description="Why the ingested spend is unknown: the first day and currency pair without an exchange rate",
        examples=[None],
    )
    notes: str | None
    created_at: Timestamp
    updated_at: Timestamp


class ReallocationCreate(Input):
    """Move planned money from one line to another; the budget total does not change."""

    from_line_id: uuid.UUID
    to_line_id: uuid.UUID
    amount: Annotated[Decimal, Field(gt=0, max_digits=18, decimal_places=3, examples=["2500.00"])]
    reason: Annotated[str, Field(min_length=3, max_length=2000, examples=["Search outperforms social in January"])]

    @model_validator(mode="after")
    def _distinct(self) -> "ReallocationCreate":
        if self.from_line_id == self.to_line_id:
            raise ValueError("from_line_id and to_line_id are the same line")
        return self


class ReallocationOut(Output):
    id: Id
    from_line_id: uuid.UUID | None
    to_line_id: uuid.UUID | None
    amount: Amount
    reason: str = Field(examples=["Search outperforms social in January"])
    by_key_id: uuid.UUID | None = Field(description="The API key that made the move")
    created_at: Timestamp


class ReportRow(Output):
    planned: Amount
    actual: Amount | None = Field(description="null when some of its spend cannot be converted yet")
    variance: Amount | None = Field(description="planned − actual: positive is under budget, negative is overspend")
    utilisation: Decimal | None = Field(description="actual ÷ planned (1.0 = all spent); null when planned is 0")


class ReportLine(ReportRow):
    line_id: Id
    manual_actual: Amount
    ingested_spend: Amount | None
    ingested_as_reported: dict[str, Amount] = Field(
        default_factory=dict,
        description="The same ingested spend per currency as the platforms reported it, before conversion into the "
        "budget's currency (`ingested_spend`)",
        examples=[{"USD": "321.75", "VND": "4560000.00"}],
    )
    unconverted: str | None = Field(
        default=None, description="Why `ingested_spend` is null: a day and currency pair without an exchange rate"
    )
    name: str | None
    channel: str | None
    team_id: uuid.UUID | None
    campaign_id: uuid.UUID | None


class ReportChannel(ReportRow):
    channel: str | None


class BudgetReport(InItsCurrency):
    plan_id: Id
    currency: str
    total: Amount
    unallocated: Amount
    totals: ReportRow = Field(description="Over all lines")
    lines: list[ReportLine]
    by_channel: list[ReportChannel] = Field(description="Lines grouped by channel (null: lines without one)")
