"""Accepting metric batches: validate everything in the request, store the batch durably, then enqueue."""

import hashlib
import json
import uuid
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import defer as defer_column

from services.api.pagination import PageParams, fetch_page
from services.api.problems import Conflict, NotFound, PayloadTooLarge, Unprocessable
from shared.ingest.models import BatchStatus, IngestBatch
from shared.ingest.pipeline import PROCESS_JOB, encode_points, process_job_id
from shared.ingest.points import Point
from shared.jobs.queue import defer
from shared.kpis.models import MetricDefinition

EARLIEST_DAY = date(2000, 1, 1)
FUTURE_TOLERANCE = timedelta(days=1)


def body_hash(raw: bytes) -> str:
    """The fingerprint idempotency compares: canonical JSON, so key order and spacing do not matter."""
    try:
        canonical = json.dumps(json.loads(raw), sort_keys=True, separators=(",", ":")).encode()
    except ValueError:
        canonical = raw
    return hashlib.sha256(canonical).hexdigest()


def check_size(points_count: int, limit: int) -> None:
    if points_count > limit:
        raise PayloadTooLarge(f"A batch may carry at most {limit} points; this one has {points_count}. Split it.")


async def validate_points(session, points: list[Point], locations: list[str]) -> None:
    """The whole batch is checked before anything is stored: known metrics, sane days."""
    known = set(
        await session.scalars(select(MetricDefinition.key).where(MetricDefinition.key.in_({p.metric for p in points})))
    )
    latest = (datetime.now(UTC) + FUTURE_TOLERANCE).date()
    errors = []
    unknown = sorted({p.metric for p in points} - known)
    for point, where in zip(points, locations, strict=True):
        if point.metric not in known:
            errors.append({"location": f"{where}.metric", "message": f"unknown metric {point.metric!r}"})
        if point.day < EARLIEST_DAY or point.day > latest:
            errors.append(
                {"location": f"{where}.timestamp", "message": f"{point.day} is not between {EARLIEST_DAY} and {latest}"}
            )
        if len(errors) >= 50:
            break
    if errors:
        detail = f"Unknown metrics: {', '.join(unknown)}. " if unknown else ""
        raise Unprocessable(
            f"{detail}{errors[0]['location']}: {errors[0]['message']}",
            errors=errors,
            unknown_metrics=unknown,
        )


async def accept_batch(
    session,
    *,
    source: str,
    points: list[Point],
    locations: list[str],
    idempotency_key: str | None,
    fingerprint: str,
    by_key_id: uuid.UUID,
) -> tuple[IngestBatch, bool]:
    """Store the batch as pending and ask for its processing after commit; (batch, created)."""
    if idempotency_key is not None:
        earlier = await session.scalar(select(IngestBatch).where(IngestBatch.idempotency_key == idempotency_key))
        if earlier is not None:
            if earlier.body_hash != fingerprint:
                raise Conflict(
                    f"Idempotency key {idempotency_key!r} was used for a different batch ({earlier.id}).",
                    batch_id=str(earlier.id),
                )
            return earlier, False
    await validate_points(session, points, locations)
    batch = IngestBatch(
        source=source,
        idempotency_key=idempotency_key,
        body_hash=fingerprint,
        status=BatchStatus.pending,
        points=encode_points(points),
        point_count=len(points),
        enqueues=1,
        by_key_id=by_key_id,
    )
    session.add(batch)
    await session.flush()
    defer(session, PROCESS_JOB, job_id=process_job_id(batch.id, 1), batch_id=str(batch.id))
    return batch, True


async def get_batch(session, *, batch_id: uuid.UUID) -> IngestBatch:
    """One batch, without loading its points."""
    batch = await session.scalar(
        select(IngestBatch).where(IngestBatch.id == batch_id).options(defer_column(IngestBatch.points))
    )
    if batch is None:
        raise NotFound(f"No ingest batch {batch_id}.")
    return batch


async def list_batches(session, *, page: PageParams, status: BatchStatus | None, source: str | None):
    """The organisation's batches, oldest first."""
    stmt = select(IngestBatch).options(defer_column(IngestBatch.points))
    if status is not None:
        stmt = stmt.where(IngestBatch.status == status)
    if source is not None:
        stmt = stmt.where(IngestBatch.source == source)
    return await fetch_page(session, stmt, IngestBatch.id, page)
