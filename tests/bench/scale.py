"""`make bench` (scale): the scale issue's two tables, measured as an outside client on Postgres + Redis, each figure
with its growth ratio (JSON in test-artifacts/bench-scale.json). `python -m tests.bench.scale [--quick]`.

1. Reads against history. One organisation, 5 KPIs (spend, clicks, CPC = spend / clicks, conversions, CPA on
   {"channel": "meta"}), each with a target for the last full month. `metric_daily` is grown to each size (default
   1M, 2M, 4M rows: 1,000 campaigns x 250 / 500 / 1,000 days x 4 metrics, dimensions {"campaign", "channel": one of
   3}, the history growing backwards from the last full month; with `--grow campaigns`, 1,000 days x 250 / 500 /
   1,000 campaigns instead, so that each read's range holds 4x the rows at 4M), checked with
   `SELECT count(*) FROM metric_daily`.
   Seeded through the ingest pipeline's own functions, in this process: batches of ~100,000 points built as the API
   stores them (`shared.ingest.rows.RowsWriter`), accepted by the API's service function
   (`services.api.ingest.service.accept_batch`, which validates them as a push is) and merged by the worker's job
   function (`shared.ingest.pipeline.process_batch`, with a job context like the worker's: its jobs go to Redis
   and a real arq worker runs them). The database is then `VACUUM ANALYZE`d, so every size is read from settled
   tables, whatever the seeding left. Then, through HTTP to a uvicorn API process, the p50 of 20 calls each of
   `GET /v1/kpis/{CPC}/values` over the month (grain day) and over the 12 months to its end (grain day, and grain
   month), and `GET /v1/reports/scorecard?period=<month>`. A figure whose call takes more than --slow-s seconds
   is measured over --slow-calls calls only (the table says how many calls each p50 has).
2. Scheduled re-evaluation. For each number of organisations (default 25, 100, 400), each with K = 20 KPIs (10
   formulas, unfiltered and on {"channel": "meta"}), one target each on custom dates around today (so active),
   set so that every KPI is on track and stays so, and 14 days of data (2 campaigns x 4 metrics), all created
   through the API (the pushes merged by a real worker, which is stopped before the timing so that its own cron
   does not run alongside). The cron function `kpis.evaluate_active` is then called here with a job context like
   the worker's: once to settle (reported as the first run), then timed twice: a steady run (nothing moved since
   the last: what each tick of a day costs; only targets whose judgement may have moved are judged), and a new
   day's first run (every state's last judgement moved back a day first, so every target is judged again).
   Statements are counted by a `before_cursor_execute` listener on the engine. Growth exponent (of the new day's
   run) = log(t_last / t_first) / log(orgs_last / orgs_first): 1 is linear.

Databases: $BENCH_DATABASE_URL (default .../kpi_bench_scale) with `_reads` and `_eval` appended, dropped and
created anew; Redis: $BENCH_REDIS_URL, a queue of its own.
"""

import argparse
import asyncio
import json
import math
import os
import statistics
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import asyncpg
import httpx
from sqlalchemy import event

from services.api.ingest.service import accept_batch
from shared.alerts.evaluate import evaluate_active
from shared.db.engine import make_database
from shared.db.scoping import bind_org
from shared.ingest.pipeline import process_batch
from shared.ingest.rows import RowsWriter
from shared.jobs.queue import ArqQueue
from shared.metrics.keys import dims_key
from shared.settings import Settings
from tests import support
from tests.bench.e2e import start_server, stop, wait_all_done

