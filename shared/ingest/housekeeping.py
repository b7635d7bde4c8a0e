"""Housekeeping crons of the metric store and of ingestion: the month partitions made ahead of the data (Postgres),
and the stored points of old batches cleared after their retention (both backends)."""

import logging
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from shared.ingest.models import BatchStatus, IngestBatch
from shared.jobs.context import JobContext, job_session
from shared.jobs.registry import HOUR_S, cron_job
from shared.metrics.partitions import ensure_months, month_of, next_month

log = logging.getLogger(__name__)
# Batches whose points are cleared per transaction, and transactions per run at most (a backlog after the
# retention is first lowered is worked off over a few runs, in transactions that each hold few row locks).
CLEAR_CHUNK = 1000
CLEAR_CHUNKS_PER_RUN = 100


@cron_job(name="metrics.ensure_partitions", every_s=HOUR_S)
async def ensure_partitions(ctx: JobContext) -> int:
    """Postgres: create the month partitions of the metric tables for this month (UTC) and the
    METRIC_PARTITION_MONTHS_AHEAD months after it, if missing, so merges of current data never create one. The
    number created (none on SQLite, and once the months exist)."""
    if ctx["db"].engine.dialect.name != "postgresql":
        return 0
    first = last = month_of(datetime.now(UTC).date())
    for _ in range(ctx["settings"].metric_partition_months_ahead):
        last = next_month(last)
    async with job_session(ctx) as session:
        created = await ensure_months(session, first, last)
    if created:
        log.info("created month partitions %s", ", ".join(created))
    return len(created)


@cron_job(name="ingest.clear_batch_points", every_s=HOUR_S)
async def clear_batch_points(ctx: JobContext) -> int:
    """Clear the stored points of done and failed batches accepted more than INGEST_BODY_RETENTION_DAYS ago,
    CLEAR_CHUNK batches per transaction; the number cleared. A batch keeps its status, counts and everything but
    its points: what it merged stays in the metric store, and it can no longer be merged again."""
    now = datetime.now(UTC)
    before = now - timedelta(days=ctx["settings"].ingest_body_retention_days)
    cleared = 0
    for _ in range(CLEAR_CHUNKS_PER_RUN):
        async with job_session(ctx) as session:
            n = await clear_points(session, accepted_before=before, now=now, limit=CLEAR_CHUNK)
        cleared += n
        if n < CLEAR_CHUNK:
            break
    if cleared:
        log.info("cleared the stored points of %d batches accepted before %s", cleared, before.isoformat())
    return cleared


async def clear_points(session: AsyncSession, *, accepted_before: datetime, now: datetime, limit: int) -> int:
    """Clear the stored points of up to `limit` done or failed batches accepted before the given time, oldest first
    (the partial index of batches that still keep theirs); the number cleared. A batch another transaction holds
    (Postgres) is left to the next run."""
    oldest = (
        select(IngestBatch.id)
        .where(
            IngestBatch.point_rows.is_not(None),
            IngestBatch.created_at < accepted_before,
            IngestBatch.status.in_((BatchStatus.done, BatchStatus.failed)),
        )
        .order_by(IngestBatch.created_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    result = await session.execute(
        update(IngestBatch)
        .where(IngestBatch.id.in_(oldest))
        .values(point_rows=None, points_cleared_at=now)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)
