"""kpis: metric catalogue, kpis, targets, revisions, daily roll-ups

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28 04:30:53.531844
"""

import json
import uuid
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "metric_daily",
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("metric_key", sa.String(length=64), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("dims_key", sa.String(length=1000), nullable=False),
        sa.Column("dimensions", sa.JSON(), nullable=False),
        sa.Column("value_sum", sa.Numeric(precision=24, scale=8), nullable=False),
        sa.Column("value_count", sa.Integer(), nullable=False),
        sa.Column("value_min", sa.Numeric(precision=24, scale=8), nullable=False),
        sa.Column("value_max", sa.Numeric(precision=24, scale=8), nullable=False),
        sa.Column("value_last", sa.Numeric(precision=24, scale=8), nullable=False),
        sa.Column("last_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["org_id"], ["orgs.id"], name=op.f("fk_metric_daily_org_id_orgs"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("org_id", "metric_key", "day", "dims_key", name=op.f("pk_metric_daily")),
    )
    op.create_table(
        "metric_definitions",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column(
            "unit",
            sa.Enum("currency", "count", "ratio", "percent", "score", name="metric_unit", native_enum=False, length=32),
            nullable=False,
        ),
        sa.Column(
            "aggregation",
            sa.Enum("sum", "avg", "min", "max", "last", name="metric_aggregation", native_enum=False, length=32),
            nullable=False,
        ),
        sa.Column("allowed_dimensions", sa.JSON(), nullable=False),
        sa.Column("standard", sa.Boolean(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.text("CURRENT_TIMESTAMP"), nullable=False
        ),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.text("CURRENT_TIMESTAMP"), nullable=False
        ),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"], ["orgs.id"], name=op.f("fk_metric_definitions_org_id_orgs"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_metric_definitions")),
        sa.UniqueConstraint("org_id", "key", name=op.f("uq_metric_definitions_org_id_key")),
    )
    with op.batch_alter_table("metric_definitions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_metric_definitions_org_id"), ["org_id"], unique=False)

    op.create_table(
        "kpis",
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column(
            "category",
            sa.Enum("input", "output", "impact", name="kpi_category", native_enum=False, length=32),
            nullable=False,
        ),
        sa.Column(
            "kind",
            sa.Enum("quantitative", "qualitative", name="kpi_kind", native_enum=False, length=32),
            nullable=False,
        ),
        sa.Column("formula", sa.String(length=500), nullable=False),
        sa.Column(
            "unit",
            sa.Enum("currency", "count", "ratio", "percent", "score", name="kpi_unit", native_enum=False, length=32),
            nullable=False,
        ),
        sa.Column("display_format", sa.String(length=50), nullable=True),
        sa.Column(
            "direction",
            sa.Enum(
                "higher_is_better",
                "lower_is_better",
                "target_range",
                name="kpi_direction",
                native_enum=False,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column(
            "frequency",
            sa.Enum("daily", "weekly", "monthly", "quarterly", name="kpi_frequency", native_enum=False, length=32),
            nullable=False,
        ),
        sa.Column("dimension_filter", sa.JSON(), nullable=False),
        sa.Column("owner_team_id", sa.Uuid(), nullable=True),
        sa.Column("owner_member_id", sa.Uuid(), nullable=True),
        sa.Column("template_key", sa.String(length=64), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.text("CURRENT_TIMESTAMP"), nullable=False
        ),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.text("CURRENT_TIMESTAMP"), nullable=False
        ),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(["org_id"], ["orgs.id"], name=op.f("fk_kpis_org_id_orgs"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(
            ["owner_member_id"], ["members.id"], name=op.f("fk_kpis_owner_member_id_members"), ondelete="RESTRICT"
        ),
        sa.ForeignKeyConstraint(
            ["owner_team_id"], ["teams.id"], name=op.f("fk_kpis_owner_team_id_teams"), ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kpis")),
        sa.UniqueConstraint("org_id", "name", name=op.f("uq_kpis_org_id_name")),
    )
    with op.batch_alter_table("kpis", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_kpis_category"), ["category"], unique=False)
        batch_op.create_index(batch_op.f("ix_kpis_org_id"), ["org_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_kpis_owner_team_id"), ["owner_team_id"], unique=False)

    op.create_table(
        "kpi_metrics",
        sa.Column("kpi_id", sa.Uuid(), nullable=False),
        sa.Column("metric_key", sa.String(length=64), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(["kpi_id"], ["kpis.id"], name=op.f("fk_kpi_metrics_kpi_id_kpis"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["org_id"], ["orgs.id"], name=op.f("fk_kpi_metrics_org_id_orgs"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("kpi_id", "metric_key", name=op.f("pk_kpi_metrics")),
    )
    with op.batch_alter_table("kpi_metrics", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_kpi_metrics_org_id"), ["org_id"], unique=False)
        batch_op.create_index("ix_kpi_metrics_org_metric", ["org_id", "metric_key"], unique=False)

    op.create_table(
        "kpi_targets",
        sa.Column("kpi_id", sa.Uuid(), nullable=False),
        sa.Column(
            "period_kind",
            sa.Enum(
                "day",
                "week",
                "month",
                "quarter",
                "half",
                "year",
                "custom",
                name="target_period_kind",
                native_enum=False,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("period_label", sa.String(length=20), nullable=True),
        sa.Column("start_date", sa.Date(), nullable=False),
        sa.Column("end_date", sa.Date(), nullable=False),
        sa.Column("target_value", sa.Numeric(precision=24, scale=8), nullable=False),
        sa.Column("target_high", sa.Numeric(precision=24, scale=8), nullable=True),
        sa.Column(
            "threshold_mode",
            sa.Enum("absolute", "percent", name="threshold_mode", native_enum=False, length=32),
            nullable=False,
        ),
        sa.Column("warning", sa.Numeric(precision=24, scale=8), nullable=True),
        sa.Column("critical", sa.Numeric(precision=24, scale=8), nullable=True),
        sa.Column("warning_high", sa.Numeric(precision=24, scale=8), nullable=True),
        sa.Column("critical_high", sa.Numeric(precision=24, scale=8), nullable=True),
        sa.Column(
            "pacing", sa.Enum("linear", "none", name="target_pacing", native_enum=False, length=32), nullable=False
        ),
        sa.Column("baseline", sa.Numeric(precision=24, scale=8), nullable=True),
        sa.Column("pending_evaluations", sa.Integer(), nullable=False),
        sa.Column("recovery_margin_pct", sa.Numeric(precision=6, scale=2), nullable=False),
        sa.Column(
            "no_data_policy",
            sa.Enum("no_data", "keep_last", "zero", name="no_data_policy", native_enum=False, length=32),
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
        sa.CheckConstraint("end_date >= start_date", name=op.f("ck_kpi_targets_dates_ordered")),
        sa.CheckConstraint("pending_evaluations >= 1", name=op.f("ck_kpi_targets_pending_positive")),
        sa.ForeignKeyConstraint(["kpi_id"], ["kpis.id"], name=op.f("fk_kpi_targets_kpi_id_kpis"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["org_id"], ["orgs.id"], name=op.f("fk_kpi_targets_org_id_orgs"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kpi_targets")),
    )
    with op.batch_alter_table("kpi_targets", schema=None) as batch_op:
        batch_op.create_index("ix_kpi_targets_kpi_period", ["kpi_id", "start_date", "end_date"], unique=False)
        batch_op.create_index(batch_op.f("ix_kpi_targets_org_id"), ["org_id"], unique=False)

    op.create_table(
        "objective_kpis",
        sa.Column("objective_id", sa.Uuid(), nullable=False),
        sa.Column("kpi_id", sa.Uuid(), nullable=False),
        sa.Column("weight", sa.Numeric(precision=10, scale=4), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.CheckConstraint("weight > 0", name=op.f("ck_objective_kpis_weight_positive")),
        sa.ForeignKeyConstraint(
            ["kpi_id"], ["kpis.id"], name=op.f("fk_objective_kpis_kpi_id_kpis"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["objective_id"],
            ["objectives.id"],
            name=op.f("fk_objective_kpis_objective_id_objectives"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["org_id"], ["orgs.id"], name=op.f("fk_objective_kpis_org_id_orgs"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("objective_id", "kpi_id", name=op.f("pk_objective_kpis")),
    )
    with op.batch_alter_table("objective_kpis", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_objective_kpis_kpi_id"), ["kpi_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_objective_kpis_org_id"), ["org_id"], unique=False)

    op.create_table(
        "kpi_target_revisions",
        sa.Column("target_id", sa.Uuid(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("old", sa.JSON(), nullable=False),
        sa.Column("new", sa.JSON(), nullable=False),
        sa.Column("by_key_id", sa.Uuid(), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.text("CURRENT_TIMESTAMP"), nullable=False
        ),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["by_key_id"], ["api_keys.id"], name=op.f("fk_kpi_target_revisions_by_key_id_api_keys"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["org_id"], ["orgs.id"], name=op.f("fk_kpi_target_revisions_org_id_orgs"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["target_id"],
            ["kpi_targets.id"],
            name=op.f("fk_kpi_target_revisions_target_id_kpi_targets"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kpi_target_revisions")),
    )
    with op.batch_alter_table("kpi_target_revisions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_kpi_target_revisions_org_id"), ["org_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_kpi_target_revisions_target_id"), ["target_id"], unique=False)
    _seed_existing_orgs()


# The standard catalogue as of this revision (shared/kpis/catalog.py), for organisations that already exist.
_STANDARD = [
    ("spend", "Spend", "currency", "sum", "Money spent on media and tools", ["channel", "campaign"]),
    ("impressions", "Impressions", "count", "sum", "Times an ad was shown", ["channel", "campaign"]),
    ("reach", "Reach", "count", "sum", "People who saw an ad (per day, as reported)", ["channel", "campaign"]),
    ("clicks", "Clicks", "count", "sum", "Clicks on ads or links", ["channel", "campaign"]),
    ("conversions", "Conversions", "count", "sum", "Purchases or sign-ups attributed", ["channel", "campaign"]),
    ("revenue", "Revenue", "currency", "sum", "Revenue attributed to marketing", ["channel", "campaign"]),
    ("leads", "Leads", "count", "sum", "Contacts who expressed interest", ["channel", "campaign"]),
    ("mql", "Marketing-qualified leads", "count", "sum", "Leads marketing deems ready", ["channel", "campaign"]),
    ("sql", "Sales-qualified leads", "count", "sum", "Leads sales accepted", ["channel", "campaign"]),
    ("new_customers", "New customers", "count", "sum", "Customers won in the period", ["channel", "campaign"]),
    (
        "customer_lifetime_value",
        "Customer lifetime value",
        "currency",
        "avg",
        "Expected gross margin from a customer over the relationship",
        ["channel", "segment"],
    ),
    ("nps_score", "Net promoter score", "score", "avg", "NPS from surveys (-100 to 100)", ["segment"]),
    (
        "survey_awareness",
        "Aided brand awareness",
        "percent",
        "avg",
        "Share of surveyed people who know the brand, in %",
        ["segment", "region"],
    ),
    ("brand_mentions", "Brand mentions", "count", "sum", "Mentions of our brand (social listening)", ["channel"]),
    (
        "category_mentions",
        "Category mentions",
        "count",
        "sum",
        "Mentions of all brands of the category (social listening)",
        ["channel"],
    ),
]


def _seed_existing_orgs() -> None:
    bind = op.get_bind()
    org_ids = [row[0] for row in bind.execute(sa.text("SELECT id FROM orgs"))]
    if not org_ids:
        return
    table = sa.table(
        "metric_definitions",
        sa.column("id", sa.Uuid()),
        sa.column("org_id", sa.Uuid()),
        sa.column("key", sa.String()),
        sa.column("name", sa.String()),
        sa.column("description", sa.Text()),
        sa.column("unit", sa.String()),
        sa.column("aggregation", sa.String()),
        sa.column("allowed_dimensions", sa.JSON()),
        sa.column("standard", sa.Boolean()),
    )
    rows = [
        {
            "id": uuid.uuid4(),
            "org_id": org_id if isinstance(org_id, uuid.UUID) else uuid.UUID(str(org_id)),
            "key": key,
            "name": name,
            "description": description,
            "unit": unit,
            "aggregation": aggregation,
            "allowed_dimensions": json.loads(json.dumps(dims)),
            "standard": True,
        }
        for org_id in org_ids
        for key, name, unit, aggregation, description, dims in _STANDARD
    ]
    op.bulk_insert(table, rows)


def downgrade() -> None:
    with op.batch_alter_table("kpi_target_revisions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_kpi_target_revisions_target_id"))
        batch_op.drop_index(batch_op.f("ix_kpi_target_revisions_org_id"))

    op.drop_table("kpi_target_revisions")
    with op.batch_alter_table("objective_kpis", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_objective_kpis_org_id"))
        batch_op.drop_index(batch_op.f("ix_objective_kpis_kpi_id"))

    op.drop_table("objective_kpis")
    with op.batch_alter_table("kpi_targets", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_kpi_targets_org_id"))
        batch_op.drop_index("ix_kpi_targets_kpi_period")

    op.drop_table("kpi_targets")
    with op.batch_alter_table("kpi_metrics", schema=None) as batch_op:
        batch_op.drop_index("ix_kpi_metrics_org_metric")
        batch_op.drop_index(batch_op.f("ix_kpi_metrics_org_id"))

    op.drop_table("kpi_metrics")
    with op.batch_alter_table("kpis", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_kpis_owner_team_id"))
        batch_op.drop_index(batch_op.f("ix_kpis_org_id"))
        batch_op.drop_index(batch_op.f("ix_kpis_category"))

    op.drop_table("kpis")
    with op.batch_alter_table("metric_definitions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_metric_definitions_org_id"))

    op.drop_table("metric_definitions")
    op.drop_table("metric_daily")