BASE_URL = os.environ.get("BENCH_DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/kpi_bench_scale")
REDIS = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
TOKEN = "bench-platform-token"
JSON_OUT = support.ARTIFACTS / "bench-scale.json"
METRICS = ("spend", "clicks", "conversions", "impressions")
CHANNELS = ("meta", "google_ads", "tiktok")
BATCH_POINTS = 100_000
READ_KPIS = (  # name, formula, unit, direction, dimension filter
    ("Spend", "spend", "currency", "higher_is_better", None),
    ("Clicks", "clicks", "count", "higher_is_better", None),
    ("CPC", "spend / clicks", "currency", "lower_is_better", None),
    ("Conversions", "conversions", "count", "higher_is_better", None),
    ("CPA meta", "spend / conversions", "currency", "lower_is_better", {"channel": "meta"}),
)
EVAL_FORMULAS = (
    "spend",
    "clicks",
    "conversions",
    "impressions",
    "spend / clicks",
    "spend / conversions",
    "clicks / impressions",
    "conversions / clicks",
    "spend / impressions",
    "clicks + conversions",
)


def metric_value(metric: str, campaign: int) -> str:
    return str(
        {"spend": 10 + campaign % 7, "clicks": 20 + campaign % 11, "conversions": 1 + campaign % 5}.get(metric, 1000)
    )


def env_for(url: str, queue_name: str) -> dict[str, str]:
    return {
        "DATABASE_URL": url,
        "REDIS_URL": REDIS,
        "QUEUE_NAME": queue_name,
        "PLATFORM_TOKEN": TOKEN,
        "RUN_CRONS": "false",
        "LOG_LEVEL": "WARNING",
    }


async def fresh_database(url: str) -> str:
    await support.recreate_pg_database(url)
    await support.migrate(url, ("upgrade", "head"))
    return url.replace("postgresql+asyncpg://", "postgresql://")


async def settle_tables(dsn: str) -> None:
    """VACUUM ANALYZE the whole database: reads meet settled tables and fresh statistics, however they were filled."""
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("VACUUM ANALYZE")
    finally:
        await conn.close()


async def new_org(c: httpx.AsyncClient, name: str) -> tuple[uuid.UUID, uuid.UUID, dict[str, str]]:
    """POST /v1/orgs: the organisation's id, its admin key's id, and the headers that carry the key."""
    r = await c.post("/v1/orgs", json={"name": name}, headers={"X-Platform-Token": TOKEN})
    r.raise_for_status()
    body = r.json()
    key = body["api_key"]
    return uuid.UUID(body["org"]["id"]), uuid.UUID(key["id"]), {"Authorization": f"Bearer {key['key']}"}


async def new_kpi(c: httpx.AsyncClient, headers: dict[str, str], kpi: dict[str, Any], target: dict[str, Any]) -> str:
    r = await c.post("/v1/kpis", json={"category": "output", **kpi}, headers=headers)
    assert r.status_code == 201, r.text
    kpi_id = r.json()["id"]
    r = await c.post(f"/v1/kpis/{kpi_id}/targets", json=target, headers=headers)
    assert r.status_code == 201, r.text
    return kpi_id


