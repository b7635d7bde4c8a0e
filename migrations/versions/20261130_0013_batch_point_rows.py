"""ingest batches keep their points as compressed COPY text (`point_rows`) instead of one JSON value, and count
their distinct keys (`key_count`)

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-30 23:00:00

Every stored batch is converted (pending ones are still to be merged; done and failed ones stay re-mergeable), in
chunks of rows. The format is written out here rather than imported, so that this revision keeps meaning what it
meant when shared/ingest/rows.py moves on.
"""

import json
import zlib
from collections.abc import Sequence
from datetime import date

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CHUNK = 200


def _to_rows(points: list[list]) -> bytes:
    """[[metric, value, day, dimensions, mode], ...] → zlib(COPY text: seq, metric, day, dims_key, value, mode)."""
    lines = []
    for seq, (metric, value, day, dims, mode) in enumerate(points):
        key = json.dumps(dims, sort_keys=True, separators=(",", ":")).replace("\\", "\\\\")
        lines.append(f"{seq}\t{metric}\t{day}\t{key}\t{value}\t{mode}\n")
    return zlib.compress("".join(lines).encode(), 1)


def _to_points(rows: bytes) -> list[list]:
    out = []
    for line in zlib.decompress(rows).decode().split("\n")[:-1]:
        _, metric, day, key, value, mode = line.split("\t")
        out.append([metric, value, date.fromisoformat(day).isoformat(), json.loads(key.replace("\\\\", "\\")), mode])
    return out


def _convert(read_column: str, write_column: str, convert) -> None:
    bind = op.get_bind()
    table = sa.table(
        "ingest_batches",
        sa.column("id", sa.Uuid()),
        sa.column(read_column, sa.JSON() if read_column == "points" else sa.LargeBinary()),
        sa.column(write_column, sa.JSON() if write_column == "points" else sa.LargeBinary()),
    )
    last = None
    while True:
        query = sa.select(table.c.id, table.c[read_column]).order_by(table.c.id).limit(CHUNK)
        if last is not None:
            query = query.where(table.c.id > last)
        chunk = bind.execute(query).all()
        if not chunk:
            return
        for batch_id, value in chunk:
            bind.execute(table.update().where(table.c.id == batch_id).values({write_column: convert(value)}))
        last = chunk[-1][0]


def upgrade() -> None:
    with op.batch_alter_table("ingest_batches", schema=None) as batch_op:
        batch_op.add_column(sa.Column("point_rows", sa.LargeBinary(), nullable=True))
        batch_op.add_column(sa.Column("key_count", sa.Integer(), nullable=True))
    _convert("points", "point_rows", _to_rows)
    with op.batch_alter_table("ingest_batches", schema=None) as batch_op:
        batch_op.alter_column("point_rows", existing_type=sa.LargeBinary(), nullable=False)
        batch_op.drop_column("points")
    if op.get_bind().dialect.name == "postgresql":
        # Already compressed: Postgres need not try again (EXTERNAL: kept out of line, uncompressed).
        op.execute("ALTER TABLE ingest_batches ALTER COLUMN point_rows SET STORAGE EXTERNAL")


def downgrade() -> None:
    with op.batch_alter_table("ingest_batches", schema=None) as batch_op:
        batch_op.add_column(sa.Column("points", sa.JSON(), nullable=True))
    _convert("point_rows", "points", _to_points)
    with op.batch_alter_table("ingest_batches", schema=None) as batch_op:
        batch_op.alter_column("points", existing_type=sa.JSON(), nullable=False)
        batch_op.drop_column("point_rows")
        batch_op.drop_column("key_count")
