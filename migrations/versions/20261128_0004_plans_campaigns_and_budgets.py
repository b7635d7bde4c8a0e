"""plans, campaigns and budgets

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28 04:16:54.506805
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "plans",
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("period_label", sa.String(length=20), nullable=True),
        sa.Column("start_date", sa.Date(), nullable=False),
        sa.Column("end_date", sa.Date(), nullable=False),
        sa.Column(
            "status",
            sa.Enum("draft", "approved", "active", "closed", name="plan_status", native_enum=False, length=32),
            nullable=False,
        ),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.text("CURRENT_TIMESTAMP"), nullable=False
        ),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.text("CURRENT_TIMESTAMP"), nullable=False
        ),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.CheckConstraint("end_date >= start_date", name=op.f("ck_plans_dates_ordered")),
        sa.ForeignKeyConstraint(["org_id"], ["orgs.id"], name=op.f("fk_plans_org_id_orgs"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_plans")),
    )
    with op.batch_alter_table("plans", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_plans_org_id"), ["org_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_plans_period_label"), ["period_label"], unique=False)

    op.create_table(
        "budgets",
        sa.Column("plan_id", sa.Uuid(), nullable=False),
        sa.Column("total", sa.Numeric(precision=18, scale=2), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.text("CURRENT_TIMESTAMP"), nullable=False
        ),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.text("CURRENT_TIMESTAMP"), nullable=False
        ),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.CheckConstraint("total >= 0", name=op.f("ck_budgets_total_not_negative")),
        sa.ForeignKeyConstraint(["org_id"], ["orgs.id"], name=op.f("fk_budgets_org_id_orgs"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["plan_id"], ["plans.id"], name=op.f("fk_budgets_plan_id_plans"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_budgets")),
        sa.UniqueConstraint("plan_id", name=op.f("uq_budgets_plan_id")),
    )
    with op.batch_alter_table("budgets", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_budgets_org_id"), ["org_id"], unique=False)

    op.create_table(
        "campaigns",
        sa.Column("plan_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("channel", sa.String(length=50), nullable=False),
        sa.Column("tracking_code", sa.String(length=200), nullable=True),
        sa.Column("owner_team_id", sa.Uuid(), nullable=True),
        sa.Column("objective_id", sa.Uuid(), nullable=True),
        sa.Column("start_date", sa.Date(), nullable=False),
        sa.Column("end_date", sa.Date(), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.text("CURRENT_TIMESTAMP"), nullable=False
        ),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.text("CURRENT_TIMESTAMP"), nullable=False
        ),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.CheckConstraint("end_date >= start_date", name=op.f("ck_campaigns_dates_ordered")),
        sa.ForeignKeyConstraint(
            ["objective_id"], ["objectives.id"], name=op.f("fk_campaigns_objective_id_objectives"), ondelete="RESTRICT"
        ),
        sa.ForeignKeyConstraint(["org_id"], ["orgs.id"], name=op.f("fk_campaigns_org_id_orgs"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(
            ["owner_team_id"], ["teams.id"], name=op.f("fk_campaigns_owner_team_id_teams"), ondelete="RESTRICT"
        ),
        sa.ForeignKeyConstraint(["plan_id"], ["plans.id"], name=op.f("fk_campaigns_plan_id_plans"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_campaigns")),
        sa.UniqueConstraint("plan_id", "name", name=op.f("uq_campaigns_plan_id_name")),
    )
    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_campaigns_objective_id"), ["objective_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_campaigns_org_id"), ["org_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_campaigns_owner_team_id"), ["owner_team_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_campaigns_plan_id"), ["plan_id"], unique=False)

    op.create_table(
        "budget_lines",
        sa.Column("budget_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=True),
        sa.Column("channel", sa.String(length=50), nullable=True),
        sa.Column("team_id", sa.Uuid(), nullable=True),
        sa.Column("campaign_id", sa.Uuid(), nullable=True),
        sa.Column("planned_amount", sa.Numeric(precision=18, scale=2), nullable=False),
        sa.Column("actual_amount", sa.Numeric(precision=18, scale=2), nullable=False),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.text("CURRENT_TIMESTAMP"), nullable=False
        ),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.text("CURRENT_TIMESTAMP"), nullable=False
        ),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.CheckConstraint("actual_amount >= 0", name=op.f("ck_budget_lines_actual_not_negative")),
        sa.CheckConstraint(
            "channel IS NOT NULL OR team_id IS NOT NULL OR campaign_id IS NOT NULL",
            name=op.f("ck_budget_lines_has_a_dimension"),
        ),
        sa.CheckConstraint("planned_amount >= 0", name=op.f("ck_budget_lines_planned_not_negative")),
        sa.ForeignKeyConstraint(
            ["budget_id"], ["budgets.id"], name=op.f("fk_budget_lines_budget_id_budgets"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(["campaign_id"], ["campaigns.id"], name=op.f("fk_budget_lines_campaign_id_campaigns")),
        sa.ForeignKeyConstraint(["org_id"], ["orgs.id"], name=op.f("fk_budget_lines_org_id_orgs"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(
            ["team_id"], ["teams.id"], name=op.f("fk_budget_lines_team_id_teams"), ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_budget_lines")),
    )
    with op.batch_alter_table("budget_lines", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_budget_lines_budget_id"), ["budget_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_budget_lines_campaign_id"), ["campaign_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_budget_lines_org_id"), ["org_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_budget_lines_team_id"), ["team_id"], unique=False)

    op.create_table(
        "budget_reallocations",
        sa.Column("budget_id", sa.Uuid(), nullable=False),
        sa.Column("from_line_id", sa.Uuid(), nullable=True),
        sa.Column("to_line_id", sa.Uuid(), nullable=True),
        sa.Column("amount", sa.Numeric(precision=18, scale=2), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("by_key_id", sa.Uuid(), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.text("CURRENT_TIMESTAMP"), nullable=False
        ),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.CheckConstraint("amount > 0", name=op.f("ck_budget_reallocations_amount_positive")),
        sa.ForeignKeyConstraint(
            ["budget_id"], ["budgets.id"], name=op.f("fk_budget_reallocations_budget_id_budgets"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["by_key_id"], ["api_keys.id"], name=op.f("fk_budget_reallocations_by_key_id_api_keys"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["from_line_id"],
            ["budget_lines.id"],
            name=op.f("fk_budget_reallocations_from_line_id_budget_lines"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["org_id"], ["orgs.id"], name=op.f("fk_budget_reallocations_org_id_orgs"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["to_line_id"],
            ["budget_lines.id"],
            name=op.f("fk_budget_reallocations_to_line_id_budget_lines"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_budget_reallocations")),
    )
    with op.batch_alter_table("budget_reallocations", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_budget_reallocations_budget_id"), ["budget_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_budget_reallocations_org_id"), ["org_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("budget_reallocations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_budget_reallocations_org_id"))
        batch_op.drop_index(batch_op.f("ix_budget_reallocations_budget_id"))

    op.drop_table("budget_reallocations")
    with op.batch_alter_table("budget_lines", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_budget_lines_team_id"))
        batch_op.drop_index(batch_op.f("ix_budget_lines_org_id"))
        batch_op.drop_index(batch_op.f("ix_budget_lines_campaign_id"))
        batch_op.drop_index(batch_op.f("ix_budget_lines_budget_id"))

    op.drop_table("budget_lines")
    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_campaigns_plan_id"))
        batch_op.drop_index(batch_op.f("ix_campaigns_owner_team_id"))
        batch_op.drop_index(batch_op.f("ix_campaigns_org_id"))
        batch_op.drop_index(batch_op.f("ix_campaigns_objective_id"))

    op.drop_table("campaigns")
    with op.batch_alter_table("budgets", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_budgets_org_id"))

    op.drop_table("budgets")
    with op.batch_alter_table("plans", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_plans_period_label"))
        batch_op.drop_index(batch_op.f("ix_plans_org_id"))

    op.drop_table("plans")
