"""The ingestion jobs: process one batch (durable, idempotent, bulk), and sweep batches left behind."""

import logging
import random
import time
import uuid
from datetime import UTC, date, datetime, timedelta

from arq import Retry
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import defer as defer_column

from shared.alerts.evaluate import evaluate_now_or_later
from shared.ingest.merge import lock_org_merges, merge_rows, org_merge_busy, write_transaction
from shared.ingest.models import BatchErrorCode, BatchStatus, IngestBatch
from shared.ingest.rows import day_span
from shared.jobs.context import JobContext, job_session
from shared.jobs.handles import CHECK_OVERSPEND, PROCESS_BATCH
from shared.jobs.registry import cron_job, job
from shared.jobs.retry import FOREVER_TRIES, backoff_s, retry_if_transient
from shared.kpis.models import KpiMetric
from shared.metrics.partitions import ensure_months
from shared.telemetry import INGEST_BATCHES, INGEST_LATENCY, INGEST_POINTS
from shared.webhooks.events import emit
from shared.webhooks.models import EventType

log = logging.getLogger(__name__)
# A fault that is neither an outage nor a concurrent writer (those are retried for as long as they last) is tried
# this many times (counted on the batch, `defects`) before the batch is marked failed: it is a defect, and the batch
# keeps its points for a re-run.
DEFECT_TRIES = 3
# When the organisation's merge lock is taken, the job steps aside for this long (seconds, jittered) and is retried.
LOCK_BUSY_DEFER_S = (0.2, 1.0)
# A job that merged its batch goes on with the organisation's other pending batches (`_drain`), this many at most,
# for this long at most (seconds): a burst merges back to back, and the worker slot is not held indefinitely.
DRAIN_BATCHES = 20
DRAIN_S = 10.0
FAILED_MESSAGE = (
    "The batch could not be merged because of an error on our side (logged with this batch's id); its points are "
    "kept. Nothing in the data you sent caused it: data we cannot store is refused with a 422 when pushed."
)

POINTS_CLEARED_MESSAGE = (
    "The batch was asked to merge again, but its stored points were cleared {days} days after it was accepted "
    "(INGEST_BODY_RETENTION_DAYS), so nothing is left to merge. Whatever it merged before is still in the metric "
    "store; push the points again to merge them again."
)


def process_job_id(batch_id: uuid.UUID, enqueues: int) -> str:
    """A new id per enqueue: arq ignores an id it still keeps a result for, so re-enqueues need their own."""
    return f"ingest:{batch_id}:{enqueues}"


@job(PROCESS_BATCH, max_tries=FOREVER_TRIES)
async def process_batch(ctx: JobContext, *, batch_id: str) -> dict:
    """Merge a batch's points into metric_points and the roll-ups, and record which KPIs changed.

    A 202 is a promise: a transient fault (`shared.db.faults`: Postgres or Redis down, a deadlock) is retried with
    backoff for as long as it lasts; anything else is retried DEFECT_TRIES times, then the batch is `failed` with a
    stable code and a plain message (the exception, with its SQL, goes to the log only)."""
    batch_uuid = uuid.UUID(batch_id)
    try:
        async with job_session(ctx) as session:
            await write_transaction(session)
            batch = await session.scalar(
                select(IngestBatch)
                .where(IngestBatch.id == batch_uuid)
                .options(defer_column(IngestBatch.point_rows))  # the points are read once, below
                .with_for_update()
            )
            if batch is None or batch.status in (BatchStatus.done, BatchStatus.failed):
                return {"batch_id": batch_id, "skipped": True}
            if await org_merge_busy(session, batch.org_id):
                # Another of the organisation's batches is merging: give the worker slot back to other
                # organisations' jobs and come back shortly, rather than wait on the lock holding a slot.
                raise Retry(defer=random.uniform(*LOCK_BUSY_DEFER_S))  # noqa: S311 - jitter
            batch.status, batch.started_at = BatchStatus.processing, datetime.now(UTC)
            batch.attempts += 1
            org_id = batch.org_id
            days = await _batch_days(session, batch)
        await _ensure_partitions(ctx, days)
        result = await _merge(ctx, batch_uuid, org_id)
        if result is None:
            return {"batch_id": batch_id, "skipped": True}
    except Retry:
        raise
    except Exception as exc:
        retry_if_transient(exc, ctx, f"batch {batch_id}")
        try:
            failed = await _record_defect(ctx, batch_uuid)
        except Exception as again:
            retry_if_transient(again, ctx, f"batch {batch_id}")
            raise
        if failed is None:  # another run finished the batch meanwhile
            return {"batch_id": batch_id, "skipped": True}
        if not failed:
            log.exception("batch %s hit a fault that is not transient; trying again", batch_id)
            raise Retry(defer=backoff_s(ctx.get("job_try", 1))) from exc
        log.exception("batch %s hit a fault that is not transient %d times; marked failed", batch_id, DEFECT_TRIES)
        INGEST_BATCHES.labels("failed").inc()
        return {"batch_id": batch_id, "failed": True}
    return {**result, "drained": await _drain(ctx, org_id)}


