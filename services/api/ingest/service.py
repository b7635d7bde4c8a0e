"""Accepting metric batches: validate everything in the request, store the batch durably, then enqueue."""

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from itertools import islice
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import defer as defer_column

from services.api.pagination import PageParams, fetch_page
from services.api.problems import Conflict, NotFound, PayloadTooLarge, Unprocessable
from services.api.text import ERROR_TYPE, find_unstorable, may_hold_unstorable
from shared.db.base import utcnow
from shared.db.engine import is_postgres
from shared.db.scoping import bound_org
from shared.ingest.models import BatchStatus, IngestBatch
from shared.ingest.pipeline import process_job_id
from shared.ingest.points import Mode, Origin, Point
from shared.ingest.rows import StagedRows, dimension_names
from shared.jobs.handles import PROCESS_BATCH
from shared.metrics.aggregation import Aggregation
from shared.metrics.keys import CURRENCY_DIMENSION, DIMS_KEY_LENGTH, dims_key
from shared.metrics.models import MetricDefinition, MetricUnit

EARLIEST_DAY = date(2000, 1, 1)
FUTURE_TOLERANCE = timedelta(days=1)
MAX_ERRORS = 50


def check_size(points_count: int, limit: int) -> None:
    if points_count > limit:
        raise PayloadTooLarge(f"A batch may carry at most {limit} points; this one has {points_count}. Split it.")


def check_report_size(rows: int, limit: int) -> None:
    """413 for a platform report of more rows than a batch may carry points, before a row is read (a row gives
    one point per metric it reports)."""
    if rows > limit:
        raise PayloadTooLarge(f"A report may carry at most {limit} rows; this one has {rows}. Split it.")


def check_storable(payload: Any, raw: bytes) -> None:
    """422 naming every place in a raw JSON body (an ad-platform report) that holds text the store cannot hold;
    the same rule every `Input` model applies (`services.api.text`). `raw` is the body as sent: most bodies are
    cleared by a scan of it, without walking the decoded payload."""
    if not may_hold_unstorable(raw):
        return
    found = list(islice(find_unstorable(payload), MAX_ERRORS))
    if found:
        errors = [{"location": in_body(where), "message": reason, "type": ERROR_TYPE} for where, reason in found]
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise Unprocessable(f"{errors[0]['location']}: {errors[0]['message']}{more}", errors=errors)


def in_body(location: str) -> str:
    """A location inside the request body as errors show it: `data[1].spend` → `body.data[1].spend`."""
    if location == "$":
        return "body"
    return f"body{location}" if location.startswith("[") else f"body.{location}"


def _metric_rules(found) -> dict[str, tuple[Aggregation, frozenset[str], bool]]:
    """Per metric key: its aggregation, the dimensions a point may carry (a money metric's also its currency), and
    whether it is money (each point must then carry a currency)."""
    rules = {}
    for key, aggregation, allowed, unit in found:
        money = unit == MetricUnit.currency
        rules[key] = (aggregation, frozenset(allowed) | ({CURRENCY_DIMENSION} if money else set()), money)
    return rules


def _missing_currency(metric: str, source: str) -> str:
    return (
        f"{metric!r} is money and this point states no currency: give its ISO 4217 code (the point's `currency`, "
        f"the batch's `currency`, or the report row's currency field), or set a default currency for source "
        f"{source!r} (PUT /v1/ingest/sources/{source}/config)"
    )


async def validate_rows(
    session: AsyncSession, rows: StagedRows, points: Callable[[], list[Point]], source: str = "api"
) -> None:
    """The whole batch is checked before anything is stored, set by set (`rows.summary`): its distinct metrics
    known, its distinct days sane, increments only for metrics that sum, each distinct dimension set allowed for
    the metrics it comes with and fitting the store. Only when something is wrong are the points read one by one
    (`validate_points`), to name each place."""
    summary = rows.summary
    metrics = _metric_rules(await session.execute(_RULES.where(MetricDefinition.key.in_(summary.metrics))))
    latest = (datetime.now(UTC) + FUTURE_TOLERANCE).date().isoformat()
    names = {key: dimension_names(key) for key in {key for _, key in summary.pairs}}
    wrong = (
        len(metrics) < len(summary.metrics)
        or min(summary.days) < EARLIEST_DAY.isoformat()
        or max(summary.days) > latest
        or any(metrics[m][0] != Aggregation.sum for m in summary.increments)
        or any(not names[key] <= metrics[metric][1] for metric, key in summary.pairs)
        or any(metrics[metric][2] and CURRENCY_DIMENSION not in names[key] for metric, key in summary.pairs)
        or any(len(key) > DIMS_KEY_LENGTH for key in names)
    )
    if wrong:
        await validate_points(session, points(), source)
        raise AssertionError("the set-wise check refused a batch the per-point check accepts")  # a defect of ours


