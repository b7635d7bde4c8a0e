"""Ingestion: batches (durable first: the normalised points are committed before any job runs) and each
organisation's settings of the ad-platform adapters. The points themselves are the metric store's
(shared/metrics/models.py)."""

import enum
import uuid
from datetime import date, datetime

from sqlalchemy import JSON, Date, ForeignKey, Index, Integer, LargeBinary, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from shared.db.base import Base, IdMixin, TimestampMixin, UpdatedMixin, UTCDateTime, str_enum
from shared.db.scoping import OrgScoped
from shared.webhooks.sealing import SealedSecret


class BatchStatus(enum.StrEnum):
    pending = "pending"
    processing = "processing"
    done = "done"
    failed = "failed"


class BatchErrorCode(enum.StrEnum):
    # A fault that is not an outage or a concurrent writer (those are retried for as long as they last) and
    # persisted through every retry: a defect on our side, logged with the batch id.
    internal_error = "internal_error"
    # Asked to merge again after its stored points were cleared (INGEST_BODY_RETENTION_DAYS after it finished):
    # nothing left to merge. What it merged before is still in the metric store.
    points_cleared = "points_cleared"


class IngestBatch(IdMixin, TimestampMixin, OrgScoped, Base):
    __tablename__ = "ingest_batches"
    __table_args__ = (
        UniqueConstraint("org_id", "idempotency_key"),
        Index("ix_ingest_batches_status_created", "status", "created_at"),
        # The batches whose points are still kept, oldest first: what the retention cron clears.
        Index(
            "ix_ingest_batches_point_rows_kept",
            "created_at",
            postgresql_where=text("point_rows IS NOT NULL"),
            sqlite_where=text("point_rows IS NOT NULL"),
        ),
    )

    source: Mapped[str] = mapped_column(String(32))
    idempotency_key: Mapped[str | None] = mapped_column(String(200))
    body_hash: Mapped[str] = mapped_column(String(64))
    status: Mapped[BatchStatus] = mapped_column(str_enum(BatchStatus, "batch_status"), default=BatchStatus.pending)
    # A failed batch: a stable code (`BatchErrorCode`) and a plain message; never SQL (that goes to the logs).
    error_code: Mapped[str | None] = mapped_column(String(64))
    error: Mapped[str | None] = mapped_column(Text)
    # The normalised points as the worker COPYs them: zlib-compressed COPY text, one line per point in push order
    # (shared/ingest/rows.py). Kept after the merge for INGEST_BODY_RETENTION_DAYS (a batch can be merged again
    # meanwhile), then cleared (null, `points_cleared_at` set) by the `ingest.clear_batch_points` cron.
    point_rows: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    points_cleared_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The first and last day among the points (the month partitions the merge needs); null for batches stored
    # before migration 0015, whose days are read from their rows.
    first_day: Mapped[date | None] = mapped_column(Date)
    last_day: Mapped[date | None] = mapped_column(Date)
    point_count: Mapped[int] = mapped_column(Integer)
    # Distinct (metric, day, dimensions) keys among the points; fewer than point_count: some repeat (collapsed in
    # push order by the merge). Null for batches stored before it was counted.
    key_count: Mapped[int | None] = mapped_column(Integer)
    inserted: Mapped[int] = mapped_column(Integer, default=0)
    replaced: Mapped[int] = mapped_column(Integer, default=0)
    incremented: Mapped[int] = mapped_column(Integer, default=0)
    superseded: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # Tries that hit a fault that is not transient (outages never count); the third marks the batch failed.
    defects: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    enqueues: Mapped[int] = mapped_column(Integer, default=0)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # What the batch changed, for evaluation: {kpi_id: [first_day, last_day]}.
    changed_kpis: Mapped[dict | None] = mapped_column(JSON)
    by_key_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("api_keys.id", ondelete="SET NULL"))


class IngestSourceConfig(IdMixin, TimestampMixin, UpdatedMixin, OrgScoped, Base):
    """An organisation's settings of one source's adapter (e.g. which Meta action types count as conversions).

    `settings` holds only what the organisation set, {setting: [values]}; every other setting follows the
    default (`shared.ingest.adapters.DEFAULT_CONFIG`), so an improved default reaches those who never changed it.
    """

    __tablename__ = "ingest_source_configs"
    __table_args__ = (UniqueConstraint("org_id", "source"),)

    source: Mapped[str] = mapped_column(String(32))
    settings: Mapped[dict[str, list[str]]] = mapped_column(JSON, default=dict)
    # ISO 4217: the currency of this source's money points that state none (neither the point, the batch nor the
    # platform's row); unset, such a point is refused (422).
    default_currency: Mapped[str | None] = mapped_column(String(3), nullable=True, default=None)
    # Set: every push of this source must carry `X-Hub-Signature-256: sha256=<HMAC-SHA256 of the body>` under it.
    # Sealed at rest like webhook secrets (WEBHOOK_SECRET_KEY).
    signing_secret: Mapped[str | None] = mapped_column(SealedSecret(), nullable=True)
