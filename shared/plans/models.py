"""Marketing plans per period, their campaigns, and the plan's budget (lines, reallocation trail)."""

import enum
import uuid
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import CheckConstraint, Date, ForeignKey, Integer, Numeric, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from shared.db.base import Base, IdMixin, TimestampMixin, UpdatedMixin, UTCDateTime, str_enum
from shared.db.scoping import OrgScoped

# Up to three places: the minor unit of the currencies that have one of three (KWD, BHD); amounts are checked
# against their own currency's minor unit (shared/money/currencies.py).
MONEY = Numeric(18, 3)


class PlanStatus(enum.StrEnum):
    draft = "draft"
    approved = "approved"
    active = "active"
    closed = "closed"


class Plan(IdMixin, TimestampMixin, UpdatedMixin, OrgScoped, Base):
    __tablename__ = "plans"
    __table_args__ = (CheckConstraint("end_date >= start_date", name="dates_ordered"),)

    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    period_label: Mapped[str | None] = mapped_column(String(20), index=True)
    start_date: Mapped[date] = mapped_column(Date)
    end_date: Mapped[date] = mapped_column(Date)
    status: Mapped[PlanStatus] = mapped_column(str_enum(PlanStatus, "plan_status"), default=PlanStatus.draft)


class Campaign(IdMixin, TimestampMixin, UpdatedMixin, OrgScoped, Base):
    __tablename__ = "campaigns"
    __table_args__ = (
        CheckConstraint("end_date >= start_date", name="dates_ordered"),
        UniqueConstraint("plan_id", "name"),
    )

    plan_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("plans.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    # The channel key as metrics carry it (`meta`, `google_ads`, `email`…), so spend can be matched.
    channel: Mapped[str] = mapped_column(String(50))
    # The `campaign` dimension ingested metrics carry for this campaign (the ad platform's campaign id).
    tracking_code: Mapped[str | None] = mapped_column(String(200))
    owner_team_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("teams.id", ondelete="RESTRICT"), index=True)
    objective_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("objectives.id", ondelete="RESTRICT"), index=True)
    start_date: Mapped[date] = mapped_column(Date)
    end_date: Mapped[date] = mapped_column(Date)
    description: Mapped[str | None] = mapped_column(Text)


class Budget(IdMixin, TimestampMixin, UpdatedMixin, OrgScoped, Base):
    """A plan's budget. `version` is bumped by every change to its lines: that UPDATE is the lock that
    serialises concurrent allocations, so the lines can never add up to more than the total."""

    __tablename__ = "budgets"
    __table_args__ = (
        UniqueConstraint("plan_id"),
        CheckConstraint("total >= 0", name="total_not_negative"),
    )

    plan_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("plans.id", ondelete="CASCADE"))
    total: Mapped[Decimal] = mapped_column(MONEY)
    currency: Mapped[str] = mapped_column(String(3))
    version: Mapped[int] = mapped_column(Integer, default=1)


class BudgetLine(IdMixin, TimestampMixin, UpdatedMixin, OrgScoped, Base):
    """An allocation by channel, team and/or campaign, with the actual spend against it."""

    __tablename__ = "budget_lines"
    __table_args__ = (
        CheckConstraint("planned_amount >= 0", name="planned_not_negative"),
        CheckConstraint("actual_amount >= 0", name="actual_not_negative"),
        CheckConstraint(
            "channel IS NOT NULL OR team_id IS NOT NULL OR campaign_id IS NOT NULL", name="has_a_dimension"
        ),
    )

    budget_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("budgets.id", ondelete="CASCADE"), index=True)
    name: Mapped[str | None] = mapped_column(String(200))
    channel: Mapped[str | None] = mapped_column(String(50))
    team_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("teams.id", ondelete="RESTRICT"), index=True)
    # NO ACTION (checked at statement end), not RESTRICT: deleting a draft plan cascades to its campaigns
    # and its budget lines in one statement. The API refuses deleting a campaign that lines point to.
    campaign_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("campaigns.id"), index=True)
    planned_amount: Mapped[Decimal] = mapped_column(MONEY)
    # Entered by hand for now; the ingestion pipeline will feed it from the `spend` metric.
    actual_amount: Mapped[Decimal] = mapped_column(MONEY, default=Decimal("0"))
    notes: Mapped[str | None] = mapped_column(Text)
    # When a budget.overspend event went out for this line (one per line per plan period).
    overspend_notified_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class BudgetReallocation(IdMixin, TimestampMixin, OrgScoped, Base):
    """The trail of money moved between lines: who, when, from, to, how much, why."""

    __tablename__ = "budget_reallocations"
    __table_args__ = (CheckConstraint("amount > 0", name="amount_positive"),)

    budget_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("budgets.id", ondelete="CASCADE"), index=True)
    # SET NULL is only the schema's backstop: the API refuses deleting a line the trail names (409), so the
    # trail keeps from and to; a draft plan's deletion takes the whole trail with the budget (CASCADE).
    from_line_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("budget_lines.id", ondelete="SET NULL"))
    to_line_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("budget_lines.id", ondelete="SET NULL"))
    amount: Mapped[Decimal] = mapped_column(MONEY)
    reason: Mapped[str] = mapped_column(Text)
    by_key_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("api_keys.id", ondelete="SET NULL"))
