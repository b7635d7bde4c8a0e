"""unbounded metric values (no sum of accepted points can overflow the store); batches: a stable error code, and
the count of snapshots a later-accepted batch superseded, the count of tries that hit a defect; batches failed
before this revision are pending again

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-30 15:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BOUNDED = sa.Numeric(precision=24, scale=8)
COLUMNS = {"metric_points": ("value",), "metric_daily": ("value_sum", "value_min", "value_max", "value_last")}


def upgrade() -> None:
    # On Postgres, dropping a numeric's precision rewrites nothing (every numeric(24, 8) is a numeric).
    for table, columns in COLUMNS.items():
        with op.batch_alter_table(table, schema=None) as batch_op:
            for column in columns:
                batch_op.alter_column(column, existing_type=BOUNDED, type_=sa.Numeric(), existing_nullable=False)
    with op.batch_alter_table("ingest_batches", schema=None) as batch_op:
        batch_op.add_column(sa.Column("error_code", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("superseded", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("defects", sa.Integer(), nullable=False, server_default="0"))
    # Batches failed before this revision failed for faults it retries now (deadlocks, a concurrent writer's key,
    # "the database system is shutting down", overflows of the old bounded column), and nothing of them was merged
    # (a merge commits whole). They are pending again, their SQL-bearing error cleared: the sweeper merges them.
    op.execute(
        "UPDATE ingest_batches SET status = 'pending', error = NULL, finished_at = NULL, started_at = NULL "
        "WHERE status = 'failed'"
    )


def downgrade() -> None:
    with op.batch_alter_table("ingest_batches", schema=None) as batch_op:
        batch_op.drop_column("defects")
        batch_op.drop_column("superseded")
        batch_op.drop_column("error_code")
    for table, columns in COLUMNS.items():
        with op.batch_alter_table(table, schema=None) as batch_op:
            for column in columns:
                batch_op.alter_column(column, existing_type=sa.Numeric(), type_=BOUNDED, existing_nullable=False)
