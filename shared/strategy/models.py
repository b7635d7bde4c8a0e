"""The department's strategy: business goals, SMART marketing objectives, target segments, competitors."""

import enum
import uuid
from datetime import date
from decimal import Decimal

from sqlalchemy import JSON, BigInteger, CheckConstraint, Date, ForeignKey, Numeric, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from shared.db.base import Base, IdMixin, TimestampMixin, UpdatedMixin, str_enum
from shared.db.scoping import OrgScoped


class GoalStatus(enum.StrEnum):
    active = "active"
    achieved = "achieved"
    missed = "missed"
    dropped = "dropped"


class ObjectiveStatus(enum.StrEnum):
    draft = "draft"
    active = "active"
    achieved = "achieved"
    missed = "missed"
    cancelled = "cancelled"


class Priority(enum.StrEnum):
    high = "high"
    medium = "medium"
    low = "low"


class BusinessGoal(IdMixin, TimestampMixin, UpdatedMixin, OrgScoped, Base):
    """What the company wants, e.g. "grow online revenue 30% in 2027"; objectives serve it."""

    __tablename__ = "business_goals"

    title: Mapped[str] = mapped_column(String(300))
    description: Mapped[str | None] = mapped_column(Text)
    target_date: Mapped[date | None] = mapped_column(Date)
    status: Mapped[GoalStatus] = mapped_column(str_enum(GoalStatus, "goal_status"), default=GoalStatus.active)


class Objective(IdMixin, TimestampMixin, UpdatedMixin, OrgScoped, Base):
    """A marketing objective with its SMART parts; its SMART check is computed, never stored."""

    __tablename__ = "objectives"
    __table_args__ = (CheckConstraint("deadline >= start_date", name="dates_ordered"),)

    statement: Mapped[str] = mapped_column(String(500))
    description: Mapped[str | None] = mapped_column(Text)
    business_goal_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("business_goals.id", ondelete="RESTRICT"), index=True
    )
    owner_team_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("teams.id", ondelete="RESTRICT"), index=True)
    unit: Mapped[str | None] = mapped_column(String(32))
    baseline_value: Mapped[Decimal | None] = mapped_column(Numeric(20, 6))
    target_value: Mapped[Decimal | None] = mapped_column(Numeric(20, 6))
    start_date: Mapped[date | None] = mapped_column(Date)
    deadline: Mapped[date | None] = mapped_column(Date)
    status: Mapped[ObjectiveStatus] = mapped_column(
        str_enum(ObjectiveStatus, "objective_status"), default=ObjectiveStatus.draft
    )

    # Read-only and never lazy: the SMART check needs the goal's status, loaded for a whole page at once.
    business_goal: Mapped[BusinessGoal | None] = relationship(viewonly=True, lazy="raise")


class Segment(IdMixin, TimestampMixin, UpdatedMixin, OrgScoped, Base):
    """A target segment of the market analysis."""

    __tablename__ = "segments"
    __table_args__ = (
        UniqueConstraint("org_id", "name"),
        CheckConstraint("size_estimate >= 0", name="size_not_negative"),
    )

    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    size_estimate: Mapped[int | None] = mapped_column(BigInteger)
    size_unit: Mapped[str | None] = mapped_column(String(50))
    priority: Mapped[Priority] = mapped_column(str_enum(Priority, "segment_priority"), default=Priority.medium)


class Competitor(IdMixin, TimestampMixin, UpdatedMixin, OrgScoped, Base):
    """A competitor of the market analysis, with its estimated market share."""

    __tablename__ = "competitors"
    __table_args__ = (
        UniqueConstraint("org_id", "name"),
        CheckConstraint("estimated_share_pct >= 0 AND estimated_share_pct <= 100", name="share_is_a_percentage"),
    )

    name: Mapped[str] = mapped_column(String(200))
    website: Mapped[str | None] = mapped_column(String(500))
    positioning: Mapped[str | None] = mapped_column(Text)
    strengths: Mapped[list[str]] = mapped_column(JSON, default=list)
    weaknesses: Mapped[list[str]] = mapped_column(JSON, default=list)
    # Estimated market share in percent (0 to 100).
    estimated_share_pct: Mapped[Decimal | None] = mapped_column(Numeric(5, 2))