async def _batch_days(session: AsyncSession, batch: IngestBatch) -> tuple[date, date] | None:
    """The batch's first and last day: kept on the batch since migration 0015, else read from its stored rows (None
    when they were cleared)."""
    if batch.first_day is not None and batch.last_day is not None:
        return batch.first_day, batch.last_day
    rows = await session.scalar(select(IngestBatch.point_rows).where(IngestBatch.id == batch.id))
    return None if rows is None else day_span(rows)


async def _ensure_partitions(ctx: JobContext, days: tuple[date, date] | None) -> None:
    """Postgres: the month partitions the batch writes into exist (a backfill may reach before the earliest), made
    in a short transaction of its own: creating one locks its parent table, which must never happen inside the
    merge's transaction (it holds the organisation's lock and its rows' locks for a second or more)."""
    if days is None or ctx["db"].engine.dialect.name != "postgresql":
        return
    async with job_session(ctx) as session:
        created = await ensure_months(session, *days)
    if created:
        log.info("created month partitions %s", ", ".join(created))


async def _merge(ctx: JobContext, batch_id: uuid.UUID, org_id: uuid.UUID) -> dict | None:
    """Merge one batch marked `processing`; what it did, or None when it is no longer `processing` (a drain or its
    own job, whichever came second)."""
    async with job_session(ctx, run_inline=True) as session:
        # The organisation's merge lock before the batch's status is read: SQLite has no row locks, and two runs of one
        # batch (its job and a drain) must not both find it `processing`.
        await lock_org_merges(session, org_id)
        # The merge and the `done` mark commit together: a crash in between leaves nothing half-applied.
        batch = await session.scalar(select(IngestBatch).where(IngestBatch.id == batch_id).with_for_update())
        if batch is None or batch.status != BatchStatus.processing:
            return None
        if batch.point_rows is None:
            # Its points were cleared by the retention (INGEST_BODY_RETENTION_DAYS), which only clears done and
            # failed batches: someone set it back to pending. Nothing is left to merge; it fails, saying why.
            message = POINTS_CLEARED_MESSAGE.format(days=ctx["settings"].ingest_body_retention_days)
            await _fail(session, batch, BatchErrorCode.points_cleared, message)
            log.warning("batch %s was asked to merge again after its points were cleared; marked failed", batch_id)
            INGEST_BATCHES.labels("failed").inc()
            return {"batch_id": str(batch_id), "failed": True, "error_code": BatchErrorCode.points_cleared.value}
        counts, spans = await merge_rows(
            session,
            org_id=batch.org_id,
            source=batch.source,
            batch_id=batch.id,
            point_rows=batch.point_rows,
            repeats=batch.key_count is None or batch.key_count < batch.point_count,
        )
        batch.changed_kpis = await changed_kpis(session, batch.org_id, spans)
        if "spend" in spans:
            CHECK_OVERSPEND.defer(session, job_id=f"overspend:{batch.id}", org_id=str(batch.org_id))
        if batch.changed_kpis:
            # Exactly the KPIs (and days) the batch changed: evaluated here, committed with the merge, when they
            # are few; otherwise by a job after this commit.
            await evaluate_now_or_later(
                session,
                ctx["settings"],
                org_id=str(batch.org_id),
                changed_kpis=batch.changed_kpis,
                job_id=f"eval:{batch.id}",
            )
        batch.inserted, batch.replaced, batch.incremented = counts.inserted, counts.replaced, counts.incremented
        batch.superseded = counts.superseded
        batch.status, batch.finished_at = BatchStatus.done, datetime.now(UTC)
        accepted_at, point_count = batch.created_at, batch.point_count
    INGEST_POINTS.inc(point_count)
    INGEST_BATCHES.labels("done").inc()
    INGEST_LATENCY.observe((datetime.now(UTC) - accepted_at).total_seconds())
    return {"batch_id": str(batch_id), "points": point_count, **counts.__dict__}


async def _drain(ctx: JobContext, org_id: uuid.UUID) -> int:
    """After its own batch, a job merges the organisation's other pending batches, oldest first (at most
    DRAIN_BATCHES, for at most DRAIN_S): a burst of one organisation's batches is merged back to back by the worker
    that holds its turn, instead of each job finding the lock taken, stepping aside for up to a second and leaving
    the database idle meanwhile. The drained batches' own jobs then find them done. Any fault stops the drain and
    leaves the batch to its own job (a batch it marked `processing` is taken up by that job, or by the sweeper)."""
    drained, deadline = 0, time.monotonic() + DRAIN_S
    while drained < DRAIN_BATCHES and time.monotonic() < deadline:
        try:
            async with job_session(ctx) as session:
                await write_transaction(session)
                if await org_merge_busy(session, org_id):
                    break  # another worker merges this organisation now: it drains too
                batch = await session.scalar(
                    select(IngestBatch)
                    .where(IngestBatch.org_id == org_id, IngestBatch.status == BatchStatus.pending)
                    .options(defer_column(IngestBatch.point_rows))
                    .order_by(IngestBatch.created_at, IngestBatch.id)
                    .limit(1)
                    .with_for_update(skip_locked=True)
                )
                if batch is None:
                    break
                batch.status, batch.started_at = BatchStatus.processing, datetime.now(UTC)
                batch.attempts += 1
                next_id = batch.id
                days = await _batch_days(session, batch)
            await _ensure_partitions(ctx, days)
            if await _merge(ctx, next_id, org_id) is None:
                break
        except Exception:
            log.warning("draining organisation %s stopped; the batch's own job merges it", org_id, exc_info=True)
            break
        drained += 1
    return drained