_RULES = select(
    MetricDefinition.key, MetricDefinition.aggregation, MetricDefinition.allowed_dimensions, MetricDefinition.unit
)


async def validate_points(session: AsyncSession, points: list[Point], source: str = "api") -> None:
    """The whole batch is checked before anything is stored: known metrics, sane days, increments only for
    metrics that sum, dimensions the metric allows, dimension sets that fit the store.

    Errors name where each point came from: the report's row and field an adapter recorded (`Point.origin`,
    `body.data[1].date_start`), else the point's place in a generic batch (`body.points.3.timestamp`); once per
    location however many points were read from it.
    """
    metrics = _metric_rules(await session.execute(_RULES.where(MetricDefinition.key.in_({p.metric for p in points}))))
    latest = (datetime.now(UTC) + FUTURE_TOLERANCE).date()
    errors: dict[str, dict[str, str]] = {}  # by location: the first problem found there
    key_lengths: dict[tuple, int] = {}  # a batch has few distinct dimension sets: measure each once

    def refuse(i: int, point: Point, part: str, message: str, type_: str) -> None:
        # A point without an origin is the i-th of a generic batch; its origin is only built when refused.
        location = in_body((point.origin or Origin(f"points.{i}")).of(part))
        errors.setdefault(location, {"location": location, "message": message, "type": type_})

    for i, point in enumerate(points):
        known = metrics.get(point.metric)
        if known is None:
            refuse(i, point, "metric", f"unknown metric {point.metric!r}", "unknown_metric")
        if point.day < EARLIEST_DAY or point.day > latest:
            refuse(i, point, "timestamp", f"{point.day} is not between {EARLIEST_DAY} and {latest}", "day_range")
        if known is not None:
            aggregation, allowed, money = known
            if money and CURRENCY_DIMENSION not in point.dimensions:
                refuse(i, point, "currency", _missing_currency(point.metric, source), "currency_missing")
            if point.mode is Mode.increment and aggregation != Aggregation.sum:
                refuse(
                    i,
                    point,
                    "mode",
                    f"metric {point.metric!r} is aggregated by {aggregation.value}, and increments add up into one "
                    f"value per day, so its {aggregation.value} would be wrong; send the value as a snapshot "
                    "(increments are for metrics aggregated by sum)",
                    "increment_not_summable",
                )
            for name in point.dimensions:
                if name not in allowed:
                    refuse(
                        i,
                        point,
                        f"dimensions.{name}",
                        f"dimension {name!r} is not allowed for metric {point.metric!r} "
                        f"(allowed: {', '.join(sorted(allowed - {CURRENCY_DIMENSION})) or 'none'}); leave it out, or "
                        "add it to the "
                        f"metric's allowed_dimensions (PATCH /v1/metrics/{point.metric})",
                        "dimension_not_allowed",
                    )
        items = tuple(point.dimensions.items())
        length = key_lengths.get(items)
        if length is None:
            length = key_lengths[items] = len(dims_key(point.dimensions))
        if length > DIMS_KEY_LENGTH:
            refuse(
                i,
                point,
                "dimensions",
                f"the dimensions take {length} characters as stored (JSON, each non-ASCII character written as a "
                f"6-character \\uXXXX escape); at most {DIMS_KEY_LENGTH}: shorten the values",
                "dimensions_too_long",
            )
        if len(errors) >= MAX_ERRORS:
            break
    if errors:
        found = list(errors.values())
        unknown = sorted({p.metric for p in points} - metrics.keys())
        detail = f"Unknown metrics: {', '.join(unknown)}. " if unknown else ""
        more = f" (and {len(found) - 1} more)" if len(found) > 1 else ""
        extra: dict[str, Any] = {"unknown_metrics": unknown} if unknown else {}  # named only when some are
        raise Unprocessable(
            f"{detail}{found[0]['location']}: {found[0]['message']}{more}",
            errors=found,
            **extra,
        )


