"""organisations' time zone and reporting currency (and a record of their changes), exchange rates, a source's default currency, and the
currency of a money slice (metric_slices keeps amounts of different currencies apart)

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-01 06:30:00

Existing organisations keep UTC and get USD as reporting currency; money stored before this revision has no
currency and is read as the organisation's reporting currency (docs/domains/money.md). On Postgres the slices'
primary key is replaced on the partitioned parent, which recurses to every month.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_OLD_KEY = ["org_id", "metric_key", "dimension", "dim_value", "day"]


def upgrade() -> None:
    with op.batch_alter_table("orgs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("time_zone", sa.String(length=64), server_default="UTC", nullable=False))
        batch_op.add_column(sa.Column("reporting_currency", sa.String(length=3), server_default="USD", nullable=False))
    op.create_table(
        "org_setting_changes",
        sa.Column("setting", sa.String(length=64), nullable=False),
        sa.Column("old_value", sa.String(length=64), nullable=False),
        sa.Column("new_value", sa.String(length=64), nullable=False),
        sa.Column("effects", sa.Text(), nullable=False),
        sa.Column("by_key_id", sa.Uuid(), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.text("CURRENT_TIMESTAMP"), nullable=False
        ),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["by_key_id"], ["api_keys.id"], name=op.f("fk_org_setting_changes_by_key_id_api_keys"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["org_id"], ["orgs.id"], name=op.f("fk_org_setting_changes_org_id_orgs"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_org_setting_changes")),
    )
    op.create_index(op.f("ix_org_setting_changes_org_id"), "org_setting_changes", ["org_id"], unique=False)
    op.create_table(
        "fx_rates",
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("base", sa.String(length=3), nullable=False),
        sa.Column("quote", sa.String(length=3), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("rate", sa.Numeric(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("rate > 0", name=op.f("ck_fx_rates_rate_positive")),
        sa.ForeignKeyConstraint(["org_id"], ["orgs.id"], name=op.f("fk_fx_rates_org_id_orgs"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("org_id", "base", "quote", "day", name=op.f("pk_fx_rates")),
    )
    with op.batch_alter_table("ingest_source_configs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("default_currency", sa.String(length=3), nullable=True))
    _slices_key([*_OLD_KEY, "currency"], add_currency=True)
    _money_scale(3)


def downgrade() -> None:
    _money_scale(2)
    # Money slices of a currency go (a currency's and the untagged slice of one day would collide); the merge
    # before 0016 did not keep currencies apart anyway.
    op.execute("DELETE FROM metric_slices WHERE currency <> ''")
    _slices_key(_OLD_KEY, add_currency=False)
    with op.batch_alter_table("ingest_source_configs", schema=None) as batch_op:
        batch_op.drop_column("default_currency")
    op.drop_table("fx_rates")
    op.drop_index(op.f("ix_org_setting_changes_org_id"), table_name="org_setting_changes")
    op.drop_table("org_setting_changes")
    with op.batch_alter_table("orgs", schema=None) as batch_op:
        batch_op.drop_column("reporting_currency")
        batch_op.drop_column("time_zone")


def _slices_key(key: list[str], *, add_currency: bool) -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE metric_slices DROP CONSTRAINT pk_metric_slices")
        if add_currency:
            op.execute("ALTER TABLE metric_slices ADD COLUMN currency VARCHAR(3) DEFAULT '' NOT NULL")
        else:
            op.execute("ALTER TABLE metric_slices DROP COLUMN currency")
        op.execute(f"ALTER TABLE metric_slices ADD CONSTRAINT pk_metric_slices PRIMARY KEY ({', '.join(key)})")
        return
    with op.batch_alter_table("metric_slices", schema=None, recreate="always") as batch_op:
        if add_currency:
            batch_op.add_column(sa.Column("currency", sa.String(length=3), server_default="", nullable=False))
        else:
            batch_op.drop_column("currency")
        batch_op.drop_constraint("pk_metric_slices", type_="primary")
        batch_op.create_primary_key("pk_metric_slices", key)


_MONEY_COLUMNS = {
    "budgets": ("total",),
    "budget_lines": ("planned_amount", "actual_amount"),
    "budget_reallocations": ("amount",),
}


def _money_scale(places: int) -> None:
    """Budget amounts keep up to three places (KWD's minor unit) from 0016; down again, two (rounded)."""
    old = sa.Numeric(18, 2 if places == 3 else 3)
    for table, columns in _MONEY_COLUMNS.items():
        with op.batch_alter_table(table, schema=None) as batch_op:
            for column in columns:
                batch_op.alter_column(column, existing_type=old, type_=sa.Numeric(18, places), existing_nullable=False)
