"""Organisations (tenants) and their API keys."""

import enum
import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from shared.db.base import Base, IdMixin, TimestampMixin, UTCDateTime, str_enum
from shared.db.scoping import OrgScoped


class Role(enum.StrEnum):
    admin = "admin"
    editor = "editor"
    viewer = "viewer"
    ingest = "ingest"


class Org(IdMixin, TimestampMixin, Base):
    __tablename__ = "orgs"

    name: Mapped[str] = mapped_column(String(200))
    # IANA zone: the organisation's days (bucketing of timestamped points, "today", periods) are local days.
    time_zone: Mapped[str] = mapped_column(String(64), default="UTC", server_default="UTC")
    # ISO 4217: KPI values and reports in money are converted into it (shared/money).
    reporting_currency: Mapped[str] = mapped_column(String(3), default="USD", server_default="USD")


class OrgSettingChange(IdMixin, TimestampMixin, OrgScoped, Base):
    """A change of an organisation-wide setting (time zone, reporting currency): who, from what to what, and
    what it affects, in words, as the API answered it."""

    __tablename__ = "org_setting_changes"

    setting: Mapped[str] = mapped_column(String(64))
    old_value: Mapped[str] = mapped_column(String(64))
    new_value: Mapped[str] = mapped_column(String(64))
    effects: Mapped[str] = mapped_column(Text)
    by_key_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("api_keys.id", ondelete="SET NULL"), default=None)


class ApiKey(IdMixin, TimestampMixin, OrgScoped, Base):
    __tablename__ = "api_keys"

    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[Role] = mapped_column(str_enum(Role, "api_key_role"))
    # The public part of the key, used to find the row; the secret part is only ever stored hashed.
    prefix: Mapped[str] = mapped_column(String(16), unique=True)
    secret_hash: Mapped[str] = mapped_column(String(64))
    created_by_key_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("api_keys.id", ondelete="SET NULL"), default=None
    )
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)


class DashboardSession(IdMixin, TimestampMixin, OrgScoped, Base):
    """A browser signed in to the dashboard with an API key: the cookie names this row, so signing out (or
    revoking the key) ends the session on the server, not just in the browser."""

    __tablename__ = "dashboard_sessions"

    api_key_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("api_keys.id", ondelete="CASCADE"), index=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    # The dashboard language the viewer chose for this session (services/api/dashboard/i18n.py); None: the browser's.
    locale: Mapped[str | None] = mapped_column(String(8), default=None)
