"""Request and response bodies of metric ingestion."""

import re
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated

from pydantic import Field, field_validator

from services.api.schemas import Currency, Id, Input, Number, Output, Timestamp
from shared.ingest.models import BatchErrorCode, BatchStatus
from shared.ingest.points import Mode
from shared.metrics.keys import CURRENCY_DIMENSION, DIMS_KEY_LENGTH

MAX_DIMENSIONS = 8
MAX_DIMENSION_VALUE = 200
DIMENSION_NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
SourceKey = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,31}$", examples=["crm"])]


class PointIn(Input):
    """One metric value for one day and one set of dimensions. The day is the organisation's local date: a date
    is that day; a time with an offset (`Z`, `+07:00`) falls on the local day of that instant in the
    organisation's time zone (23:30Z is the next day in Asia/Ho_Chi_Minh); a time without one is a local time."""

    metric: str = Field(max_length=64, examples=["spend"])
    value: Decimal = Field(allow_inf_nan=False, max_digits=24, decimal_places=8, examples=["120.5"])
    timestamp: datetime | date = Field(examples=["2026-11-02T00:00:00Z"])
    dimensions: dict[str, str] = Field(
        default_factory=dict,
        examples=[{"channel": "meta", "campaign": "bf-2026"}],
        description=f"At most {MAX_DIMENSIONS}, each an allowed dimension of the metric, values of 1 to "
        f"{MAX_DIMENSION_VALUE} characters; stored as JSON they take at most {DIMS_KEY_LENGTH} characters (a "
        "non-ASCII character counts 6)",
    )
    currency: Currency | None = Field(
        default=None,
        description="ISO 4217 code of a money metric's amount (`spend`, `revenue`, any metric whose unit is "
        "`currency`); left out, the batch's `currency`, then the source's default currency. Not read for other "
        "metrics",
        examples=["USD"],
    )
    mode: Mode = Field(
        default=Mode.snapshot,
        description="`snapshot`: the value for that metric/day/dimensions from this source (a later push replaces "
        "it); `increment`: adds to it (only for metrics aggregated by `sum`)",
    )

    @field_validator("dimensions")
    @classmethod
    def _dimensions(cls, dims: dict[str, str]) -> dict[str, str]:
        if len(dims) > MAX_DIMENSIONS:
            raise ValueError(f"at most {MAX_DIMENSIONS} dimensions")
        for key, value in dims.items():
            if not DIMENSION_NAME.match(key):
                raise ValueError(f"dimension name {key!r} must be lower-case letters, digits and _ (max 40)")
            if key == CURRENCY_DIMENSION:
                raise ValueError(
                    "currency is not a dimension: give a money amount's currency as the point's `currency`"
                )
            if not value or len(value) > MAX_DIMENSION_VALUE:
                raise ValueError(f"dimension {key!r} must be 1 to {MAX_DIMENSION_VALUE} characters")
        return dims


class MetricBatchIn(Input):
    """A batch of points from one source. The same `idempotency_key` (here or in the `Idempotency-Key`
    header) with the same body is the same batch; with another body it is refused (409)."""

    points: list[PointIn] = Field(min_length=1)
    source: SourceKey = "api"
    currency: Currency | None = Field(
        default=None,
        description="ISO 4217 code of the money points that give none (else the source's default currency; a money "
        "point with neither is refused)",
        examples=["VND"],
    )
    idempotency_key: str | None = Field(default=None, min_length=1, max_length=200, examples=["crm-2026-11-02"])


class BatchAccepted(Output):
    batch_id: Id
    status: BatchStatus = Field(examples=["pending"])


class BatchOut(Output):
    id: Id
    source: str = Field(examples=["meta"])
    status: BatchStatus = Field(examples=["done"])
    error_code: BatchErrorCode | None = Field(
        description="Why a `failed` batch failed, a stable code: `internal_error` (a fault on our side that "
        "persisted through retries; the points are kept until `points_cleared_at`), `points_cleared` (it was asked "
        "to merge again after its stored points were cleared: push them again). Outages and concurrent writers "
        "never fail a batch: it stays `pending`/`processing` and is retried until they pass.",
        examples=[None],
    )
    error: str | None = Field(description="A plain message for a `failed` batch", examples=[None])
    idempotency_key: str | None
    point_count: int = Field(examples=[1200])
    inserted: int = Field(description="Keys (metric, day, dimensions) stored for the first time", examples=[1000])
    replaced: int = Field(description="Keys whose snapshot replaced an earlier value", examples=[200])
    incremented: int = Field(description="Keys an increment added to", examples=[0])
    superseded: int = Field(
        description="Keys whose snapshot was left out because a batch accepted later (from the same source) had "
        "already written them: batches may merge out of order, a snapshot never overwrites a newer one",
        examples=[0],
    )
    attempts: int
    created_at: Timestamp
    started_at: Timestamp | None
    finished_at: Timestamp | None
    latency_ms: Number | None = Field(description="From acceptance to done")
    points_cleared_at: Timestamp | None = Field(
        default=None,
        description="When the batch's stored points were cleared (`INGEST_BODY_RETENTION_DAYS` after it was "
        "accepted, once done or failed): its counts and what it merged stay, but it can no longer be merged again",
        examples=[None],
    )
