"""no foreign key to orgs on metric_points and metric_daily

Their per-row check cost about a third of a bulk merge; only the ingestion job writes these tables, for the
org of a batch (which keeps its foreign key).

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-28 11:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("metric_points", "metric_daily")


def upgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_constraint(f"fk_{table}_org_id_orgs", type_="foreignkey")


def downgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.create_foreign_key(f"fk_{table}_org_id_orgs", "orgs", ["org_id"], ["id"], ondelete="CASCADE")
