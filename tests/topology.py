"""The multi-process topology as production runs it: N API processes (uvicorn over TCP) and N arq worker processes on
one Redis queue and one Postgres database, a webhook receiver, and a bounded load of overlapping batches from several
organisations pushed by concurrent clients alternating between the APIs.

`Topology` starts and stops the processes; `Load` is the workload with its hand-computed expectations; `run` drives
one round and returns what the test (tests/test_topology.py) checks and the bench (tests/bench/spread.py) prints:
the verdicts and how the jobs spread over the workers (read from each worker's own /metrics).
"""

import asyncio
import contextlib
import itertools
import json
import os
import subprocess
import sys
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import func, select
from standardwebhooks.webhooks import Webhook

from shared.alerts.models import Alert
from shared.db.engine import make_database
from shared.db.scoping import allow_all_orgs
from shared.ingest.models import IngestBatch
from shared.metrics.keys import dims_key
from shared.metrics.models import MetricDaily
from shared.settings import Settings
from shared.webhooks.models import WebhookAttempt, WebhookDelivery, WebhookEvent
from tests import support
from tests.conftest import PLATFORM_TOKEN, TEST_RETRY_SCHEDULE_S, TEST_WEBHOOK_CIDRS, TEST_WEBHOOK_SECRET_KEY
from tests.ingest_support import point
from tests.receiver import Receiver, _free_port, running_receiver

UVICORN = [sys.executable, "-m", "uvicorn"]
MONTH, DAYS = "2026-11", (18, 19, 20)
SOURCES = ("api", "crm")
ORG_NAMES = ("North", "South", "East")


# --- processes ------------------------------------------------------------------------------------------------


def _spawn(argv: list[str], env: dict[str, str], name: str) -> subprocess.Popen:
    """A process of ours, its output in test-artifacts/topology-<name>-<pid>.log (a pipe nobody reads would block)."""
    support.ARTIFACTS.mkdir(exist_ok=True)
    log_path = support.ARTIFACTS / f"topology-{name}-{os.getpid()}.log"
    with log_path.open("w") as log_file:
        proc = subprocess.Popen(
            argv, cwd=support.ROOT, env={**os.environ, **env}, stdout=log_file, stderr=subprocess.STDOUT, text=True
        )
    proc.log_path = log_path  # type: ignore[attr-defined]
    return proc


async def _wait_http(proc: subprocess.Popen, url: str, ready, timeout_s: float = 30) -> None:
    """Poll `url` until `ready(response)`; fails with the process's log if it exits or never gets there."""
    deadline = time.monotonic() + timeout_s
    async with httpx.AsyncClient(timeout=2) as c:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"{url}: process exited with {proc.returncode}: {proc.log_path.read_text()}")
            try:
                if ready(await c.get(url)):
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
    raise RuntimeError(f"{url} not ready in {timeout_s} s: {proc.log_path.read_text()}")


