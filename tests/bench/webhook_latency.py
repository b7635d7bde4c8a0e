"""`make bench` (second part): time from an ingest `202` to the signed webhook arriving at a real receiver, on
Postgres + Redis with a separate arq worker process: median, p90 and p99 of 20 transitions (--transitions).

limit   = one job round trip through the same queue and worker (enqueue the self-test job, which reads the
          database, and poll its result): a transition needs one such hop (the batch's job merges, evaluates the
          KPI in the same transaction and makes the webhook's first attempt right after its commit), so ~1x the
          limit plus the merge and the send is the floor. (It was three hops, ~3x, while evaluation and delivery
          were jobs of their own; a batch changing more than INLINE_EVALUATION_KPIS KPIs still takes two.)
latency = push a batch that flips CPA across its critical level (off_track, then recovered, in turn); the clock
          stops when the receiver has the request.
slack   = the same transitions as a Slack message (Block Kit) to a second receiver, through the routing's default
          route: the notification channel's latency from the same 202.
"""

import argparse
import asyncio
import json
import os
import statistics
import time
import uuid

from services.api.main import create_app
from shared.jobs.handles import SELFTEST
from shared.jobs.queue import ArqQueue
from shared.settings import Settings
from tests import support
from tests.conftest import client_for
from tests.ingest_support import point
from tests.receiver import running_receiver
from tests.test_alerts_e2e import DAY, cpa_with_target

URL = os.environ.get("BENCH_DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/kpi_bench")
REDIS = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
TOKEN = "bench-platform-token"
CIDRS = ["127.0.0.0/8"]


async def setup_org(c) -> dict[str, str]:
    r = await c.post("/v1/orgs", json={"name": "bench"}, headers={"X-Platform-Token": TOKEN})
    r.raise_for_status()
    headers = {"Authorization": f"Bearer {r.json()['api_key']['key']}"}
    await cpa_with_target(c, headers)  # CPA, lower is better: target 10, warning 12, critical 15 for 2026-11
    return headers


async def limit_s(queue: ArqQueue, n: int) -> float:
    times = []
    for _ in range(n):
        started = time.perf_counter()
        await SELFTEST.run_and_wait(queue, timeout_s=30, nonce=uuid.uuid4().hex)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


async def main(n: int) -> None:
    await support.recreate_pg_database(URL)
    await support.migrate(URL, ("upgrade", "head"))
    queue_name = f"arq:bench:{os.getpid()}"
    settings = Settings(
        database_url=URL,
        redis_url=REDIS,
        queue_name=queue_name,
        platform_token=TOKEN,
        webhook_allowed_cidrs=CIDRS,
        run_crons=False,
    )
    env = {
        "DATABASE_URL": URL,
        "REDIS_URL": REDIS,
        "QUEUE_NAME": queue_name,
        "LOG_LEVEL": "WARNING",
        "WEBHOOK_ALLOWED_CIDRS": json.dumps(CIDRS),
    }
    worker = support.start_worker(env, f"{queue_name}:health-check", REDIS)
    latencies: list[float] = []
    slack_latencies: list[float] = []
    try:
        app = create_app(settings)
        async with client_for(app) as c, running_receiver() as receiver, running_receiver() as slack:
            headers = await setup_org(c)
            r = await c.post("/v1/webhook-endpoints", json={"url": receiver.url}, headers=headers)
            r.raise_for_status()
            r = await c.post(
                "/v1/notification-channels", json={"name": "#bench", "kind": "slack", "url": slack.url}, headers=headers
            )
            r.raise_for_status()
            routing = {"default_channel_ids": [r.json()["id"]]}
            (await c.put("/v1/notification-routing", json=routing, headers=headers)).raise_for_status()
            await c.post(
                "/v1/ingest/metrics", json={"points": [point("spend", 200, DAY)], "currency": "USD"}, headers=headers
            )
            limit = await limit_s(app.state.kpi.queue, n)
            for i in range(n):
                conversions = 10 if i % 2 == 0 else 25  # CPA 20 (critical) or 8 (on track): a transition each time
                body = {"points": [point("conversions", conversions, DAY)]}
                started = time.perf_counter()
                r = await c.post("/v1/ingest/metrics", json=body, headers=headers)
                assert r.status_code == 202, r.text
                await receiver.wait_for(i + 1, timeout_s=30)
                latencies.append(time.perf_counter() - started)
                await slack.wait_for(i + 1, timeout_s=30)
                slack_latencies.append(time.perf_counter() - started)
            types = [json.loads(req.body)["type"] for req in receiver.requests]
    finally:
        support.stop_worker(worker)
    assert types == ["kpi.off_track", "kpi.recovered"] * (n // 2) + ["kpi.off_track"] * (n % 2), types
    median = statistics.median(latencies)
    centiles = statistics.quantiles(latencies, n=100)  # p90 and p99: the 90th and 99th cut points
    print(f"webhook latency, ingest 202 -> signed webhook received ({n} transitions, Postgres + Redis + arq worker)")
    print(f"limit     one job round trip (self-test job: queue + worker + database): {limit * 1000:7.1f} ms")
    print(f"latency   median: {median * 1000:7.1f} ms ({median / limit:.1f}x limit)")
    print(
        f"          min {min(latencies) * 1000:.1f} ms, p90 {centiles[89] * 1000:.1f} ms, "
        f"p99 {centiles[98] * 1000:.1f} ms, max {max(latencies) * 1000:.1f} ms"
    )
    slack_median = statistics.median(slack_latencies)
    slack_centiles = statistics.quantiles(slack_latencies, n=100)
    print(
        f"slack     median: {slack_median * 1000:7.1f} ms ({slack_median / limit:.1f}x limit), "
        f"p90 {slack_centiles[89] * 1000:.1f} ms, p99 {slack_centiles[98] * 1000:.1f} ms"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--transitions", type=int, default=20)
    asyncio.run(main(parser.parse_args().transitions))
