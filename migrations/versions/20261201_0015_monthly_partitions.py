# ruff: noqa: S608 - the SQL below interpolates module constants and dates only.
"""monthly range partitions of metric_points, metric_daily and metric_slices (Postgres); ingest batches keep their
first and last day, and their stored points may be cleared after a retention period

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-01 04:00:00

On Postgres each of the three tables is rebuilt as a table PARTITIONED BY RANGE (day), one partition per calendar
month (`metric_points_2026_11`), with the same columns, primary key (which includes `day`, as a partitioned key
must) and constraint names: the old table is renamed aside, the new one created LIKE it, a partition made for every
month any of the three holds rows for plus this month and the three after it (the same months for all three
tables), the rows copied over, the old table dropped. Nothing is written while it runs (it holds the tables' locks
to its commit). The downgrade rebuilds plain tables the same way. SQLite keeps plain tables.

Partitions are named here rather than through shared/metrics/partitions.py, so that this revision keeps meaning
what it meant when that module moves on. The batch columns (both backends): `first_day`, `last_day` (null for
batches stored before), `point_rows` nullable (cleared by the retention cron) and `points_cleared_at`, with a
partial index of the batches whose points are still kept. The downgrade stores an empty row set for a cleared
batch (its points are gone either way).
"""

import zlib
from collections.abc import Sequence
from datetime import UTC, date, datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KEYS = {
    "metric_points": "org_id, metric_key, day, dims_key, source",
    "metric_daily": "org_id, metric_key, day, dims_key",
    "metric_slices": "org_id, metric_key, dimension, dim_value, day",
}
MONTHS_AHEAD = 3
KEPT_INDEX = "ix_ingest_batches_point_rows_kept"


def _next_month(month: date) -> date:
    return date(month.year + month.month // 12, month.month % 12 + 1, 1)


def _months_needed(aside: str) -> list[date]:
    """Every month the old tables hold rows for, and this month and MONTHS_AHEAD after it."""
    union = " UNION ".join(f"SELECT DISTINCT date_trunc('month', day)::date FROM {t}{aside}" for t in KEYS)
    months = {row[0] for row in op.get_bind().execute(sa.text(union))}
    month = datetime.now(UTC).date().replace(day=1)
    for _ in range(MONTHS_AHEAD + 1):
        months.add(month)
        month = _next_month(month)
    return sorted(months)


def _rebuild(partitioned: bool) -> None:
    """Rename each table aside, create its replacement LIKE it (partitioned or not) with the same primary key
    name, copy the rows, drop the old one."""
    aside = "_unpartitioned" if partitioned else "_partitioned"
    for table, key in KEYS.items():
        op.execute(f"ALTER TABLE {table} RENAME TO {table}{aside}")
        op.execute(f"ALTER TABLE {table}{aside} RENAME CONSTRAINT pk_{table} TO pk_{table}{aside}")
        by = " PARTITION BY RANGE (day)" if partitioned else ""
        op.execute(f"CREATE TABLE {table} (LIKE {table}{aside} INCLUDING DEFAULTS INCLUDING STORAGE){by}")
        op.execute(f"ALTER TABLE {table} ADD CONSTRAINT pk_{table} PRIMARY KEY ({key})")
    if partitioned:
        for month in _months_needed(aside):
            for table in KEYS:
                op.execute(
                    f"CREATE TABLE {table}_{month.year:04d}_{month.month:02d} PARTITION OF {table} "
                    f"FOR VALUES FROM ('{month.isoformat()}') TO ('{_next_month(month).isoformat()}')"
                )
    for table in KEYS:
        op.execute(f"INSERT INTO {table} SELECT * FROM {table}{aside}")  # LIKE keeps the column order
        op.execute(f"DROP TABLE {table}{aside}")
        op.execute(f"ANALYZE {table}")


def upgrade() -> None:
    with op.batch_alter_table("ingest_batches", schema=None) as batch_op:
        batch_op.add_column(sa.Column("first_day", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("last_day", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("points_cleared_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.alter_column("point_rows", existing_type=sa.LargeBinary(), nullable=True)
        batch_op.create_index(
            KEPT_INDEX,
            ["created_at"],
            unique=False,
            postgresql_where=sa.text("point_rows IS NOT NULL"),
            sqlite_where=sa.text("point_rows IS NOT NULL"),
        )
    if op.get_bind().dialect.name == "postgresql":
        _rebuild(partitioned=True)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        _rebuild(partitioned=False)
    batches = sa.table("ingest_batches", sa.column("point_rows", sa.LargeBinary()))
    op.get_bind().execute(batches.update().where(batches.c.point_rows.is_(None)).values(point_rows=zlib.compress(b"")))
    with op.batch_alter_table("ingest_batches", schema=None) as batch_op:
        batch_op.drop_index(KEPT_INDEX)
        batch_op.alter_column("point_rows", existing_type=sa.LargeBinary(), nullable=False)
        batch_op.drop_column("points_cleared_at")
        batch_op.drop_column("last_day")
        batch_op.drop_column("first_day")