async def wait_queue_idle(queue: ArqQueue, timeout_s: float = 300) -> None:
    """Until the arq queue holds no job (the worker has taken everything the setup deferred), plus a moment."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not await queue.redis.zcard(queue.queue_name):
            break
        await asyncio.sleep(0.2)
    await asyncio.sleep(1)


# ---------------------------------------------------------------- 1. reads against history


async def seed_days(
    ctx: dict[str, Any], org_id: uuid.UUID, key_id: uuid.UUID, campaign_numbers: range, days: list[date]
) -> None:
    """metric_daily rows for these days (every campaign, every metric): accepted and merged as a push would be."""
    dims = [dims_key({"campaign": f"c{i}", "channel": CHANNELS[i % len(CHANNELS)]}) for i in campaign_numbers]
    # Money carries its currency as the key's reserved dimension, as a push with `"currency": "USD"` stores it.
    money = [
        dims_key({"campaign": f"c{i}", "channel": CHANNELS[i % len(CHANNELS)], "currency": "USD"})
        for i in campaign_numbers
    ]
    campaigns = len(dims)
    per_batch = max(1, BATCH_POINTS // (campaigns * len(METRICS)))
    values = {m: [metric_value(m, i) for i in campaign_numbers] for m in METRICS}
    for start in range(0, len(days), per_batch):
        writer = RowsWriter("api")
        for day in days[start : start + per_batch]:
            iso = day.isoformat()
            for m in METRICS:
                keys = money if m == "spend" else dims
                writer.add([m] * campaigns, [iso] * campaigns, keys, values[m], ["snapshot"] * campaigns)
        rows = writer.finish()
        async with ctx["db"].sessionmaker() as session:
            bind_org(session, org_id)
            accepted = await accept_batch(
                session, source="api", rows=rows, points=list, idempotency_key=None, by_key_id=key_id
            )
            await session.commit()
        result = await process_batch(ctx, batch_id=str(accepted.batch_id))
        assert result.get("points") == rows.count, result


async def timed_calls(
    c: httpx.AsyncClient, url: str, headers: dict[str, str], calls: int, slow_s: float, slow_calls: int
) -> list[float]:
    """Seconds of each call; after `slow_calls` calls, a call slower than `slow_s` ends the series."""
    times: list[float] = []
    for _ in range(calls):
        started = time.perf_counter()
        r = await c.get(url, headers=headers)
        times.append(time.perf_counter() - started)
        assert r.status_code == 200, f"{url}: {r.status_code} {r.text[:300]}"
        if len(times) >= slow_calls and times[-1] > slow_s:
            break
    return times


async def reads(sizes: list[int], grow: str, fixed: int, calls: int, slow_s: float, slow_calls: int) -> dict[str, Any]:
    """`grow` "days": `fixed` campaigns, the history lengthened backwards; "campaigns": `fixed` days, campaigns
    added (a read's range then holds proportionally more rows)."""
    url = BASE_URL + "_reads"
    dsn = await fresh_database(url)
    queue_name = f"arq:bench-scale:{os.getpid()}"
    env = env_for(url, queue_name)
    settings = Settings(database_url=url, redis_url=REDIS, queue_name=queue_name)
    month_end = datetime.now(UTC).date().replace(day=1) - timedelta(days=1)  # history ends with the last full month
    month_start = month_end.replace(day=1)
    year_start = (month_start.replace(year=month_start.year - 1) + timedelta(days=31)).replace(day=1)
    worker = support.start_worker(env, f"{queue_name}:health-check", REDIS)
    api, api_url = await start_server("services.api.main:create_app", env, "scale-api")
    db = make_database(settings)
    queue = ArqQueue.from_settings(settings)
    ctx = {"settings": settings, "db": db, "queue": queue, "job_id": "bench-scale-seed", "job_try": 1}
    out: list[dict[str, Any]] = []
    try:
        async with httpx.AsyncClient(base_url=api_url, timeout=900) as c:
            org_id, key_id, headers = await new_org(c, "bench-scale")
            kpis = {}
            for name, formula, unit, direction, where in READ_KPIS:
                kpi = {"name": name, "formula": formula, "unit": unit, "direction": direction}
                if where:
                    kpi["dimension_filter"] = where
                target = {"period": month_start.strftime("%Y-%m"), "target_value": "1000"}
                kpis[name] = await new_kpi(c, headers, kpi, target)
            span = f"from={year_start}&to={month_end}"
            figures = {
                "values, a month (day)": f"/v1/kpis/{kpis['CPC']}/values?from={month_start}&to={month_end}&grain=day",
                "values, a year (day)": f"/v1/kpis/{kpis['CPC']}/values?{span}&grain=day",
                "values, a year (month)": f"/v1/kpis/{kpis['CPC']}/values?{span}&grain=month",
                "scorecard, a month": f"/v1/reports/scorecard?period={month_start.strftime('%Y-%m')}",
            }
            seeded = 0
            for size in sizes:
                grown = size // (fixed * len(METRICS))
                assert grown * fixed * len(METRICS) == size, f"{size:,} is not campaigns x days x 4 metrics"
                days, campaigns = (grown, fixed) if grow == "days" else (fixed, grown)
                started = time.perf_counter()
                if grow == "days":
                    new_days = [month_end - timedelta(days=d) for d in range(seeded, days)]
                    await seed_days(ctx, org_id, key_id, range(campaigns), new_days)
                else:
                    all_days = [month_end - timedelta(days=d) for d in range(days)]
                    await seed_days(ctx, org_id, key_id, range(seeded, campaigns), all_days)
                seeded = grown
                seed_s = time.perf_counter() - started
                await wait_queue_idle(queue)
                await settle_tables(dsn)
                conn = await asyncpg.connect(dsn)
                try:
                    count = await conn.fetchval("SELECT count(*) FROM metric_daily")
                finally:
                    await conn.close()
                assert count == size, f"metric_daily holds {count:,} rows, {size:,} intended"
                measured = {}
                for figure, path in figures.items():
                    times = await timed_calls(c, path, headers, calls, slow_s, slow_calls)
                    measured[figure] = {"p50_s": statistics.median(times), "calls": len(times), "times_s": times}
                out.append({"rows": size, "days": days, "campaigns": campaigns, "seed_s": seed_s, "figures": measured})
                print_reads(out, list(figures))
    finally:
        await queue.redis.aclose()
        await db.dispose()
        stop(api)
        support.stop_worker(worker)
    return {
        "month": [str(month_start), str(month_end)],
        "year": [str(year_start), str(month_end)],
        "sizes": out,
        "growth": {f: out[-1]["figures"][f]["p50_s"] / out[0]["figures"][f]["p50_s"] for f in figures} if out else {},
    }


def print_reads(out: list[dict[str, Any]], figures: list[str]) -> None:
    print("\nreads over HTTP, p50 (calls): campaigns x days x 4 metrics")
    print(f"{'metric_daily rows':>18} {'campaigns':>9} {'days':>5} " + " ".join(f"{f:>24}" for f in figures))
    for row in out:
        cells = [f"{row['figures'][f]['p50_s']:.3f} s ({row['figures'][f]['calls']})" for f in figures]
        print(f"{row['rows']:>18,} {row['campaigns']:>9,} {row['days']:>5} " + " ".join(f"{x:>24}" for x in cells))
    if len(out) > 1:
        first, last = out[0], out[-1]
        ratios = [f"x{last['figures'][f]['p50_s'] / first['figures'][f]['p50_s']:.2f}" for f in figures]
        label = f"growth {last['rows'] / 1e6:g}M/{first['rows'] / 1e6:g}M"
        print(f"{label:>34} " + " ".join(f"{x:>24}" for x in ratios), flush=True)


# ---------------------------------------------------------------- 2. scheduled re-evaluation


async def eval_org(c: httpx.AsyncClient, name: str, kpis: int, today: date) -> tuple[str, dict[str, str]]:
    """An organisation with `kpis` KPIs on track, each with an active target, and 14 days of data; its batch id."""
    _, _, headers = await new_org(c, name)
    target = {
        "start_date": str(today - timedelta(days=14)),
        "end_date": str(today + timedelta(days=14)),
        "target_value": "0.0001",
        "threshold_mode": "absolute",
        "warning": "0.00005",
        "critical": "0.00001",
        "pacing": "none",
    }
    for i in range(kpis):
        formula = EVAL_FORMULAS[i % len(EVAL_FORMULAS)]
        kpi: dict[str, Any] = {"name": f"k{i}", "formula": formula, "unit": "count", "direction": "higher_is_better"}
        if i // len(EVAL_FORMULAS) % 2:
            kpi["dimension_filter"] = {"channel": "meta"}
        await new_kpi(c, headers, kpi, target)
    points = [
        {
            "metric": m,
            "value": metric_value(m, campaign),
            "timestamp": f"{today - timedelta(days=d)}T00:00:00Z",
            "dimensions": {"campaign": f"c{campaign}", "channel": CHANNELS[campaign]},
            "mode": "snapshot",
        }
        for d in range(14)
        for campaign in range(2)
        for m in METRICS
    ]
    r = await c.post("/v1/ingest/metrics", json={"points": points, "currency": "USD"}, headers=headers)
    assert r.status_code == 202, r.text
    return r.json()["batch_id"], headers


async def evaluation(org_counts: list[int], kpis: int, concurrency: int) -> dict[str, Any]:
    url = BASE_URL + "_eval"
    dsn = await fresh_database(url)
    queue_name = f"arq:bench-scale-eval:{os.getpid()}"
    env = env_for(url, queue_name)
    settings = Settings(database_url=url, redis_url=REDIS, queue_name=queue_name)
    api, api_url = await start_server("services.api.main:create_app", env, "scale-eval-api")
    db = make_database(settings)
    queue = ArqQueue.from_settings(settings)
    ctx: Any = {"settings": settings, "db": db, "queue": queue, "job_id": "bench-scale-evaluate", "job_try": 1}
    statements = 0

    def count_statement(*_: Any) -> None:
        nonlocal statements
        statements += 1

    event.listen(db.engine.sync_engine, "before_cursor_execute", count_statement)
    out: list[dict[str, Any]] = []
    made = 0
    today = datetime.now(UTC).date()
    try:
        async with httpx.AsyncClient(base_url=api_url, timeout=300) as c:
            for n in org_counts:
                started = time.perf_counter()
                worker = support.start_worker(env, f"{queue_name}:health-check", REDIS)
                try:
                    await eval_orgs(c, range(made, n), kpis, today, concurrency)
                    await wait_queue_idle(queue)
                finally:
                    support.stop_worker(worker)  # its own evaluate_active cron must not run beside the timed one
                made = n
                setup_s = time.perf_counter() - started
                await settle_tables(dsn)
                runs = []
                # settle (states created, first statuses confirmed); steady (nothing moved since: what every tick of
                # a day costs); a new day (every target's last judgement moved back a day: the day's first tick,
                # when every target is judged again)
                for run in ("settle", "steady", "new day"):
                    if run == "new day":
                        await age_judgements(dsn)
                    statements = 0
                    run_at = datetime.now(UTC)
                    started = time.perf_counter()
                    evaluated = await evaluate_active(ctx)
                    runs.append({"s": time.perf_counter() - started, "statements": statements, "evaluated": evaluated})
                changed = await changes_since(dsn, run_at)
                assert runs[-1]["evaluated"] == n * kpis, runs
                out.append({"orgs": n, "targets": n * kpis, "setup_s": setup_s, "runs": runs, **changed})
                print_evaluation(out)
    finally:
        await queue.redis.aclose()
        await db.dispose()
        stop(api)
    first, last = out[0], out[-1]
    exponent = math.log(last["runs"][-1]["s"] / first["runs"][-1]["s"]) / math.log(last["orgs"] / first["orgs"])
    return {"kpis_per_org": kpis, "sizes": out, "exponent": exponent if len(out) > 1 else None}


async def eval_orgs(c: httpx.AsyncClient, numbers: range, kpis: int, today: date, concurrency: int) -> None:
    """`eval_org` for each number, `concurrency` at a time, until every organisation's batch is merged."""
    gate = asyncio.Semaphore(concurrency)

    async def one(i: int) -> tuple[str, dict[str, str]]:
        async with gate:
            return await eval_org(c, f"bench-scale-{i}", kpis, today)

    for batch_id, headers in await asyncio.gather(*(one(i) for i in numbers)):
        await wait_all_done(c, headers, [batch_id], 300)


async def age_judgements(dsn: str) -> None:
    """Every target last judged a day earlier than it was: the next run is the first of a new day."""
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("UPDATE kpi_target_states SET last_evaluated_at = last_evaluated_at - interval '1 day'")
    finally:
        await conn.close()


async def changes_since(dsn: str, run_at: datetime) -> dict[str, int]:
    """What the timed run changed: evaluations it recorded with a status transition (0 when nothing changed), and
    the alerts open by then (the evaluations' and alerts' tables, read directly)."""
    conn = await asyncpg.connect(dsn)
    try:
        changed = await conn.fetchval(
            "SELECT count(*) FROM kpi_evaluations WHERE evaluated_at >= $1 AND transition_to IS NOT NULL", run_at
        )
        alerts = await conn.fetchval("SELECT count(*) FROM alerts")
    finally:
        await conn.close()
    return {"transitions_last_run": changed, "alerts": alerts}


def print_evaluation(out: list[dict[str, Any]]) -> None:
    print(
        f"\nscheduled re-evaluation (evaluate_active, K = {out[0]['targets'] // out[0]['orgs']} KPIs per organisation)"
    )
    print(
        f"{'targets (orgs)':>16} {'first run':>10} {'steady run':>11} {'judged':>7} {'stmts':>6} {'new day':>9} "
        f"{'targets/s':>10} {'stmts':>6} {'transitions':>12}"
    )
    for row in out:
        first, steady, day = row["runs"]
        print(
            f"{row['targets']:>8,} ({row['orgs']:>4}) {first['s']:>9.2f}s {steady['s']:>10.3f}s "
            f"{steady['evaluated']:>7,} {steady['statements']:>6,} {day['s']:>8.2f}s "
            f"{row['targets'] / day['s']:>10,.0f} {day['statements']:>6,} {row['transitions_last_run']:>12}"
        )
    if len(out) > 1:
        a, b = out[0], out[-1]
        t = b["runs"][-1]["s"] / a["runs"][-1]["s"]
        s = b["runs"][-1]["statements"] / a["runs"][-1]["statements"]
        exponent = math.log(t) / math.log(b["orgs"] / a["orgs"])
        print(
            f"new day, growth {b['orgs']}/{a['orgs']} orgs: time x{t:.2f}, statements x{s:.2f}, exponent {exponent:.2f}"
        )
    print(flush=True)


async def main(args: argparse.Namespace) -> None:
    sizes = [int(s) for s in args.sizes.split(",")]
    org_counts = [int(n) for n in args.orgs.split(",")]
    result: dict[str, Any] = {"params": vars(args)}
    if args.part in ("all", "reads"):
        fixed = args.campaigns if args.grow == "days" else args.days
        result["reads"] = await reads(sizes, args.grow, fixed, args.calls, args.slow_s, args.slow_calls)
    if args.part in ("all", "evaluation"):
        result["evaluation"] = await evaluation(org_counts, args.kpis, args.concurrency)
    JSON_OUT.parent.mkdir(exist_ok=True)
    JSON_OUT.write_text(json.dumps(result, indent=2, default=str) + "\n")
    print(f"written to {JSON_OUT.relative_to(support.ROOT)}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--quick", action="store_true", help="small sizes: 50k,100k,200k rows (50 campaigns); 5,20,80 orgs"
    )
    parser.add_argument("--part", choices=("all", "reads", "evaluation"), default="all")
    parser.add_argument("--sizes", help="metric_daily rows, comma-separated (default 1000000,2000000,4000000)")
    parser.add_argument(
        "--grow",
        choices=("days", "campaigns"),
        default="days",
        help="what grows with the size: the history (days, the default) or the campaigns (over a fixed history)",
    )
    parser.add_argument("--campaigns", type=int, help="--grow days: campaigns (default 1,000; 50 with --quick)")
    parser.add_argument("--days", type=int, help="--grow campaigns: days of history (default 1,000; 250 with --quick)")
    parser.add_argument("--calls", type=int, default=20, help="calls per read figure")
    parser.add_argument("--slow-s", type=float, default=5.0, help="a call slower than this ends its figure's series…")
    parser.add_argument("--slow-calls", type=int, default=3, help="…once it has this many calls")
    parser.add_argument("--orgs", help="organisations, comma-separated (default 25,100,400)")
    parser.add_argument("--kpis", type=int, default=20, help="KPIs (one active target each) per organisation")
    parser.add_argument("--concurrency", type=int, default=8, help="organisations set up at once through the API")
    args = parser.parse_args()
    args.sizes = args.sizes or ("50000,100000,200000" if args.quick else "1000000,2000000,4000000")
    args.campaigns = args.campaigns or (50 if args.quick else 1000)
    args.days = args.days or (250 if args.quick else 1000)
    args.orgs = args.orgs or ("5,20,80" if args.quick else "25,100,400")
    asyncio.run(main(args))
