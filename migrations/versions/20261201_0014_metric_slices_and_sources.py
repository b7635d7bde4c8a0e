# ruff: noqa: S608 - the SQL below interpolates module constants only.
"""metric_slices (each day of a metric summed over dimension sets: the total and one row per single dimension
value) and metric_sources (the latest day each source reported for each metric), both filled from what is stored

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-01 02:30:00

The fill is written out here rather than imported, so that this revision keeps meaning what it meant when
shared/ingest/merge.py moves on.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_AGGREGATES = "sum(d.value_sum), sum(d.value_count), min(d.value_min), max(d.value_max), sum(d.value_last)"
_COLUMNS = "org_id, metric_key, dimension, dim_value, day, value_sum, value_count, value_min, value_max, value_last"


def upgrade() -> None:
    op.create_table(
        "metric_slices",
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("metric_key", sa.String(length=64), nullable=False),
        sa.Column("dimension", sa.String(length=64), nullable=False),
        sa.Column("dim_value", sa.String(length=1000), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("value_sum", sa.Numeric(), nullable=False),
        sa.Column("value_count", sa.Integer(), nullable=False),
        sa.Column("value_min", sa.Numeric(), nullable=False),
        sa.Column("value_max", sa.Numeric(), nullable=False),
        sa.Column("value_last", sa.Numeric(), nullable=False),
        sa.PrimaryKeyConstraint("org_id", "metric_key", "dimension", "dim_value", "day", name=op.f("pk_metric_slices")),
    )
    op.create_table(
        "metric_sources",
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("metric_key", sa.String(length=64), nullable=False),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("last_day", sa.Date(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("org_id", "metric_key", "source", name=op.f("pk_metric_sources")),
    )
    postgres = op.get_bind().dialect.name == "postgresql"
    each = "json_each_text(d.dimensions)" if postgres else "json_each(d.dimensions)"
    op.execute(
        f"INSERT INTO metric_slices ({_COLUMNS}) SELECT d.org_id, d.metric_key, '', '', d.day, {_AGGREGATES} "
        "FROM metric_daily d GROUP BY d.org_id, d.metric_key, d.day"
    )
    op.execute(
        f"INSERT INTO metric_slices ({_COLUMNS}) SELECT d.org_id, d.metric_key, e.key, e.value, d.day, {_AGGREGATES} "
        f"FROM metric_daily d, {each} e GROUP BY d.org_id, d.metric_key, e.key, e.value, d.day"
    )
    op.execute(
        "INSERT INTO metric_sources (org_id, metric_key, source, last_day, updated_at) SELECT org_id, metric_key, "
        "source, max(day), max(updated_at) FROM metric_points GROUP BY org_id, metric_key, source"
    )


def downgrade() -> None:
    op.drop_table("metric_sources")
    op.drop_table("metric_slices")