async def _record_defect(ctx: JobContext, batch_id: uuid.UUID) -> bool | None:
    """Count a fault that is not transient against the batch (its own transaction, so outage retries never count);
    the DEFECT_TRIES-th marks it failed with a stable code and a plain message and emits ingest.batch_failed.
    True: failed now; False: to be tried again; None: the batch is no longer pending or processing."""
    async with job_session(ctx) as session:
        batch = await session.scalar(
            select(IngestBatch)
            .where(IngestBatch.id == batch_id)
            .options(defer_column(IngestBatch.point_rows))
            .with_for_update()
        )
        if batch is None or batch.status not in (BatchStatus.pending, BatchStatus.processing):
            return None
        batch.defects += 1
        if batch.defects < DEFECT_TRIES:
            return False
        await _fail(session, batch, BatchErrorCode.internal_error, FAILED_MESSAGE)
        return True


async def _fail(session: AsyncSession, batch: IngestBatch, code: BatchErrorCode, message: str) -> None:
    """Mark the batch failed with a stable code and a plain message, and emit ingest.batch_failed."""
    batch.status, batch.error_code, batch.error = BatchStatus.failed, code.value, message
    batch.finished_at = datetime.now(UTC)
    await emit(
        session,
        org_id=batch.org_id,
        type_=EventType.ingest_batch_failed,
        subject=f"batch:{batch.id}",
        data={
            "batch": {
                "id": str(batch.id),
                "source": batch.source,
                "points": batch.point_count,
                "error_code": code.value,
                "error": message,
                "received_at": batch.created_at.isoformat(),
            }
        },
    )


async def changed_kpis(
    session: AsyncSession, org_id: uuid.UUID, span: dict[str, tuple[date, date]]
) -> dict[str, list[str]]:
    """{kpi_id: [first_day, last_day]} of the KPIs whose formulas read a metric the batch touched, from each metric's
    first and last day in the batch."""
    rows = await session.execute(
        select(KpiMetric.kpi_id, KpiMetric.metric_key).where(KpiMetric.org_id == org_id, KpiMetric.metric_key.in_(span))
    )
    changed: dict[str, list[date]] = {}
    for kpi_id, metric in rows:
        first, last = span[metric]
        current = changed.setdefault(str(kpi_id), [first, last])
        changed[str(kpi_id)] = [min(current[0], first), max(current[1], last)]
    return {k: [d.isoformat() for d in v] for k, v in changed.items()}


@cron_job(name="ingest.sweep_batches", every_s=30)
async def sweep_batches(ctx: JobContext) -> int:
    """Re-enqueue batches nobody is processing: pending past the grace time (the enqueue after commit
    failed, or Redis lost the job), or processing for longer than a job may run (the worker died).

    A batch whose job is still in the queue (waiting its turn in a backlog, deferred for a retry, or held by a
    killed worker until arq runs it again) is left to that job: enqueueing another would only run it twice."""
    settings, queue, now = ctx["settings"], ctx["queue"], datetime.now(UTC)
    pending_before = now - timedelta(seconds=settings.ingest_pending_grace_s)
    stuck_after = now - timedelta(seconds=settings.job_timeout_s + 60)
    async with job_session(ctx) as session:
        candidates = (
            await session.scalars(
                select(IngestBatch)
                .where(
                    ((IngestBatch.status == BatchStatus.pending) & (IngestBatch.created_at < pending_before))
                    | ((IngestBatch.status == BatchStatus.processing) & (IngestBatch.started_at < stuck_after))
                )
                .options(defer_column(IngestBatch.point_rows))
                .order_by(IngestBatch.created_at)
                .limit(500)
                .with_for_update(skip_locked=True)
            )
        ).all()
        jobs = {b.id: process_job_id(b.id, b.enqueues) for b in candidates}
        queued = await queue.waiting(list(jobs.values()))
        stale = [b for b in candidates if jobs[b.id] not in queued]
        for batch in stale:
            batch.enqueues += 1
            if batch.status == BatchStatus.processing:
                batch.status = BatchStatus.pending
    for batch in stale:
        await PROCESS_BATCH.enqueue(queue, job_id=process_job_id(batch.id, batch.enqueues), batch_id=str(batch.id))
    if stale:
        log.info("re-enqueued %d batches", len(stale))
    return len(stale)


async def batch_counts(session: AsyncSession) -> dict[str, int]:
    """Batches by status (for /metrics)."""
    rows = await session.execute(select(IngestBatch.status, func.count()).group_by(IngestBatch.status))
    return {status.value: n for status, n in rows}
