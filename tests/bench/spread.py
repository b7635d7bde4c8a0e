"""How jobs spread over arq workers, and what a second worker buys (issue 15): the topology of tests/test_topology.py
(two uvicorn APIs, N workers, one Redis queue, one Postgres database, three organisations), with the whole load queued
first and the workers started together — a burst, the case where one worker can claim everything before another
polls — for several WORKER_MAX_JOBS values. Prints each worker's share of the merges and the time to drain the burst;
figures in test-artifacts/spread.txt.

    .venv/bin/python -m tests.bench.spread        (BENCH_DATABASE_URL, BENCH_REDIS_URL as the other benches)
"""

import asyncio
import os

from tests import support
from tests.topology import Load, Topology, describe, run, spread, write_figures

URL = os.environ.get("BENCH_DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/kpi_bench_spread")
REDIS = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
# (workers, WORKER_MAX_JOBS); the default is 4 (shared/settings.py).
ROUNDS = [(1, 4), (2, 20), (2, 8), (2, 4), (2, 1)]


async def main() -> None:
    await support.recreate_pg_database(URL)
    await support.migrate(URL, ("upgrade", "head"))
    load = Load(batches=int(os.environ.get("SPREAD_BATCHES", "300")), repeats=0)
    lines = [
        f"burst: {load.batches} batches of {load.per_batch * 6} points over {load.orgs} organisations queued, then "
        "the workers started together; two APIs"
    ]
    for workers, max_jobs in ROUNDS:
        topology = Topology(URL, REDIS, workers=workers, worker_env={"WORKER_MAX_JOBS": str(max_jobs)})
        try:
            outcome = await run(topology, load, burst=True)
        finally:
            topology.stop()
        assert outcome.statuses == {"done": load.batches} and not outcome.daily_wrong, "the round went wrong"
        lines.append(f"{workers} worker(s), WORKER_MAX_JOBS={max_jobs}: burst drained in {outcome.seconds:.1f} s")
        lines += ["  " + line for line in describe(spread(outcome.workers))]
        print("\n".join(lines[-1 - workers :]), flush=True)
    write_figures(support.ARTIFACTS / "spread.txt", lines)


if __name__ == "__main__":
    asyncio.run(main())
