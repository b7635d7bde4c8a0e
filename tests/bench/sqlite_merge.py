"""The embedded-mode merge (SQLite, jobs in-process): is a push's merge time proportional to its size?

For each size, a batch is stored as the API stores it and run through the in-process queue as the API runs it
(`ingest.process_batch`: decode, stage, merge, roll-ups, changed KPIs, bookkeeping), first over new keys, then the
same points again (every key restated). Each figure is printed with its points/s and its ratio to the smallest
size's rate: a linear merge keeps the ratio near 1.00 as the batch grows, a quadratic one halves it per doubling.
`--statements` also prints each run's slowest SQL statements.

    python -m tests.bench.sqlite_merge [--sizes 10000,25000,50000,100000] [--statements]
"""

import argparse
import asyncio
import tempfile
import time
import uuid
from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

from sqlalchemy import event, func, select

from shared.db.engine import make_database
from shared.db.scoping import allow_all_orgs
from shared.ingest.points import Mode, Point
from shared.jobs.handles import PROCESS_BATCH
from shared.jobs.queue import InProcessQueue
from shared.metrics.models import MetricPoint
from shared.settings import Settings
from tests.ingest_support import bench_org, store_batch
from tests.support import migrate

METRICS = ("spend", "impressions", "clicks", "conversions")


def make_points(n: int) -> list[Point]:
    """n snapshot points: 4 metrics × 100 campaigns per day, over as many days as it takes (like tests.bench.ingest)."""
    per_day = len(METRICS) * 100
    return [
        Point(
            METRICS[i % len(METRICS)],
            Decimal(i % 997) + Decimal("0.25"),
            date(2020, 1, 1) + timedelta(days=i // per_day),
            {"channel": "meta", "campaign": f"c{(i // len(METRICS)) % 100}"},
            Mode.snapshot,
        )
        for i in range(n)
    ]


class StatementTimer:
    """Wall time per SQL statement text on the engine (summed over executemany)."""

    def __init__(self, engine) -> None:
        self.totals: dict[str, float] = defaultdict(float)
        event.listen(engine.sync_engine, "before_cursor_execute", self._before)
        event.listen(engine.sync_engine, "after_cursor_execute", self._after)

    def _before(self, _conn, _cursor, statement, _params, context, _executemany) -> None:
        context._bench_started = time.perf_counter()

    def _after(self, _conn, _cursor, statement, _params, context, _executemany) -> None:
        self.totals[" ".join(statement.split())[:110]] += time.perf_counter() - context._bench_started

    def take(self, top: int = 6) -> list[tuple[float, str]]:
        out = sorted(((t, s) for s, t in self.totals.items()), reverse=True)[:top]
        self.totals.clear()
        return out


async def run_batch(db, queue: InProcessQueue, org_id: uuid.UUID, points: list[Point]) -> tuple[float, dict]:
    batch_id = await store_batch(db, org_id, points, source="bench")
    started = time.perf_counter()
    job_id = await PROCESS_BATCH.enqueue(queue, job_id=f"ingest:{batch_id}:1", batch_id=str(batch_id))
    result = await queue.result(job_id, timeout_s=3600)
    elapsed = time.perf_counter() - started
    assert result.get("points") == len(points), result
    return elapsed, result


async def main(sizes: list[int], statements: bool) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite+aiosqlite:///{Path(tmp) / 'bench.sqlite3'}"
        await migrate(url, ("upgrade", "head"))
        settings = Settings(database_url=url, redis_url=None, run_crons=False)
        db = make_database(settings)
        queue = InProcessQueue(settings=settings, db=db)
        timer = StatementTimer(db.engine) if statements else None
        results: list[tuple[int, str, float, dict]] = []
        try:
            for n in sizes:
                # One organisation per size: its keys are new, whatever ran before (the tables keep growing,
                # as they do in service).
                org_id = await bench_org(db, f"bench {n}")
                points = make_points(n)
                for label in ("new keys", "restated"):
                    elapsed, result = await run_batch(db, queue, org_id, points)
                    results.append((n, label, elapsed, result))
                    print(f"{n:>8,} points  {label:<9}: {elapsed:7.2f} s  {n / elapsed:>9,.0f} points/s", flush=True)
                    if timer:
                        for t, sql in timer.take():
                            print(f"{'':>20}{t:7.3f} s  {sql}")
            async with db.sessionmaker() as session:
                allow_all_orgs(session)
                stored = await session.scalar(select(func.count()).select_from(MetricPoint))
            assert stored == sum(sizes), (stored, sum(sizes))
        finally:
            await queue.close()
            await db.dispose()
    print()
    print("size      run        points/s   ratio to the smallest size's rate (1.00 = linear)")
    base = {label: n / t for n, label, t, _ in results if n == sizes[0]}
    for n, label, elapsed, result in results:
        rate = n / elapsed
        counts = f"inserted {result['inserted']:,} replaced {result['replaced']:,}"
        print(f"{n:>8,}  {label:<9}  {rate:>9,.0f}   {rate / base[label]:.2f}   ({counts})")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10000,25000,50000,100000", help="comma-separated batch sizes")
    parser.add_argument("--statements", action="store_true", help="print each run's slowest SQL statements")
    args = parser.parse_args()
    asyncio.run(main([int(s) for s in args.sizes.split(",")], args.statements))
