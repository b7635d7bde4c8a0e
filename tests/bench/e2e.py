"""`make bench` (end to end): the performance issue's table, measured as an outside client would, through the
real HTTP API (uvicorn over TCP), Postgres, Redis and a separate arq worker process, limits in the same run.

accept   = 10 generic batches of 10,000 points POSTed one after another to `/v1/ingest/metrics` (time of the 10
           POSTs, until each 202), against the same 10 bodies POSTed to a bare FastAPI endpoint that only reads
           and `json.loads` them (tests/bench/bare_app.py, same uvicorn flags)
e2e      = first of those POSTs -> every batch `done` (polling GET /v1/ingest/batches/{id}), against an asyncpg
           COPY of the same rows into a logged table keyed like metric_points (tests/bench/ingest.copy_limit)
api rss  = one 100,000-point push to a fresh API process: VmHWM after the 202 minus VmRSS before the push
worker   = VmHWM of a fresh worker process once it has merged that batch (its peak since start, nothing taken off)
latency  = ingest 202 -> signed webhook received, p50 and p99 of N transitions (tests/bench/webhook_latency), against
           one job round trip through the same queue and worker (the self-test job)

The 100k push runs first, on fresh processes, so that both high-water marks belong to it.
"""

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import time
import uuid
from pathlib import Path

import httpx

from shared.ingest.points import Point
from shared.jobs.queue import ArqQueue
from shared.settings import Settings
from tests import support
from tests.bench.ingest import copy_limit, make_points
from tests.bench.webhook_latency import limit_s, setup_org
from tests.ingest_support import point
from tests.receiver import _free_port, running_receiver
from tests.test_alerts_e2e import DAY

URL = os.environ.get("BENCH_DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/kpi_bench_e2e")
REDIS = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
TOKEN = "bench-platform-token"
CIDRS = ["127.0.0.0/8"]
UVICORN = str(support.ROOT / ".venv" / "bin" / "uvicorn")
JSON_OUT = support.ARTIFACTS / "bench-e2e.json"


def body(points: list[Point], campaign_suffix: str = "") -> bytes:
    """A generic push body (`{"points": [...]}`), serialised once so that no timing includes the client's json."""
    return json.dumps(
        {
            "currency": "USD",
            "points": [
                {
                    "metric": p.metric,
                    "value": str(p.value),
                    "timestamp": p.day.isoformat(),
                    "dimensions": {**p.dimensions, "campaign": p.dimensions["campaign"] + campaign_suffix},
                    "mode": p.mode.value,
                }
                for p in points
            ],
        }
    ).encode()


