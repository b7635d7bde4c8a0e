"""`make bench`: ingestion throughput on Postgres, as ratios to the raw limit measured in the same run.

limit    = asyncpg COPY of the points into a logged table with the same key as metric_points
pipeline = the worker job on a stored batch: COPY of its stored rows, collapse, merge (ON CONFLICT), roll-ups,
           changed-KPI lookup, batch bookkeeping — one transaction, as in production
naive    = one INSERT … ON CONFLICT per point (what the design rules out), on a smaller sample
"""

import argparse
import asyncio
import json
import os
import time
import uuid
from datetime import date, timedelta
from decimal import Decimal

import asyncpg

from shared.db.engine import make_database
from shared.ingest.pipeline import process_batch
from shared.ingest.points import Mode, Point
from shared.jobs.queue import InProcessQueue
from shared.metrics.keys import dims_key
from shared.metrics.partitions import ensure_months
from shared.settings import Settings
from tests.ingest_support import bench_org, store_batch
from tests.support import migrate, recreate_pg_database

URL = os.environ.get("BENCH_DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/kpi_bench")
METRICS = ("spend", "impressions", "clicks", "conversions")


def make_points(n: int, offset: int = 0) -> list[Point]:
    """n snapshot points: 4 metrics × campaigns × days, like a month of ad-platform reports."""
    per_day = len(METRICS) * 100
    return [
        Point(
            METRICS[i % len(METRICS)],
            Decimal(i % 997) + Decimal("0.25"),
            date(2026, 1, 1) + timedelta(days=(i + offset) // per_day % 3000),
            {"channel": "meta", "campaign": f"c{(i // len(METRICS)) % 100}"},
            Mode.snapshot,
        )
        for i in range(n)
    ]


async def copy_limit(dsn: str, points: list[Point], org_id: uuid.UUID) -> float:
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("DROP TABLE IF EXISTS bench_copy")
        await conn.execute("CREATE TABLE bench_copy (LIKE metric_points INCLUDING ALL)")
        records = [
            (
                org_id,
                p.metric,
                p.day,
                dims_key(p.dimensions),
                "bench",
                json.dumps(p.dimensions),
                p.value,
                datetime_now(),
                uuid.uuid4(),
            )
            for p in points
        ]
        columns = ["org_id", "metric_key", "day", "dims_key", "source", "dimensions", "value", "updated_at", "batch_id"]
        started = time.perf_counter()
        await conn.copy_records_to_table("bench_copy", records=records, columns=columns)
        elapsed = time.perf_counter() - started
        await conn.execute("DROP TABLE bench_copy")
        return len(points) / elapsed
    finally:
        await conn.close()


def datetime_now():
    from datetime import UTC, datetime

    return datetime.now(UTC)


async def pipeline_rate(db, settings: Settings, org_id: uuid.UUID, points: list[Point]) -> float:
    batch_id = await store_batch(db, org_id, points, source="bench")
    ctx = {"db": db, "settings": settings, "queue": InProcessQueue(settings=settings, db=db), "job_try": 1}
    started = time.perf_counter()
    result = await process_batch(ctx, batch_id=str(batch_id))
    elapsed = time.perf_counter() - started
    assert result.get("points") == len(points), result
    return len(points) / elapsed


async def naive_rate(db, dsn: str, points: list[Point], org_id: uuid.UUID) -> float:
    async with db.sessionmaker() as session:  # its month partitions, as the pipeline makes them (not timed)
        await ensure_months(session, min(p.day for p in points), max(p.day for p in points))
        await session.commit()
    conn = await asyncpg.connect(dsn)
    try:
        started = time.perf_counter()
        async with conn.transaction():
            for p in points:
                await conn.execute(
                    "INSERT INTO metric_points (org_id, metric_key, day, dims_key, source, dimensions, value, "
                    "updated_at, batch_id) VALUES ($1, $2, $3, $4, 'naive', $5, $6, now(), $7) "
                    "ON CONFLICT (org_id, metric_key, day, dims_key, source) DO UPDATE SET value = excluded.value",
                    org_id,
                    p.metric,
                    p.day,
                    dims_key(p.dimensions),
                    json.dumps(p.dimensions),
                    p.value,
                    uuid.uuid4(),
                )
        return len(points) / (time.perf_counter() - started)
    finally:
        await conn.close()


async def main(n: int, naive_n: int) -> None:
    await recreate_pg_database(URL)
    await migrate(URL, ("upgrade", "head"))
    settings = Settings(database_url=URL, redis_url=None)
    db = make_database(settings)
    dsn = URL.replace("postgresql+asyncpg://", "postgresql://")
    try:
        org_id = await bench_org(db, "bench")
        points = make_points(n)
        limit = await copy_limit(dsn, points, org_id)
        fresh = await pipeline_rate(db, settings, org_id, points)
        restated = await pipeline_rate(db, settings, org_id, points)  # every key exists: all replaced
        naive = await naive_rate(db, dsn, make_points(naive_n, offset=10**7), org_id)
        await db.engine.dispose()
    finally:
        await db.dispose()
    print(f"points per batch: {n:,} (naive sample: {naive_n:,})")
    rows = [
        ("limit     asyncpg COPY into a logged table, same key", limit),
        ("pipeline  new keys (stage, merge, roll-ups, job)", fresh),
        ("pipeline  restated (every key replaced)", restated),
        ("naive     one INSERT … ON CONFLICT per point", naive),
    ]
    for label, rate in rows:
        print(f"{label:<52}: {rate:>10,.0f} points/s  ({rate / limit:.3f} of limit)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--points", type=int, default=100_000)
    parser.add_argument("--naive-points", type=int, default=5_000)
    args = parser.parse_args()
    asyncio.run(main(args.points, args.naive_points))