@dataclass(frozen=True)
class Accepted:
    batch_id: uuid.UUID
    status: BatchStatus
    created: bool  # False: a replay of the idempotency key, answered with the original batch


async def accept_batch(
    session: AsyncSession,
    *,
    source: str,
    rows: StagedRows,
    points: Callable[[], list[Point]],
    idempotency_key: str | None,
    by_key_id: uuid.UUID,
) -> Accepted:
    """Store the batch as pending and ask for its processing after commit.

    The batch's fingerprint is the SHA-256 of its source and normalised rows (`rows.digest`): the same points in
    the same order from the same source, however the JSON was spelled (key order, spacing, `"1.50"` or `1.50`,
    a timestamp or its day). An idempotency key already used with the same points is the original batch; with
    others, a 409. That
    holds for requests arriving at once too: the insert yields to a concurrent one with the key (ON CONFLICT DO
    NOTHING waits for it to commit), and the batch it stored is then read and compared like any earlier one.
    """
    fingerprint = rows.digest
    if idempotency_key is not None:
        earlier = await _replay(session, idempotency_key, fingerprint)
        if earlier is not None:
            return earlier
    empty = rows.count == 0  # a platform's report of a paused account: a batch with nothing to merge, done at once
    if not empty:
        await validate_rows(session, rows, points, source)
    now = utcnow()
    dialect = postgresql if is_postgres(session) else sqlite
    batch_id = await session.scalar(
        dialect.insert(IngestBatch)
        .values(
            org_id=bound_org(session),
            source=source,
            idempotency_key=idempotency_key,
            body_hash=fingerprint,
            status=BatchStatus.done if empty else BatchStatus.pending,
            point_rows=None if empty else rows.data,
            point_count=rows.count,
            key_count=rows.keys,
            # The month partitions the merge needs (validated above: the batch has at least one day).
            first_day=None if empty else date.fromisoformat(min(rows.summary.days)),
            last_day=None if empty else date.fromisoformat(max(rows.summary.days)),
            enqueues=0 if empty else 1,
            started_at=now if empty else None,
            finished_at=now if empty else None,
            by_key_id=by_key_id,
        )
        .on_conflict_do_nothing(index_elements=["org_id", "idempotency_key"])
        .returning(IngestBatch.id)
    )
    if batch_id is None:  # a concurrent request stored a batch with this key first, and has committed it
        assert idempotency_key is not None  # only a key conflicts
        earlier = await _replay(session, idempotency_key, fingerprint)
        if earlier is None:
            raise Conflict(f"Idempotency key {idempotency_key!r} is in use by a concurrent request; retry.")
        return earlier
    if empty:
        return Accepted(batch_id, BatchStatus.done, True)
    PROCESS_BATCH.defer(session, job_id=process_job_id(batch_id, 1), batch_id=str(batch_id))
    return Accepted(batch_id, BatchStatus.pending, True)


async def _replay(session: AsyncSession, idempotency_key: str, fingerprint: str) -> Accepted | None:
    """The batch stored earlier under this key if it had the same body; 409 if another; None if none."""
    earlier = (
        await session.execute(
            select(IngestBatch.id, IngestBatch.status, IngestBatch.body_hash).where(
                IngestBatch.idempotency_key == idempotency_key
            )
        )
    ).first()
    if earlier is None:
        return None
    if earlier.body_hash != fingerprint:
        raise Conflict(
            f"Idempotency key {idempotency_key!r} was used for a different batch ({earlier.id}).",
            batch_id=str(earlier.id),
        )
    return Accepted(earlier.id, earlier.status, False)


async def get_batch(session: AsyncSession, *, batch_id: uuid.UUID) -> IngestBatch:
    """One batch, without loading its points."""
    batch = await session.scalar(
        select(IngestBatch).where(IngestBatch.id == batch_id).options(defer_column(IngestBatch.point_rows))
    )
    if batch is None:
        raise NotFound(f"No ingest batch {batch_id}.")
    return batch


async def list_batches(session: AsyncSession, *, page: PageParams, status: BatchStatus | None, source: str | None):
    """The organisation's batches, oldest first."""
    stmt = select(IngestBatch).options(defer_column(IngestBatch.point_rows))
    if status is not None:
        stmt = stmt.where(IngestBatch.status == status)
    if source is not None:
        stmt = stmt.where(IngestBatch.source == source)
    return await fetch_page(session, stmt, IngestBatch.id, page)
