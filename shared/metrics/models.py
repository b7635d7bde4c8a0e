"""The metric store's tables: the catalogue of metric definitions, the points sources reported (one row per
metric, day, dimension set and source) and their daily roll-ups, which KPIs, plans and reports read."""

import enum
import uuid
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import JSON, Boolean, Date, Integer, String, Text, UniqueConstraint, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from shared.db.base import METRIC_NUMBER, Base, IdMixin, TimestampMixin, UpdatedMixin, UTCDateTime, str_enum
from shared.db.scoping import OrgScoped
from shared.metrics.aggregation import Aggregation
from shared.metrics.keys import DIMS_KEY_LENGTH


class MetricUnit(enum.StrEnum):
    currency = "currency"
    count = "count"  # type: ignore[assignment]  # shadows str.count; the stored value must stay "count"
    ratio = "ratio"
    percent = "percent"
    score = "score"


class MetricDefinition(IdMixin, TimestampMixin, UpdatedMixin, OrgScoped, Base):
    """A base metric of the catalogue: standard ones are created with every organisation."""

    __tablename__ = "metric_definitions"
    __table_args__ = (UniqueConstraint("org_id", "key"),)

    key: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    unit: Mapped[MetricUnit] = mapped_column(str_enum(MetricUnit, "metric_unit"))
    aggregation: Mapped[Aggregation] = mapped_column(str_enum(Aggregation, "metric_aggregation"))
    allowed_dimensions: Mapped[list[str]] = mapped_column(JSON, default=list)
    standard: Mapped[bool] = mapped_column(Boolean, default=False)


class MetricPoint(OrgScoped, Base):
    """The value a source reported for a metric on a day for one set of dimensions.

    Snapshots replace the row, increments add to it. The primary key leads with (org, metric, day) so a
    time-range scan of one metric is an index range scan.
    """

    __tablename__ = "metric_points"
    # On Postgres one partition per calendar month (shared/metrics/partitions.py; migration 0015).
    __table_args__ = {"postgresql_partition_by": "RANGE (day)"}

    # No foreign key to orgs on the two high-volume tables: its per-row check cost a third of a bulk merge
    # (docs/decisions.md). Only the ingestion job writes here, for the org of a batch that has the key.
    org_id: Mapped[uuid.UUID] = mapped_column(Uuid(), primary_key=True)
    metric_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    day: Mapped[date] = mapped_column(primary_key=True)
    dims_key: Mapped[str] = mapped_column(String(DIMS_KEY_LENGTH), primary_key=True)
    source: Mapped[str] = mapped_column(String(32), primary_key=True)
    dimensions: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    value: Mapped[Decimal] = mapped_column(METRIC_NUMBER)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    batch_id: Mapped[uuid.UUID] = mapped_column()


class MetricDaily(OrgScoped, Base):
    """The daily roll-up of one metric for one set of dimensions: what KPIs are computed from.

    It keeps what every aggregation needs (sum, count, min, max, last), so a window's average is
    sum ÷ count over all its points, never an average of daily averages. `dims_key` is the canonical JSON
    of `dimensions` (sorted keys), so the natural key is a plain primary key.
    """

    __tablename__ = "metric_daily"
    __table_args__ = {"postgresql_partition_by": "RANGE (day)"}  # monthly, as metric_points

    # No foreign key to orgs on the two high-volume tables: its per-row check cost a third of a bulk merge
    # (docs/decisions.md). Only the ingestion job writes here, for the org of a batch that has the key.
    org_id: Mapped[uuid.UUID] = mapped_column(Uuid(), primary_key=True)
    metric_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    dims_key: Mapped[str] = mapped_column(String(DIMS_KEY_LENGTH), primary_key=True)
    dimensions: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    value_sum: Mapped[Decimal] = mapped_column(METRIC_NUMBER)
    value_count: Mapped[int] = mapped_column(Integer)
    value_min: Mapped[Decimal] = mapped_column(METRIC_NUMBER)
    value_max: Mapped[Decimal] = mapped_column(METRIC_NUMBER)
    value_last: Mapped[Decimal] = mapped_column(METRIC_NUMBER)
    last_at: Mapped[datetime] = mapped_column(UTCDateTime())


# The `dimension` and `dim_value` of a slice that is the day's total over every dimension set.
TOTAL = ""


class MetricSlice(OrgScoped, Base):
    """A day of one metric summed over dimension sets: the total (`dimension` and `dim_value` are TOTAL) and one
    row per single dimension value (`channel` = `meta`: every dimension set that has it), what reads ask for (most
    KPI filters are none or one dimension). The same fields as a roll-up row, merged like `DayTotal`; a read is
    one index range scan of its days, whatever the number of campaigns. The ingest merge recomputes the slices of
    every (metric, day) it changed from metric_daily, in its transaction."""

    __tablename__ = "metric_slices"
    __table_args__ = {"postgresql_partition_by": "RANGE (day)"}  # monthly, as metric_points

    org_id: Mapped[uuid.UUID] = mapped_column(Uuid(), primary_key=True)
    metric_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    dimension: Mapped[str] = mapped_column(String(64), primary_key=True)
    dim_value: Mapped[str] = mapped_column(String(DIMS_KEY_LENGTH), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    # The ISO 4217 currency of a money metric's amounts ('' for other metrics, and for money stored before points
    # carried one): amounts of different currencies are never summed into one slice.
    currency: Mapped[str] = mapped_column(String(3), primary_key=True, default="", server_default="")
    value_sum: Mapped[Decimal] = mapped_column(METRIC_NUMBER)
    value_count: Mapped[int] = mapped_column(Integer)
    value_min: Mapped[Decimal] = mapped_column(METRIC_NUMBER)
    value_max: Mapped[Decimal] = mapped_column(METRIC_NUMBER)
    value_last: Mapped[Decimal] = mapped_column(METRIC_NUMBER)


class MetricSource(OrgScoped, Base):
    """The latest day a source has reported for a metric of an organisation, and when a merge last changed the
    metric's data from it (maintained by the ingest merge): which sources may still restate a recent window, and
    whether a KPI's data changed since its last evaluation, without reading the points."""

    __tablename__ = "metric_sources"

    org_id: Mapped[uuid.UUID] = mapped_column(Uuid(), primary_key=True)
    metric_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    source: Mapped[str] = mapped_column(String(32), primary_key=True)
    last_day: Mapped[date] = mapped_column(Date)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
