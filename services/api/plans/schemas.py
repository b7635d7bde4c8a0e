"""Request and response bodies of plans and campaigns (budgets: `plans/budgets/schemas.py`)."""

import uuid
from datetime import date, datetime
from typing import Annotated

from pydantic import Field, field_validator, model_validator

from services.api.schemas import (
    ChannelKey,
    Day,
    Id,
    Input,
    Name,
    Output,
    Text,
    Timestamp,
    UpdateInput,
    check_date_order,
)
from shared.periods import parse_period
from shared.plans.models import PlanStatus

PeriodLabel = Annotated[
    str,
    Field(
        max_length=20,
        examples=["2027-Q1"],
        description="`2027`, `2027-H1`, `2027-Q1`, `2027-03`, `2027-W05` or `2027-03-15`; a plan with a label "
        "runs exactly over that period (a custom period has no label)",
    ),
]


def _valid_label(label: str | None) -> str | None:
    return None if label is None else parse_period(label).label


# --- plans -----------------------------------------------------------------------------------------


class PlanCreate(Input):
    """A plan needs a period: a label (dates derived from it), the dates of a custom period (no label), or
    both when they agree: a label's dates are its period's first and last day (422 naming the date otherwise)."""

    name: Name = Field(examples=["Q1 2027 growth plan"])
    description: Text | None = None
    period_label: PeriodLabel | None = None
    start_date: Day | None = Field(default=None, examples=["2027-01-01"])
    end_date: Day | None = Field(default=None, examples=["2027-03-31"])

    _label = field_validator("period_label")(_valid_label)

    @model_validator(mode="after")
    def _period(self) -> "PlanCreate":
        if self.period_label is not None:
            period = parse_period(self.period_label)
            self.start_date = self.start_date or period.start
            self.end_date = self.end_date or period.end
        if self.start_date is None or self.end_date is None:
            raise ValueError("give a period_label, or both start_date and end_date")
        check_date_order(self.start_date, self.end_date, start_name="start_date", end_name="end_date")
        return self


class PlanUpdate(UpdateInput):
    not_null = frozenset({"name", "start_date", "end_date"})

    name: Name | None = None
    description: Text | None = None
    period_label: PeriodLabel | None = None
    start_date: Day | None = None
    end_date: Day | None = None

    _label = field_validator("period_label")(_valid_label)


class PlanStatusChange(Input):
    status: PlanStatus = Field(examples=["approved"], description="The next status: draft → approved → active → closed")


class PlanOut(Output):
    id: Id
    name: str = Field(examples=["Q1 2027 growth plan"])
    description: str | None
    period_label: str | None = Field(examples=["2027-Q1"])
    start_date: date = Field(examples=["2027-01-01"])
    end_date: date = Field(examples=["2027-03-31"])
    status: PlanStatus = Field(examples=["draft"])
    created_at: Timestamp
    updated_at: datetime


# --- campaigns -------------------------------------------------------------------------------------


class CampaignCreate(Input):
    name: Name = Field(examples=["Black Friday 2027"])
    channel: ChannelKey
    owner_team_id: uuid.UUID | None = None
    objective_id: uuid.UUID | None = Field(default=None, description="The objective this campaign serves")
    tracking_code: str | None = Field(
        default=None,
        max_length=200,
        examples=["120210987654"],
        description="The `campaign` dimension ingested metrics carry for it (the ad platform's campaign id)",
    )
    start_date: Day = Field(examples=["2027-01-10"])
    end_date: Day = Field(examples=["2027-02-10"])
    description: Text | None = None

    @model_validator(mode="after")
    def _dates(self) -> "CampaignCreate":
        check_date_order(self.start_date, self.end_date, start_name="start_date", end_name="end_date")
        return self


class CampaignUpdate(UpdateInput):
    not_null = frozenset({"name", "channel", "start_date", "end_date"})

    name: Name | None = None
    channel: ChannelKey | None = None
    tracking_code: str | None = Field(default=None, max_length=200)
    owner_team_id: uuid.UUID | None = None
    objective_id: uuid.UUID | None = None
    start_date: Day | None = None
    end_date: Day | None = None
    description: Text | None = None


class CampaignOut(Output):
    id: Id
    plan_id: uuid.UUID
    name: str
    channel: str
    tracking_code: str | None
    owner_team_id: uuid.UUID | None
    objective_id: uuid.UUID | None
    start_date: date
    end_date: date
    description: str | None
    created_at: Timestamp
    updated_at: datetime