def scrape(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Prometheus text as {(sample name, sorted labels): value}."""
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


@dataclass
class Worker:
    proc: subprocess.Popen
    metrics_url: str

    async def metrics(self) -> dict:
        async with httpx.AsyncClient(timeout=5) as c:
            return scrape((await c.get(self.metrics_url)).text)


@dataclass
class Topology:
    """N APIs and N workers on one queue of the test's own (on the given Redis and Postgres)."""

    database_url: str
    redis_url: str
    apis: int = 2
    workers: int = 2
    worker_env: dict[str, str] = field(default_factory=dict)  # e.g. WORKER_MAX_JOBS for the bench
    queue: str = field(default_factory=lambda: f"arq:kpi-topology:{uuid.uuid4().hex[:8]}")
    api_urls: list[str] = field(default_factory=list)
    worker_procs: list[Worker] = field(default_factory=list)
    _procs: list[subprocess.Popen] = field(default_factory=list)

    def env(self) -> dict[str, str]:
        return {
            "DATABASE_URL": self.database_url,
            "REDIS_URL": self.redis_url,
            "QUEUE_NAME": self.queue,
            "PLATFORM_TOKEN": PLATFORM_TOKEN,
            "SESSION_SECRET": "topology-session-secret",
            "LOG_LEVEL": "INFO",
            "WEBHOOK_ALLOWED_CIDRS": json.dumps(TEST_WEBHOOK_CIDRS),
            "WEBHOOK_RETRY_SCHEDULE_S": json.dumps(TEST_RETRY_SCHEDULE_S),
            "WEBHOOK_SECRET_KEY": TEST_WEBHOOK_SECRET_KEY,
            "AUTH_FAIL_LIMIT_PER_ADDRESS": "100000/minute",
            "AUTH_FAIL_LIMIT_PER_PREFIX": "100000/minute",
            "AUTH_THROTTLE_KEY_PREFIX": f"{self.queue}:auth-throttle",
        }

    async def start_apis(self) -> None:
        starting = []
        for i in range(self.apis):
            port = _free_port()
            argv = [*UVICORN, "services.api.main:create_app", "--factory", "--host", "127.0.0.1", "--port", str(port)]
            proc = _spawn(argv, self.env(), f"api{i}")
            self._procs.append(proc)
            self.api_urls.append(f"http://127.0.0.1:{port}")
            starting.append(_wait_http(proc, f"{self.api_urls[-1]}/health/ready", lambda r: r.status_code == 200))
        await asyncio.gather(*starting)

    async def start_workers(self) -> None:
        """Start them all at once and wait until each one reaches Redis (its own gauge, on its own metrics port)."""
        starting = []
        connected = f'kpi_worker_redis_connected{{queue="{self.queue}"}} 1.0'
        for i in range(self.workers):
            port = _free_port()
            env = {**self.env(), "WORKER_METRICS_PORT": str(port), **self.worker_env}
            proc = _spawn([sys.executable, "-m", "services.kpi_engine"], env, f"worker{i}")
            self._procs.append(proc)
            worker = Worker(proc, f"http://127.0.0.1:{port}/metrics")
            self.worker_procs.append(worker)
            starting.append(_wait_http(proc, worker.metrics_url, lambda r: connected in r.text))
        await asyncio.gather(*starting)

    def alive(self) -> bool:
        return all(p.poll() is None for p in self._procs)

    def stop(self) -> None:
        for proc in self._procs:
            support.stop_process(proc)


# --- the load and its expectations ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Load:
    """`batches` batches over the organisations in turn; batch i of an organisation covers `per_batch` of its
    `campaigns` campaigns (a window sliding by 3, so neighbours overlap) on each of DAYS, with `leads` as increments
    (i % 5 + 1 each) and `spend` as snapshots (a value fixed by source, campaign and day, so the merge order cannot
    change the result). Even batches come from source `api`, odd ones from `crm`."""

    batches: int = 150
    orgs: int = 3
    campaigns: int = 25
    per_batch: int = 10
    repeats: int = 6  # batches sent a second time, with the same Idempotency-Key, to the other API

    def org_of(self, i: int) -> int:
        return i % self.orgs

    def source(self, i: int) -> str:
        return SOURCES[(i // self.orgs) % 2]

    def campaigns_of(self, i: int) -> list[int]:
        start = (i // self.orgs) * 3
        return [(start + k) % self.campaigns for k in range(self.per_batch)]

    @staticmethod
    def spend(source: str, campaign: int, day: int) -> Decimal:
        return Decimal(f"{10 + campaign}.{day:02d}") + (5 if source == "crm" else 0)

    def points(self, i: int) -> list[dict]:
        out = []
        for c in self.campaigns_of(i):
            for d in DAYS:
                day, dims = f"{MONTH}-{d:02d}", {"channel": "meta", "campaign": f"c{c}"}
                out.append(point("leads", i % 5 + 1, day, "increment", **dims))
                spend = point("spend", str(self.spend(self.source(i), c, d)), day, "snapshot", **dims)
                out.append({**spend, "currency": "USD"})
        return out

    def expected_daily(self, org: int) -> dict[tuple[str, str, str], tuple[Decimal, int]]:
        """{(metric, day, dims_key): (value_sum, value_count)} of metric_daily, by hand: increments add up within a
        source, a source's snapshot is its value, and the roll-up sums the sources (count: sources with the key)."""
        per_source: dict[tuple[str, str, str], dict[str, Decimal]] = defaultdict(dict)
        for i in range(self.batches):
            if self.org_of(i) != org:
                continue
            source = self.source(i)
            for p in self.points(i):
                key = (p["metric"], p["timestamp"][:10], dims_key(_stored_dimensions(p)))
                value = Decimal(str(p["value"]))
                stored = per_source[key]
                stored[source] = stored.get(source, Decimal(0)) + value if p["mode"] == "increment" else value
        return {key: (sum(values.values(), Decimal(0)), len(values)) for key, values in per_source.items()}

    def distinct_keys(self) -> int:
        """(org, source, metric, day, dimensions) keys pushed: each is `inserted` exactly once over all batches."""
        keys = {
            (self.org_of(i), self.source(i), p["metric"], p["timestamp"], dims_key(_stored_dimensions(p)))
            for i in range(self.batches)
            for p in self.points(i)
        }
        return len(keys)


@dataclass
class Org:
    name: str
    admin: dict[str, str]
    ingest: dict[str, str]
    endpoint_id: str = ""
    secret: str = ""
    off_track_target: str = ""
    on_track_target: str = ""


def _auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def _ok(response: httpx.Response, *codes: int) -> dict:
    assert response.status_code in (codes or (200, 201)), response.text
    return response.json()


async def _kpi_with_target(c: httpx.AsyncClient, headers, name, formula, direction, **target) -> str:
    kpi = await _ok(
        await c.post(
            "/v1/kpis",
            json={"name": name, "category": "input", "formula": formula, "unit": "count", "direction": direction},
            headers=headers,
        )
    )
    body = {"period": MONTH, "threshold_mode": "absolute", "pacing": "none", **target}
    return (await _ok(await c.post(f"/v1/kpis/{kpi['id']}/targets", json=body, headers=headers)))["id"]


async def setup_org(c: httpx.AsyncClient, name: str, receiver_url: str) -> Org:
    """An organisation with an ingest key, a webhook endpoint on the receiver, a target that goes off track with the
    first data (spend under 1, critical past 3: every push carries more) and one that never does."""
    created = await _ok(await c.post("/v1/orgs", json={"name": name}, headers={"X-Platform-Token": PLATFORM_TOKEN}))
    admin = _auth(created["api_key"]["key"])
    ingest = await _ok(await c.post("/v1/api-keys", json={"name": "etl", "role": "ingest"}, headers=admin))
    org = Org(name, admin, _auth(ingest["key"]))
    endpoint = await _ok(await c.post("/v1/webhook-endpoints", json={"url": receiver_url}, headers=admin))
    org.endpoint_id, org.secret = endpoint["id"], endpoint["secret"]
    org.off_track_target = await _kpi_with_target(
        c, admin, "Spend cap", "spend", "lower_is_better", target_value="1", warning="2", critical="3"
    )
    org.on_track_target = await _kpi_with_target(
        c, admin, "Leads floor", "leads", "higher_is_better", target_value="1", warning="0.5", critical="0.2"
    )
    return org


# --- one round ------------------------------------------------------------------------------------------------


@dataclass
class Outcome:
    seconds: float  # first push (a burst: the workers' start) to every batch done
    batches: dict[str, dict]  # batch id -> its final state from the API
    repeated: list[tuple[str, str]]  # (first batch id, the id the repeat got)
    statuses: dict[str, int]
    daily_wrong: list  # (org, key, stored, expected) that differ
    alerts: dict[str, list[tuple[str, str]]]  # target id -> [(status, severity)]
    events: list[tuple[str, str, str]]  # (org name, event id, type) stored
    received: Counter  # webhook-id -> times the receiver heard it
    unverified: int  # received requests no organisation's secret verifies
    deliveries: list[tuple[str, str, str, int]]  # (event id, endpoint id, status, attempts)
    attempts: Counter  # (event id, endpoint id, outcome) -> attempts
    workers: list[dict]  # each worker's scraped metrics
    expected_keys: int
    pushed_points: int
    alive: bool
    orgs: list[Org]


async def _push_all(topology: Topology, orgs: list[Org], load: Load, clients: int) -> tuple[list[str], list]:
    """`clients` concurrent clients take batches in order, each alternating between the APIs; then `load.repeats` of
    them are sent again with the same Idempotency-Key to the API that did not take them first."""
    ids: dict[int, str] = {}
    taken = iter(range(load.batches))

    async def client(k: int) -> None:
        first = k % len(topology.api_urls)  # client k starts on API k, then alternates
        apis = itertools.cycle(topology.api_urls[first:] + topology.api_urls[:first])
        async with httpx.AsyncClient(timeout=60) as c:
            for i in taken:
                org = orgs[load.org_of(i)]
                body = {"points": load.points(i), "source": load.source(i)}
                headers = {**org.ingest, "Idempotency-Key": f"batch-{i}"}
                r = await c.post(f"{next(apis)}/v1/ingest/metrics", json=body, headers=headers)
                ids[i] = (await _ok(r, 202))["batch_id"]

    await asyncio.gather(*(client(k) for k in range(clients)))
    repeated = []
    async with httpx.AsyncClient(timeout=60) as c:
        for i in range(0, load.batches, max(1, load.batches // max(1, load.repeats)))[: load.repeats]:
            org = orgs[load.org_of(i)]
            body = {"points": load.points(i), "source": load.source(i)}
            headers = {**org.ingest, "Idempotency-Key": f"batch-{i}"}
            for base in topology.api_urls:  # whichever took it first, the other (and that one) answer the same batch
                r = await c.post(f"{base}/v1/ingest/metrics", json=body, headers=headers)
                repeated.append((ids[i], (await _ok(r, 200, 202))["batch_id"]))
    return [ids[i] for i in range(load.batches)], repeated


async def _wait_done(db, batch_ids: list[str], timeout_s: float) -> dict[str, int]:
    ids = [uuid.UUID(b) for b in batch_ids]
    deadline = time.monotonic() + timeout_s
    while True:
        async with db.sessionmaker() as session:
            allow_all_orgs(session)
            rows = await session.execute(
                select(IngestBatch.status, func.count()).where(IngestBatch.id.in_(ids)).group_by(IngestBatch.status)
            )
            statuses = {status.value: n for status, n in rows}
        if set(statuses) <= {"done", "failed"} or time.monotonic() > deadline:
            return statuses
        await asyncio.sleep(0.1)


async def _settled(receiver: Receiver, want: int, timeout_s: float, quiet_s: float = 1.5) -> None:
    """Wait for `want` requests, then a quiet spell in which a duplicate would have arrived."""
    with contextlib.suppress(AssertionError):  # too few is for the caller's assertions to show
        await receiver.wait_for(want, timeout_s)
    await asyncio.sleep(quiet_s)


def _verify(orgs: list[Org], receiver: Receiver) -> tuple[Counter, int]:
    seen: Counter = Counter()
    unverified = 0
    for request in receiver.requests:
        if any(_verifies(org.secret, request) for org in orgs):
            seen[request.headers["webhook-id"]] += 1
        else:
            unverified += 1
    return seen, unverified


def _verifies(secret: str, request) -> bool:
    try:
        Webhook(secret).verify(request.body, request.headers)
    except Exception:
        return False
    return True


async def _read_store(db, orgs_by_id: dict[uuid.UUID, str]) -> tuple:
    async with db.sessionmaker() as session:
        allow_all_orgs(session)
        org_ids = list(orgs_by_id)
        daily = (
            await session.execute(
                select(
                    MetricDaily.org_id,
                    MetricDaily.metric_key,
                    MetricDaily.day,
                    MetricDaily.dims_key,
                    MetricDaily.value_sum,
                    MetricDaily.value_count,
                ).where(MetricDaily.org_id.in_(org_ids))
            )
        ).all()
        alerts = (
            await session.execute(
                select(Alert.target_id, Alert.status, Alert.severity).where(Alert.org_id.in_(org_ids))
            )
        ).all()
        events = (
            await session.execute(
                select(WebhookEvent.org_id, WebhookEvent.id, WebhookEvent.type).where(WebhookEvent.org_id.in_(org_ids))
            )
        ).all()
        deliveries = (
            await session.execute(
                select(
                    WebhookDelivery.event_id,
                    WebhookDelivery.endpoint_id,
                    WebhookDelivery.status,
                    WebhookDelivery.attempts,
                ).where(WebhookDelivery.org_id.in_(org_ids))
            )
        ).all()
        attempts = (
            await session.execute(
                select(WebhookDelivery.event_id, WebhookAttempt.endpoint_id, WebhookAttempt.outcome)
                .join(WebhookDelivery, WebhookDelivery.id == WebhookAttempt.delivery_id)
                .where(WebhookAttempt.org_id.in_(org_ids))
            )
        ).all()
    return daily, alerts, events, deliveries, attempts


async def run(topology: Topology, load: Load, *, clients: int = 4, burst: bool = False) -> Outcome:
    """One round: organisations set up through the first API, the load pushed, every batch waited for, the webhooks
    waited for; then the store, the receiver and the workers' metrics read. `burst`: the whole load is queued before
    the workers start (they start together), instead of streaming in while they run."""
    db = make_database(Settings(database_url=topology.database_url, redis_url=None))
    try:
        await topology.start_apis()
        if not burst:
            await topology.start_workers()
        async with running_receiver() as receiver:
            async with httpx.AsyncClient(base_url=topology.api_urls[0], timeout=30) as c:
                names = [f"{ORG_NAMES[n % len(ORG_NAMES)]} {n}" for n in range(load.orgs)]
                orgs = [await setup_org(c, name, receiver.url) for name in names]
            started = time.monotonic()
            batch_ids, repeated = await _push_all(topology, orgs, load, clients)
            if burst:
                await topology.start_workers()
                started = time.monotonic()  # the burst's drain, not the pushes
            statuses = await _wait_done(db, batch_ids, timeout_s=120)
            seconds = time.monotonic() - started
            await _settled(receiver, load.orgs, timeout_s=20)
            received, unverified = _verify(orgs, receiver)
        workers = [await w.metrics() for w in topology.worker_procs]
        async with httpx.AsyncClient(timeout=30) as c:
            batches = {}
            for n, batch_id in enumerate(batch_ids):  # read back through both APIs
                org = orgs[load.org_of(n)]
                url = f"{topology.api_urls[n % len(topology.api_urls)]}/v1/ingest/batches/{batch_id}"
                batches[batch_id] = await _ok(await c.get(url, headers=org.ingest))
        # Each organisation's id, from its first batch (batch n < load.orgs is organisation n's).
        org_ids: dict[uuid.UUID, int] = {}
        async with db.sessionmaker() as session:
            allow_all_orgs(session)
            firsts = [uuid.UUID(b) for b in batch_ids[: load.orgs]]
            for batch_id, org_id in await session.execute(
                select(IngestBatch.id, IngestBatch.org_id).where(IngestBatch.id.in_(firsts))
            ):
                org_ids[org_id] = firsts.index(batch_id)
        daily, alerts, events, deliveries, attempts = await _read_store(db, org_ids)
    finally:
        await db.dispose()

    stored: dict[tuple, tuple[Decimal, int]] = {(org_ids[o], m, d.isoformat(), k): (v, n) for o, m, d, k, v, n in daily}
    expected = {
        (org, m, d, k): want for org in range(load.orgs) for (m, d, k), want in load.expected_daily(org).items()
    }
    daily_wrong = [
        (key, stored.get(key), expected.get(key))
        for key in sorted(set(stored) | set(expected))
        if stored.get(key) != expected.get(key)
    ]
    names = {o: orgs[n].name for o, n in org_ids.items()}
    by_target: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for target_id, status, severity in alerts:
        by_target[str(target_id)].append((status.value, severity.value))
    return Outcome(
        seconds=seconds,
        batches=batches,
        repeated=repeated,
        statuses=statuses,
        daily_wrong=daily_wrong,
        alerts=dict(by_target),
        events=[(names[o], event_id, t.value) for o, event_id, t in events],
        received=received,
        unverified=unverified,
        deliveries=[(e, str(ep), s.value, a) for e, ep, s, a in deliveries],
        attempts=Counter((e, str(ep), outcome) for e, ep, outcome in attempts),
        workers=workers,
        expected_keys=load.distinct_keys(),
        pushed_points=sum(len(load.points(i)) for i in range(load.batches)),
        alive=topology.alive(),
        orgs=orgs,
    )


# --- how the work spread --------------------------------------------------------------------------------------


def counter(metrics: dict, name: str, **labels: str) -> float:
    """A counter's value in one worker's scrape (0 when the sample is absent)."""
    return metrics.get((f"{name}_total", tuple(sorted(labels.items()))), 0.0)


def spread(workers: list[dict]) -> list[dict[str, float]]:
    """Per worker: batches it merged (own job or drain), ingest job runs (done, handed back), and the other jobs."""
    rows = []
    for m in workers:
        jobs: Counter = Counter()
        for (name, labels), value in m.items():
            if name == "kpi_worker_jobs_run_total":
                label = dict(labels)
                jobs[(label["job"], label["outcome"])] += value
        rows.append(
            {
                "merged": counter(m, "kpi_ingest_batches_finished", outcome="done"),
                "points": counter(m, "kpi_ingest_points_processed"),
                "ingest_done": jobs[("ingest.process_batch", "done")],
                "ingest_retry": jobs[("ingest.process_batch", "retry")],
                "other_jobs": sum(v for (job, _), v in jobs.items() if job != "ingest.process_batch"),
                "errors": sum(v for (_, outcome), v in jobs.items() if outcome == "error"),
            }
        )
    return rows


def describe(rows: list[dict[str, float]]) -> Iterator[str]:
    total = sum(r["merged"] for r in rows) or 1
    for n, r in enumerate(rows):
        yield (
            f"worker {n}: merged {r['merged']:.0f} batches ({100 * r['merged'] / total:.0f}%), "
            f"{r['points']:.0f} points; ingest job runs {r['ingest_done']:.0f} done + {r['ingest_retry']:.0f} "
            f"handed back (merge lock busy); other jobs {r['other_jobs']:.0f}; errors {r['errors']:.0f}"
        )


def write_figures(path: Path, lines: list[str]) -> None:
    support.ARTIFACTS.mkdir(exist_ok=True)
    path.write_text("\n".join(lines) + "\n")


def _stored_dimensions(p: dict) -> dict[str, str]:
    """A pushed point's dimensions as stored: a money point's currency is part of its key."""
    return {**p["dimensions"], "currency": p["currency"]} if "currency" in p else p["dimensions"]
