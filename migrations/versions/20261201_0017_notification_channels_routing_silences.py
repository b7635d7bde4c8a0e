"""notification channels (Slack, Teams, e-mail), the organisation's routing, silences; deliveries and their attempts
go to a webhook endpoint or a channel, and events carry a subject and channel-only facts

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-01 10:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _org_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(["org_id"], ["orgs.id"], name=op.f(f"fk_{table}_org_id_orgs"), ondelete="CASCADE")


def _created() -> sa.Column:
    return sa.Column(
        "created_at", sa.DateTime(timezone=True), server_default=sa.text("CURRENT_TIMESTAMP"), nullable=False
    )


def upgrade() -> None:
    op.create_table(
        "notification_channels",
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column(
            "kind",
            sa.Enum("slack", "teams", "email", name="channel_kind", native_enum=False, length=32),
            nullable=False,
        ),
        sa.Column("config", sa.JSON(), nullable=False),
        sa.Column("secret", sa.Text(), nullable=True),
        sa.Column(
            "digest_frequency",
            sa.Enum("daily", "weekly", name="digest_frequency", native_enum=False, length=32),
            nullable=True,
        ),
        sa.Column("digest_time", sa.String(length=5), nullable=True),
        sa.Column("digest_weekday", sa.Integer(), nullable=True),
        sa.Column("next_digest_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_digest_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("disabled_reason", sa.Text(), nullable=True),
        sa.Column("disabled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("failing_since", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        _created(),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.text("CURRENT_TIMESTAMP"), nullable=False
        ),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        _org_fk("notification_channels"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notification_channels")),
    )
    op.create_index(op.f("ix_notification_channels_next_digest_at"), "notification_channels", ["next_digest_at"])
    op.create_index(op.f("ix_notification_channels_org_id"), "notification_channels", ["org_id"])
    op.create_table(
        "notification_routing",
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("mode", sa.String(length=8), nullable=False),
        sa.Column("rules", sa.JSON(), nullable=False),
        sa.Column("default_channel_ids", sa.JSON(), nullable=False),
        sa.Column("quiet_hours", sa.JSON(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by_key_id", sa.Uuid(), nullable=True),
        _org_fk("notification_routing"),
        sa.ForeignKeyConstraint(
            ["updated_by_key_id"],
            ["api_keys.id"],
            name=op.f("fk_notification_routing_updated_by_key_id_api_keys"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("org_id", name=op.f("pk_notification_routing")),
    )
    op.create_table(
        "notification_silences",
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("matchers", sa.JSON(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("created_by_key_id", sa.Uuid(), nullable=True),
        sa.Column("ended_early_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_by", sa.String(length=200), nullable=True),
        sa.Column("concluded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        _created(),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by_key_id"],
            ["api_keys.id"],
            name=op.f("fk_notification_silences_created_by_key_id_api_keys"),
            ondelete="SET NULL",
        ),
        _org_fk("notification_silences"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notification_silences")),
    )
    op.create_index(op.f("ix_notification_silences_concluded_at"), "notification_silences", ["concluded_at"])
    op.create_index(op.f("ix_notification_silences_ends_at"), "notification_silences", ["ends_at"])
    op.create_index(op.f("ix_notification_silences_org_id"), "notification_silences", ["org_id"])
    with op.batch_alter_table("operator_events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("channel_id", sa.Uuid(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_operator_events_channel_id_notification_channels"),
            "notification_channels",
            ["channel_id"],
            ["id"],
            ondelete="SET NULL",
        )
    with op.batch_alter_table("webhook_attempts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("channel_id", sa.Uuid(), nullable=True))
        batch_op.alter_column("endpoint_id", existing_type=sa.Uuid(), nullable=True)
        batch_op.create_index(batch_op.f("ix_webhook_attempts_channel_id"), ["channel_id"])
        batch_op.create_foreign_key(
            batch_op.f("fk_webhook_attempts_channel_id_notification_channels"),
            "notification_channels",
            ["channel_id"],
            ["id"],
            ondelete="CASCADE",
        )
    with op.batch_alter_table("webhook_deliveries", schema=None) as batch_op:
        batch_op.add_column(sa.Column("channel_id", sa.Uuid(), nullable=True))
        batch_op.add_column(sa.Column("silence_id", sa.Uuid(), nullable=True))
        batch_op.alter_column("endpoint_id", existing_type=sa.Uuid(), nullable=True)
        batch_op.create_index(batch_op.f("ix_webhook_deliveries_channel_id"), ["channel_id"])
        batch_op.create_index(batch_op.f("ix_webhook_deliveries_silence_id"), ["silence_id"])
        batch_op.create_foreign_key(
            batch_op.f("fk_webhook_deliveries_channel_id_notification_channels"),
            "notification_channels",
            ["channel_id"],
            ["id"],
            ondelete="CASCADE",
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_webhook_deliveries_silence_id_notification_silences"),
            "notification_silences",
            ["silence_id"],
            ["id"],
            ondelete="SET NULL",
        )
        batch_op.create_check_constraint(
            batch_op.f("ck_webhook_deliveries_one_destination"), "(endpoint_id IS NULL) <> (channel_id IS NULL)"
        )
    with op.batch_alter_table("webhook_events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("subject", sa.String(length=80), nullable=True))
        batch_op.add_column(sa.Column("extra", sa.JSON(), nullable=True))


def downgrade() -> None:
    # What went to channels has no place without them.
    op.execute("DELETE FROM webhook_attempts WHERE endpoint_id IS NULL")
    op.execute("DELETE FROM webhook_deliveries WHERE endpoint_id IS NULL")
    with op.batch_alter_table("webhook_events", schema=None) as batch_op:
        batch_op.drop_column("extra")
        batch_op.drop_column("subject")
    with op.batch_alter_table("webhook_deliveries", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_webhook_deliveries_one_destination"), type_="check")
        batch_op.drop_constraint(
            batch_op.f("fk_webhook_deliveries_silence_id_notification_silences"), type_="foreignkey"
        )
        batch_op.drop_constraint(
            batch_op.f("fk_webhook_deliveries_channel_id_notification_channels"), type_="foreignkey"
        )
        batch_op.drop_index(batch_op.f("ix_webhook_deliveries_silence_id"))
        batch_op.drop_index(batch_op.f("ix_webhook_deliveries_channel_id"))
        batch_op.alter_column("endpoint_id", existing_type=sa.Uuid(), nullable=False)
        batch_op.drop_column("silence_id")
        batch_op.drop_column("channel_id")
    with op.batch_alter_table("webhook_attempts", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_webhook_attempts_channel_id_notification_channels"), type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_webhook_attempts_channel_id"))
        batch_op.alter_column("endpoint_id", existing_type=sa.Uuid(), nullable=False)
        batch_op.drop_column("channel_id")
    with op.batch_alter_table("operator_events", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_operator_events_channel_id_notification_channels"), type_="foreignkey")
        batch_op.drop_column("channel_id")
    op.drop_table("notification_silences")
    op.drop_table("notification_routing")
    op.drop_table("notification_channels")
