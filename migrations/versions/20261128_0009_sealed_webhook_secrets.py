"""webhook secrets sealed at rest: room for the sealed form

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-28 11:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = (("secret", False), ("previous_secret", True))


def upgrade() -> None:
    with op.batch_alter_table("webhook_endpoints", schema=None) as batch_op:
        for name, nullable in COLUMNS:
            batch_op.alter_column(name, existing_type=sa.String(100), type_=sa.String(200), existing_nullable=nullable)


def downgrade() -> None:
    # Sealed values do not fit back; only a database without WEBHOOK_SECRET_KEY in use can go down.
    with op.batch_alter_table("webhook_endpoints", schema=None) as batch_op:
        for name, nullable in COLUMNS:
            batch_op.alter_column(name, existing_type=sa.String(200), type_=sa.String(100), existing_nullable=nullable)
