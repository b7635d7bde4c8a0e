# ruff: noqa: S608 - the SQL below interpolates module constants and table names only; values are bound.
"""organisations' time zone and reporting currency (and a record of their changes), exchange rates, a source's default currency, and the
currency of a money slice (metric_slices keeps amounts of different currencies apart)

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-01 06:30:00

Existing organisations keep UTC and get USD as reporting currency; money stored before this revision has no
currency and is read as the organisation's reporting currency (docs/domains/money.md). On Postgres the slices'
primary key is replaced on the partitioned parent, which recurses to every month.
"""

import json
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_OLD_KEY = ["org_id", "metric_key", "dimension", "dim_value", "day"]
_AGGREGATES = "sum(d.value_sum), sum(d.value_count), min(d.value_min), max(d.value_max), sum(d.value_last)"
_SLICE_COLUMNS = (
    "org_id, metric_key, dimension, dim_value, day, value_sum, value_count, value_min, value_max, value_last"
)
_BATCH = 5_000


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
    _tag_stored_money()
    _money_scale(3)


def downgrade() -> None:
    _money_scale(2)
    # Slices of one day in several currencies cannot share the old key: the slices are made again from the roll-ups
    # as 0014 made them (the currency a dimension like any other, amounts summed across currencies, as before 0016).
    # Stored points keep their `currency` dimension.
    op.execute("DELETE FROM metric_slices")
    _slices_key(_OLD_KEY, add_currency=False)
    postgres = op.get_bind().dialect.name == "postgresql"
    each = "json_each_text(d.dimensions)" if postgres else "json_each(d.dimensions)"
    op.execute(
        f"INSERT INTO metric_slices ({_SLICE_COLUMNS}) SELECT d.org_id, d.metric_key, '', '', d.day, {_AGGREGATES} "
        "FROM metric_daily d GROUP BY d.org_id, d.metric_key, d.day"
    )
    op.execute(
        f"INSERT INTO metric_slices ({_SLICE_COLUMNS}) SELECT d.org_id, d.metric_key, e.key, e.value, d.day, "
        f"{_AGGREGATES} FROM metric_daily d, {each} e GROUP BY d.org_id, d.metric_key, e.key, e.value, d.day"
    )
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


def _tag_stored_money() -> None:
    """Money stored before 0016 has no currency: it is every organisation's reporting currency of now (USD, the
    default each gets above), written onto its points, roll-ups and slices, so a later push of the same key in that
    currency replaces it rather than standing beside it, and a later change of reporting currency does not change
    what it was. Points and roll-ups are rewritten in batches (the new key is canonical JSON, made here)."""
    bind = op.get_bind()
    postgres = bind.dialect.name == "postgresql"
    money = (
        "EXISTS (SELECT 1 FROM metric_definitions m WHERE m.org_id = {t}.org_id AND m.key = {t}.metric_key "
        "AND m.unit = 'currency')"
    )
    currency_of = "(SELECT o.reporting_currency FROM orgs o WHERE o.id = {t}.org_id)"
    for table, extra in (("metric_points", ", source"), ("metric_daily", "")):
        rows = bind.execute(
            sa.text(
                f"SELECT org_id, metric_key, day, dims_key{extra}, dimensions, {currency_of.format(t=table)} "
                f"FROM {table} WHERE {money.format(t=table)}"
            )
        ).fetchall()
        dims = "CAST(:dims AS json)" if postgres else ":dims"
        where = "org_id = :org AND metric_key = :metric AND day = :day AND dims_key = :old" + (
            " AND source = :source" if extra else ""
        )
        update = sa.text(f"UPDATE {table} SET dims_key = :new, dimensions = {dims} WHERE {where}")
        params = []
        for row in rows:
            org, metric, day, old, *rest = row
            source = rest[0] if extra else None
            stored, currency = rest[-2], rest[-1]
            dimensions = json.loads(stored) if isinstance(stored, str) else dict(stored or {})
            if "currency" in dimensions:
                continue
            dimensions["currency"] = currency
            key = json.dumps(dimensions, sort_keys=True, separators=(",", ":"))
            params.append(
                {"org": org, "metric": metric, "day": day, "old": old, "source": source, "new": key, "dims": key}
            )
        for start in range(0, len(params), _BATCH):
            bind.execute(update, params[start : start + _BATCH])
    op.execute(
        f"UPDATE metric_slices SET currency = {currency_of.format(t='metric_slices')} "
        f"WHERE currency = '' AND {money.format(t='metric_slices')}"
    )
