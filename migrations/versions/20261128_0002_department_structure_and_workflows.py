"""department structure and workflows

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28 04:16:54.506805
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "departments",
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column(
            "structure_type",
            sa.Enum(
                "functional",
                "channel",
                "product",
                "geographic",
                "matrix",
                name="structure_type",
                native_enum=False,
                length=32,
            ),
            nullable=True,
        ),
        sa.Column("mission", sa.Text(), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.text("CURRENT_TIMESTAMP"), nullable=False
        ),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.text("CURRENT_TIMESTAMP"), nullable=False
        ),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(["org_id"], ["orgs.id"], name=op.f("fk_departments_org_id_orgs"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_departments")),
        sa.UniqueConstraint("org_id", name=op.f("uq_departments_org_id")),
    )
    with op.batch_alter_table("departments", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_departments_org_id"), ["org_id"], unique=False)

    op.create_table(
        "teams",
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("parent_id", sa.Uuid(), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.text("CURRENT_TIMESTAMP"), nullable=False
        ),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.text("CURRENT_TIMESTAMP"), nullable=False
        ),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(["org_id"], ["orgs.id"], name=op.f("fk_teams_org_id_orgs"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(
            ["parent_id"], ["teams.id"], name=op.f("fk_teams_parent_id_teams"), ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_teams")),
        sa.UniqueConstraint(
            "org_id",
            "parent_id",
            "name",
            name=op.f("uq_teams_org_id_parent_id_name"),
            postgresql_nulls_not_distinct=True,
        ),
    )
    with op.batch_alter_table("teams", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_teams_org_id"), ["org_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_teams_parent_id"), ["parent_id"], unique=False)

    op.create_table(
        "positions",
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("team_id", sa.Uuid(), nullable=False),
        sa.Column(
            "level",
            sa.Enum(
                "junior",
                "mid",
                "senior",
                "lead",
                "head",
                "director",
                "executive",
                name="position_level",
                native_enum=False,
                length=32,
            ),
            nullable=True,
        ),
        sa.Column("responsibilities", sa.JSON(), nullable=False),
        sa.Column("target_hire_date", sa.Date(), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.text("CURRENT_TIMESTAMP"), nullable=False
        ),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.text("CURRENT_TIMESTAMP"), nullable=False
        ),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(["org_id"], ["orgs.id"], name=op.f("fk_positions_org_id_orgs"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(
            ["team_id"], ["teams.id"], name=op.f("fk_positions_team_id_teams"), ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_positions")),
    )
    with op.batch_alter_table("positions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_positions_org_id"), ["org_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_positions_team_id"), ["team_id"], unique=False)

    op.create_table(
        "workflows",
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("owner_team_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.text("CURRENT_TIMESTAMP"), nullable=False
        ),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.text("CURRENT_TIMESTAMP"), nullable=False
        ),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(["org_id"], ["orgs.id"], name=op.f("fk_workflows_org_id_orgs"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(
            ["owner_team_id"], ["teams.id"], name=op.f("fk_workflows_owner_team_id_teams"), ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_workflows")),
    )
    with op.batch_alter_table("workflows", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_workflows_org_id"), ["org_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_workflows_owner_team_id"), ["owner_team_id"], unique=False)

    op.create_table(
        "members",
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("position_id", sa.Uuid(), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.text("CURRENT_TIMESTAMP"), nullable=False
        ),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.text("CURRENT_TIMESTAMP"), nullable=False
        ),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(["org_id"], ["orgs.id"], name=op.f("fk_members_org_id_orgs"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(
            ["position_id"], ["positions.id"], name=op.f("fk_members_position_id_positions"), ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_members")),
        sa.UniqueConstraint("org_id", "email", name=op.f("uq_members_org_id_email")),
        sa.UniqueConstraint("position_id", name=op.f("uq_members_position_id")),
    )
    with op.batch_alter_table("members", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_members_org_id"), ["org_id"], unique=False)

    op.create_table(
        "workflow_steps",
        sa.Column("workflow_id", sa.Uuid(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("owner_position_id", sa.Uuid(), nullable=True),
        sa.Column("owner_team_id", sa.Uuid(), nullable=True),
        sa.Column("expected_duration_hours", sa.Numeric(precision=10, scale=2, asdecimal=False), nullable=True),
        sa.Column("sla_hours", sa.Numeric(precision=10, scale=2, asdecimal=False), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.text("CURRENT_TIMESTAMP"), nullable=False
        ),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.text("CURRENT_TIMESTAMP"), nullable=False
        ),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.CheckConstraint("seq >= 1", name=op.f("ck_workflow_steps_seq_positive")),
        sa.CheckConstraint(
            "owner_position_id IS NULL OR owner_team_id IS NULL", name=op.f("ck_workflow_steps_one_owner")
        ),
        sa.ForeignKeyConstraint(
            ["org_id"], ["orgs.id"], name=op.f("fk_workflow_steps_org_id_orgs"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["owner_position_id"],
            ["positions.id"],
            name=op.f("fk_workflow_steps_owner_position_id_positions"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["owner_team_id"], ["teams.id"], name=op.f("fk_workflow_steps_owner_team_id_teams"), ondelete="RESTRICT"
        ),
        sa.ForeignKeyConstraint(
            ["workflow_id"], ["workflows.id"], name=op.f("fk_workflow_steps_workflow_id_workflows"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_workflow_steps")),
        sa.UniqueConstraint("workflow_id", "seq", name=op.f("uq_workflow_steps_workflow_id_seq")),
    )
    with op.batch_alter_table("workflow_steps", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_workflow_steps_org_id"), ["org_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_workflow_steps_owner_position_id"), ["owner_position_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_workflow_steps_owner_team_id"), ["owner_team_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_workflow_steps_workflow_id"), ["workflow_id"], unique=False)

    op.create_table(
        "workflow_tools",
        sa.Column("workflow_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column(
            "category",
            sa.Enum(
                "project_management",
                "analytics",
                "ad_platform",
                "crm",
                "marketing_automation",
                "content",
                "design",
                "communication",
                "other",
                name="tool_category",
                native_enum=False,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("purpose", sa.String(length=500), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.text("CURRENT_TIMESTAMP"), nullable=False
        ),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"], ["orgs.id"], name=op.f("fk_workflow_tools_org_id_orgs"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["workflow_id"], ["workflows.id"], name=op.f("fk_workflow_tools_workflow_id_workflows"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_workflow_tools")),
        sa.UniqueConstraint("workflow_id", "name", name=op.f("uq_workflow_tools_workflow_id_name")),
    )
    with op.batch_alter_table("workflow_tools", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_workflow_tools_org_id"), ["org_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_workflow_tools_workflow_id"), ["workflow_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("workflow_tools", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_workflow_tools_workflow_id"))
        batch_op.drop_index(batch_op.f("ix_workflow_tools_org_id"))

    op.drop_table("workflow_tools")
    with op.batch_alter_table("workflow_steps", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_workflow_steps_workflow_id"))
        batch_op.drop_index(batch_op.f("ix_workflow_steps_owner_team_id"))
        batch_op.drop_index(batch_op.f("ix_workflow_steps_owner_position_id"))
        batch_op.drop_index(batch_op.f("ix_workflow_steps_org_id"))

    op.drop_table("workflow_steps")
    with op.batch_alter_table("members", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_members_org_id"))

    op.drop_table("members")
    with op.batch_alter_table("workflows", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_workflows_owner_team_id"))
        batch_op.drop_index(batch_op.f("ix_workflows_org_id"))

    op.drop_table("workflows")
    with op.batch_alter_table("positions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_positions_team_id"))
        batch_op.drop_index(batch_op.f("ix_positions_org_id"))

    op.drop_table("positions")
    with op.batch_alter_table("teams", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_teams_parent_id"))
        batch_op.drop_index(batch_op.f("ix_teams_org_id"))

    op.drop_table("teams")
    with op.batch_alter_table("departments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_departments_org_id"))

    op.drop_table("departments")
