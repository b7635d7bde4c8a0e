"""The marketing department's structure: the department itself, teams (a tree), positions, members,
and workflows (processes with ordered steps and the tools they use)."""

import enum
import uuid
from datetime import date

from sqlalchemy import JSON, CheckConstraint, Date, ForeignKey, Integer, Numeric, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from shared.db.base import Base, IdMixin, TimestampMixin, UpdatedMixin, str_enum
from shared.db.scoping import OrgScoped


class StructureType(enum.StrEnum):
    functional = "functional"
    channel = "channel"
    product = "product"
    geographic = "geographic"
    matrix = "matrix"


class PositionLevel(enum.StrEnum):
    junior = "junior"
    mid = "mid"
    senior = "senior"
    lead = "lead"
    head = "head"
    director = "director"
    executive = "executive"


class ToolCategory(enum.StrEnum):
    project_management = "project_management"
    analytics = "analytics"
    ad_platform = "ad_platform"
    crm = "crm"
    marketing_automation = "marketing_automation"
    content = "content"
    design = "design"
    communication = "communication"
    other = "other"


class Department(IdMixin, TimestampMixin, UpdatedMixin, OrgScoped, Base):
    """One per organisation: how the marketing department is organised and what it is for."""

    __tablename__ = "departments"
    __table_args__ = (UniqueConstraint("org_id"),)

    name: Mapped[str] = mapped_column(String(200), default="Marketing")
    structure_type: Mapped[StructureType | None] = mapped_column(str_enum(StructureType, "structure_type"))
    mission: Mapped[str | None] = mapped_column(Text)


class Team(IdMixin, TimestampMixin, UpdatedMixin, OrgScoped, Base):
    """A node of the department's team tree (`parent_id` null: a top-level team)."""

    __tablename__ = "teams"
    # The service refuses sibling names that differ only in case; this is the backstop for races.
    # NULLS NOT DISTINCT (Postgres 15+) makes it cover top-level teams too; SQLite ignores the option.
    __table_args__ = (UniqueConstraint("org_id", "parent_id", "name", postgresql_nulls_not_distinct=True),)

    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    parent_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("teams.id", ondelete="RESTRICT"), index=True)


class Position(IdMixin, TimestampMixin, UpdatedMixin, OrgScoped, Base):
    """A seat in a team. It is `filled` when a member holds it, `open` otherwise (derived, not stored)."""

    __tablename__ = "positions"

    title: Mapped[str] = mapped_column(String(200))
    team_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("teams.id", ondelete="RESTRICT"), index=True)
    level: Mapped[PositionLevel | None] = mapped_column(str_enum(PositionLevel, "position_level"))
    responsibilities: Mapped[list[str]] = mapped_column(JSON, default=list)
    target_hire_date: Mapped[date | None] = mapped_column(Date)

    # Read-only: who holds the seat (members.position_id is unique). Load it with selectinload.
    holder: Mapped["Member | None"] = relationship(viewonly=True, uselist=False, lazy="raise")


class Member(IdMixin, TimestampMixin, UpdatedMixin, OrgScoped, Base):
    __tablename__ = "members"
    __table_args__ = (UniqueConstraint("org_id", "email"), UniqueConstraint("position_id"))

    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(320))
    # One person per position; a member without a position (e.g. between roles) counts in no team.
    position_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("positions.id", ondelete="RESTRICT"))

    position: Mapped[Position | None] = relationship(viewonly=True, lazy="raise")


class Workflow(IdMixin, TimestampMixin, UpdatedMixin, OrgScoped, Base):
    """A marketing process owned by a team, e.g. "campaign launch" or "monthly reporting"."""

    __tablename__ = "workflows"

    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    owner_team_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("teams.id", ondelete="RESTRICT"), index=True)

    # Steps and tools belong to the workflow: deleting it deletes them (by the database's ON DELETE CASCADE).
    steps: Mapped[list["WorkflowStep"]] = relationship(
        order_by="WorkflowStep.seq", cascade="all, delete-orphan", passive_deletes=True, lazy="raise"
    )
    tools: Mapped[list["WorkflowTool"]] = relationship(
        order_by="WorkflowTool.id", cascade="all, delete-orphan", passive_deletes=True, lazy="raise"
    )


class WorkflowStep(IdMixin, TimestampMixin, UpdatedMixin, OrgScoped, Base):
    __tablename__ = "workflow_steps"
    __table_args__ = (
        UniqueConstraint("workflow_id", "seq"),
        CheckConstraint("seq >= 1", name="seq_positive"),
        # A step is owned by a position or by a team (or nobody yet), never both.
        CheckConstraint("owner_position_id IS NULL OR owner_team_id IS NULL", name="one_owner"),
    )

    workflow_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("workflows.id", ondelete="CASCADE"), index=True)
    # The step's place, 1..n, dense and unique within the workflow (the API calls it `position`).
    seq: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    owner_position_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("positions.id", ondelete="RESTRICT"), index=True
    )
    owner_team_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("teams.id", ondelete="RESTRICT"), index=True)
    expected_duration_hours: Mapped[float | None] = mapped_column(Numeric(10, 2, asdecimal=False))
    sla_hours: Mapped[float | None] = mapped_column(Numeric(10, 2, asdecimal=False))


class WorkflowTool(IdMixin, TimestampMixin, OrgScoped, Base):
    __tablename__ = "workflow_tools"
    __table_args__ = (UniqueConstraint("workflow_id", "name"),)

    workflow_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("workflows.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    category: Mapped[ToolCategory] = mapped_column(str_enum(ToolCategory, "tool_category"))
    purpose: Mapped[str | None] = mapped_column(String(500))