def proc_kb(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def spawn_server(app_ref: str, env: dict[str, str], name: str) -> tuple[subprocess.Popen, str, Path]:
    """uvicorn <app_ref> --factory on a free loopback port, its output in test-artifacts/bench-e2e-<name>.log."""
    port = _free_port()
    support.ARTIFACTS.mkdir(exist_ok=True)
    log_path = support.ARTIFACTS / f"bench-e2e-{name}.log"
    with log_path.open("w") as log_file:
        proc = subprocess.Popen(
            [UVICORN, app_ref, "--factory", "--host", "127.0.0.1", "--port", str(port)],
            cwd=support.ROOT,
            env={**os.environ, **env},
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    return proc, f"http://127.0.0.1:{port}", log_path


async def start_server(app_ref: str, env: dict[str, str], name: str) -> tuple[subprocess.Popen, str]:
    """Spawn the server and return the process and its base URL once it answers."""
    proc, base, log_path = spawn_server(app_ref, env, name)
    deadline = time.monotonic() + 30
    async with httpx.AsyncClient(base_url=base) as c:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"{name} exited with {proc.returncode}: {log_path.read_text()}")
            try:
                await c.get("/health/live")
                return proc, base
            except httpx.TransportError:
                await asyncio.sleep(0.1)
    proc.kill()
    raise RuntimeError(f"{name} did not answer in 30 s: {log_path.read_text()}")


def stop(proc: subprocess.Popen) -> None:
    support.stop_process(proc)


async def wait_all_done(c: httpx.AsyncClient, headers: dict[str, str], batch_ids: list[str], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    for batch_id in batch_ids:
        while True:
            status = (await c.get(f"/v1/ingest/batches/{batch_id}", headers=headers)).json()["status"]
            if status == "done":
                break
            if status == "failed" or time.monotonic() > deadline:
                raise AssertionError(f"batch {batch_id} is {status}")
            await asyncio.sleep(0.05)


async def post_all(c: httpx.AsyncClient, bodies: list[bytes], headers: dict[str, str]) -> tuple[float, list[str]]:
    """POST the bodies one after another; the seconds it took and the batch ids of the 202s."""
    ids = []
    started = time.perf_counter()
    for b in bodies:
        r = await c.post("/v1/ingest/metrics", content=b, headers={**headers, "Content-Type": "application/json"})
        assert r.status_code == 202, r.text[:500]
        ids.append(r.json().get("batch_id", ""))
    return time.perf_counter() - started, ids


async def latencies(c: httpx.AsyncClient, n: int) -> list[float]:
    """The webhook_latency trials over HTTP: CPA flips across its critical level n times."""
    headers = await setup_org(c)
    out = []
    async with running_receiver() as receiver:
        r = await c.post("/v1/webhook-endpoints", json={"url": receiver.url}, headers=headers)
        r.raise_for_status()
        r = await c.post(
            "/v1/ingest/metrics", json={"points": [point("spend", 200, DAY)], "currency": "USD"}, headers=headers
        )
        await wait_all_done(c, headers, [r.json()["batch_id"]], 30)
        for i in range(n):
            conversions = 10 if i % 2 == 0 else 25  # CPA 20 (critical) or 8 (on track): a transition each time
            started = time.perf_counter()
            r = await c.post(
                "/v1/ingest/metrics", json={"points": [point("conversions", conversions, DAY)]}, headers=headers
            )
            assert r.status_code == 202, r.text
            await receiver.wait_for(i + 1, timeout_s=30)
            out.append(time.perf_counter() - started)
        types = [json.loads(req.body)["type"] for req in receiver.requests]
    assert types == ["kpi.off_track", "kpi.recovered"] * (n // 2) + ["kpi.off_track"] * (n % 2), types
    return out


def row(figure: str, value: float, unit: str, limit: float, limit_what: str, goal: str, met: bool) -> dict:
    return {
        "figure": figure,
        "value": round(value, 3),
        "unit": unit,
        "limit": round(limit, 3),
        "limit_is": limit_what,
        "ratio": round(value / limit, 3) if limit else None,
        "goal": goal,
        "met": met,
    }


async def main(batches: int, per_batch: int, big: int, trials: int) -> None:
    await support.recreate_pg_database(URL)
    await support.migrate(URL, ("upgrade", "head"))
    queue_name = f"arq:bench-e2e:{os.getpid()}"
    env = {
        "DATABASE_URL": URL,
        "REDIS_URL": REDIS,
        "QUEUE_NAME": queue_name,
        "PLATFORM_TOKEN": TOKEN,
        "WEBHOOK_ALLOWED_CIDRS": json.dumps(CIDRS),
        "RUN_CRONS": "false",
        "LOG_LEVEL": "WARNING",
    }
    settings = Settings(database_url=URL, redis_url=REDIS, queue_name=queue_name)
    if big > settings.ingest_max_points:
        raise SystemExit(f"--big {big} is over INGEST_MAX_POINTS ({settings.ingest_max_points})")
    points = make_points(batches * per_batch)
    bodies = [body(points[i * per_batch : (i + 1) * per_batch]) for i in range(batches)]
    big_body = body(make_points(big), campaign_suffix="-rss")  # keys of its own
    worker = support.start_worker(env, f"{queue_name}:health-check", REDIS)
    api, api_url = await start_server("services.api.main:create_app", env, "api")
    bare, bare_url = await start_server("tests.bench.bare_app:create_app", env, "bare")
    queue = ArqQueue.from_settings(settings)
    try:
        async with httpx.AsyncClient(base_url=api_url, timeout=120) as c, httpx.AsyncClient(base_url=bare_url) as b:
            r = await c.post("/v1/orgs", json={"name": "bench-e2e"}, headers={"X-Platform-Token": TOKEN})
            r.raise_for_status()
            headers = {"Authorization": f"Bearer {r.json()['api_key']['key']}"}

            api_rss_before = proc_kb(api.pid, "VmRSS")
            api_hwm_before = proc_kb(api.pid, "VmHWM")
            worker_rss_before = proc_kb(worker.pid, "VmRSS")
            _, big_ids = await post_all(c, [big_body], headers)
            api_hwm = proc_kb(api.pid, "VmHWM")
            await wait_all_done(c, headers, big_ids, 300)
            worker_hwm = proc_kb(worker.pid, "VmHWM")

            bare_s, _ = await post_all(b, bodies, {})
            accept_s, ids = await post_all(c, bodies, headers)
            started_e2e = time.perf_counter() - accept_s
            await wait_all_done(c, headers, ids, 600)
            e2e_s = time.perf_counter() - started_e2e
            copy_rate = await copy_limit(URL.replace("postgresql+asyncpg://", "postgresql://"), points, uuid.uuid4())

            limit = await limit_s(queue, trials)
            lat = await latencies(c, trials)
    finally:
        await queue.redis.aclose()
        stop(bare)
        stop(api)
        support.stop_worker(worker)

    n = batches * per_batch
    accept, bare_rate, e2e = n / accept_s, n / bare_s, n / e2e_s
    big_mb = len(big_body) / 2**20
    api_growth_mb = (api_hwm - api_rss_before) / 1024
    worker_mb = worker_hwm / 1024
    p50, p99 = statistics.median(lat), statistics.quantiles(lat, n=100, method="inclusive")[98]
    rows = [
        row(
            "HTTP accept points/s",
            accept,
            "points/s",
            bare_rate,
            "bare parse points/s",
            ">= 0.5 of limit",
            accept / bare_rate >= 0.5,
        ),
        row(
            "end-to-end points/s",
            e2e,
            "points/s",
            copy_rate,
            "keyed COPY points/s",
            ">= 0.25 of limit",
            e2e / copy_rate >= 0.25,
        ),
        row(
            f"API peak RSS growth, one {big:,}-point push",
            api_growth_mb,
            "MB",
            big_mb,
            "body size MB",
            "<= 100 MB",
            api_growth_mb <= 100,
        ),
        row(
            f"worker peak RSS, {big:,}-point batch",
            worker_mb,
            "MB",
            big_mb,
            "body size MB",
            "<= 150 MB",
            worker_mb <= 150,
        ),
        row(
            f"ingest 202 -> webhook p50 ({trials} trials)",
            p50 * 1000,
            "ms",
            limit * 1000,
            "job round trip ms (median)",
            "< 150 ms",
            p50 * 1000 < 150,
        ),
        row(
            f"ingest 202 -> webhook p99 ({trials} trials)",
            p99 * 1000,
            "ms",
            limit * 1000,
            "job round trip ms (median)",
            "< 500 ms",
            p99 * 1000 < 500,
        ),
    ]
    print(f"end to end over HTTP: {batches} x {per_batch:,} points, one {big:,}-point push, {trials} alert trials")
    print(f"{'figure':<44} {'value':>18} {'limit':>18}  {'limit is':<27} {'ratio':>7}  {'goal':<17} met")
    for r_ in rows:
        value, limit_ = f"{r_['value']:,.1f} {r_['unit']}", f"{r_['limit']:,.1f} {r_['unit']}"
        print(
            f"{r_['figure']:<44} {value:>18} {limit_:>18}  {r_['limit_is']:<27} {r_['ratio']:>7.3f}  {r_['goal']:<17}"
            f" {'yes' if r_['met'] else 'NO'}"
        )
    extra = {
        "api_rss_before_mb": api_rss_before / 1024,
        "api_hwm_before_mb": api_hwm_before / 1024,
        "api_hwm_after_mb": api_hwm / 1024,
        "worker_rss_before_mb": worker_rss_before / 1024,
        "accept_s": accept_s,
        "bare_s": bare_s,
        "e2e_s": e2e_s,
        "latency_min_ms": min(lat) * 1000,
        "latency_max_ms": max(lat) * 1000,
    }
    print("  " + ", ".join(f"{k} {v:.1f}" for k, v in extra.items()))
    params = {"batches": batches, "points_per_batch": per_batch, "big_push": big, "trials": trials}
    JSON_OUT.parent.mkdir(exist_ok=True)
    JSON_OUT.write_text(json.dumps({"params": params, "rows": rows, "details": extra}, indent=2) + "\n")
    print(f"written to {JSON_OUT.relative_to(support.ROOT)}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batches", type=int, default=10)
    parser.add_argument("--points", type=int, default=10_000, help="points per batch")
    parser.add_argument("--big", type=int, default=100_000, help="points in the single push measured for RSS")
    parser.add_argument("--trials", type=int, default=50)
    args = parser.parse_args()
    asyncio.run(main(args.batches, args.points, args.big, args.trials))
