"""ingest source configs: each organisation's settings of the ad-platform adapters and push signing secrets

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-28 12:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "ingest_source_configs",
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("settings", sa.JSON(), nullable=False),
        sa.Column("signing_secret", sa.String(length=200), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.text("CURRENT_TIMESTAMP"), nullable=False
        ),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.text("CURRENT_TIMESTAMP"), nullable=False
        ),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"], ["orgs.id"], name=op.f("fk_ingest_source_configs_org_id_orgs"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ingest_source_configs")),
        sa.UniqueConstraint("org_id", "source", name=op.f("uq_ingest_source_configs_org_id_source")),
    )
    with op.batch_alter_table("ingest_source_configs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ingest_source_configs_org_id"), ["org_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("ingest_source_configs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ingest_source_configs_org_id"))
    op.drop_table("ingest_source_configs")
