"""A 202 is a promise: every accepted point is counted exactly once while batches overlap, workers are killed and
Postgres or Redis go away (issue 11; docs/domains/ingest.md "Guarantee").

Every scenario pushes batches that overlap on the same keys — two sources, opposite key orders, increments and
snapshots — then checks every stored point and roll-up against the totals computed here: nothing lost, nothing
counted twice, every batch `done`, and each source's keys counted as new exactly once across its batches.

Faults are injected without touching the machine's Postgres and Redis: the workers reach them through a TCP proxy
of the test's own (tests/faultproxy.py), which the test cuts; only worker processes the test started are killed.
`make test` runs these short; `make reliability` runs them long (RELIABILITY=long) and prints the figures.
"""

import asyncio
import json
import os
import signal
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from services.api.main import create_app
from shared.db.scoping import allow_all_orgs
from shared.ingest.models import IngestBatch
from shared.metrics.models import MetricDaily, MetricPoint
from tests import support
from tests.conftest import TEST_RETRY_SCHEDULE_S, TEST_WEBHOOK_CIDRS, TEST_WEBHOOK_SECRET_KEY, client_for
from tests.faultproxy import FaultProxy
from tests.ingest_support import point, push, store_batch

LONG = os.environ.get("RELIABILITY", "") == "long"
SPEND = Decimal("10.5")  # every batch's snapshot of spend: the same in all, so the order of merges cannot matter


@dataclass
class Workload:
    """`batches` batches over `campaigns` × `days` keys: even ones from source `api`, odd ones from `crm`; every
    other pair in reverse key order. Each batch adds 1 lead to every key (increments) and snapshots its spend."""

    batches: int
    campaigns: int
    days: int = 5
    sent: list[str] = field(default_factory=list)

    @property
    def keys(self) -> int:
        return self.campaigns * self.days

    @property
    def points(self) -> int:
        return self.batches * self.keys * 2

    def source(self, i: int) -> str:
        return ("api", "crm")[i % 2]

    def batch(self, i: int) -> list[dict]:
        keys = [(c, d) for c in range(self.campaigns) for d in range(1, self.days + 1)]
        if (i // 2) % 2:
            keys.reverse()
        out = []
        for c, d in keys:
            day = f"2026-10-{d:02d}"
            out.append(point("leads", 1, day, "increment", channel="meta", campaign=f"c{c}"))
            out.append(point("spend", str(SPEND), day, "snapshot", channel="meta", campaign=f"c{c}"))
        return out

    def count(self, source: str) -> int:
        return sum(1 for i in range(self.batches) if self.source(i) == source)


async def push_all(client, headers, work: Workload, indices: range | None = None) -> list[str]:
    """Push the workload's batches (these of them) at once; each answers 202. Their ids."""
    indices = indices if indices is not None else range(work.batches)
    responses = await asyncio.gather(*(push(client, headers, work.batch(i), source=work.source(i)) for i in indices))
    assert [r.status_code for r in responses] == [202] * len(indices), [r.text for r in responses if r.is_error]
    ids = [r.json()["batch_id"] for r in responses]
    work.sent.extend(ids)
    return ids


async def wait_all(state, batch_ids: list[str], timeout_s: float) -> dict[str, int]:
    """Wait until no batch is pending or processing; their statuses."""
    ids = [uuid.UUID(b) for b in batch_ids]
    deadline = time.monotonic() + timeout_s
    while True:
        async with state.db.sessionmaker() as session:
            allow_all_orgs(session)
            rows = (
                await session.execute(
                    select(IngestBatch.status, func.count()).where(IngestBatch.id.in_(ids)).group_by(IngestBatch.status)
                )
            ).all()
        statuses = {status.value: n for status, n in rows}
        if set(statuses) <= {"done", "failed"} or time.monotonic() > deadline:
            return statuses
        await asyncio.sleep(0.2)


async def any_processing(state, batch_ids: list[str], timeout_s: float = 60, since: datetime | None = None) -> None:
    """Wait until a worker is merging one of the batches (one it started after `since`)."""
    ids = [uuid.UUID(b) for b in batch_ids]
    deadline = time.monotonic() + timeout_s
    started_after = since or datetime(2000, 1, 1, tzinfo=UTC)
    while True:
        async with state.db.sessionmaker() as session:
            allow_all_orgs(session)
            n = await session.scalar(
                select(func.count()).where(
                    IngestBatch.id.in_(ids), IngestBatch.status == "processing", IngestBatch.started_at > started_after
                )
            )
        if n:
            return
        assert time.monotonic() < deadline, "no batch was picked up"
        await asyncio.sleep(0.02)


@dataclass
class Verdict:
    statuses: dict[str, int]
    lost: int  # keys whose stored value is below what was accepted
    duplicated: int  # keys whose stored value is above it
    rollup_wrong: int
    new_keys: dict[str, int]
    counts: dict[str, tuple[int, int, int]]  # per source: inserted, replaced or superseded, incremented


async def verify(state, org_id: uuid.UUID, work: Workload, statuses: dict[str, int]) -> Verdict:
    """Every stored point and roll-up of the org against the workload's exact totals."""
    async with state.db.sessionmaker() as session:
        allow_all_orgs(session)
        points = (
            await session.execute(
                select(
                    MetricPoint.metric_key, MetricPoint.source, MetricPoint.day, MetricPoint.dims_key, MetricPoint.value
                ).where(MetricPoint.org_id == org_id)
            )
        ).all()
        daily = (
            await session.execute(
                select(
                    MetricDaily.metric_key,
                    MetricDaily.day,
                    MetricDaily.dims_key,
                    MetricDaily.value_sum,
                    MetricDaily.value_count,
                ).where(MetricDaily.org_id == org_id)
            )
        ).all()
        batches = (
            await session.execute(
                select(
                    IngestBatch.source,
                    func.sum(IngestBatch.inserted),
                    func.sum(IngestBatch.replaced + IngestBatch.superseded),
                    func.sum(IngestBatch.incremented),
                )
                .where(IngestBatch.id.in_([uuid.UUID(b) for b in work.sent]))
                .group_by(IngestBatch.source)
            )
        ).all()
    sources = [s for s in ("api", "crm") if work.count(s)]
    expected = {("leads", s): Decimal(work.count(s)) for s in sources} | {("spend", s): SPEND for s in sources}
    seen: Counter = Counter()
    lost = duplicated = 0
    for metric, source, _day, _dims, value in points:
        seen[(metric, source)] += 1
        want = expected.get((metric, source))
        lost += want is None or value < want
        duplicated += want is not None and value > want
    # A key never stored at all is lost too.
    lost += sum(work.keys - seen[k] for k in expected if seen[k] < work.keys)
    want_daily = {"leads": sum(expected[("leads", s)] for s in sources), "spend": SPEND * len(sources)}
    rollup_wrong = sum(1 for m, _d, _k, total, count in daily if total != want_daily[m] or count != len(sources))
    rollup_wrong += 2 * work.keys - len(daily)
    return Verdict(
        statuses,
        lost,
        duplicated,
        rollup_wrong,
        {s: int(n or 0) for s, n, _, _ in batches},
        {s: (int(n or 0), int(r or 0), int(i or 0)) for s, n, r, i in batches},
    )


def assert_exact(verdict: Verdict, work: Workload) -> None:
    assert verdict.statuses == {"done": work.batches}, f"every batch done, none failed: {verdict.statuses}"
    assert (verdict.lost, verdict.duplicated, verdict.rollup_wrong) == (0, 0, 0), verdict
    # Each source's keys are new exactly once across its batches, however their merges interleaved.
    sources = {work.source(i) for i in range(work.batches)}
    assert verdict.new_keys == {s: work.keys * 2 for s in sources}, verdict.new_keys
    # And every other touch of a key is counted once as what it was: each later batch of a source replaces (or, merged
    # before an earlier-accepted one, supersedes) its spend snapshots and increments its leads, whatever the overlap.
    assert verdict.counts == {
        s: (work.keys * 2, work.keys * (work.count(s) - 1), work.keys * (work.count(s) - 1)) for s in sources
    }, verdict.counts


def report(name: str, work: Workload, verdict: Verdict, **faults) -> None:
    """The figures `make reliability` prints."""
    figures = {"batches": work.batches, "points": work.points, **faults}
    figures["failed"] = verdict.statuses.get("failed", 0)
    figures["duplicates"] = verdict.duplicated
    figures["lost"] = verdict.lost
    line = f"{name}: " + ", ".join(f"{k} {v}" for k, v in figures.items())
    support.ARTIFACTS.mkdir(exist_ok=True)
    with (support.ARTIFACTS / f"reliability-{support.BACKEND}.txt").open("a") as out:
        out.write(line + "\n")


# --- both backends: batches at once over the same keys --------------------------------------------------------


async def test_overlapping_batches_are_each_counted_once(client, state, org, keys):
    """Several sources pushing the same keys at once, in opposite orders: every batch done, totals exact."""
    work = Workload(batches=12 if LONG else 6, campaigns=500 if LONG else 150)
    ids = await push_all(client, keys.headers("ingest"), work)
    verdict = await verify(state, org.id, work, await wait_all(state, ids, timeout_s=300))
    report("overlap (in the suite's worker)", work, verdict)
    assert_exact(verdict, work)


# --- Postgres + Redis + workers the test starts ----------------------------------------------------------------


@dataclass
class Rig:
    """A queue of the test's own, an app enqueuing on it, and the worker processes consuming it."""

    settings: object
    queue: str
    env: dict[str, str]
    workers: list = field(default_factory=list)
    kills: int = 0

    def start_worker(self) -> None:
        self.workers.append(support.start_worker(self.env, f"{self.queue}:health-check", self.settings.redis_url))

    def kill(self, i: int) -> None:
        os.kill(self.workers[i].pid, signal.SIGKILL)
        self.workers[i].wait(10)
        self.kills += 1

    def alive(self) -> bool:
        return all(w.poll() is None for w in self.workers)

    def stop(self) -> None:
        for w in self.workers:
            if w.poll() is None:
                support.stop_worker(w)


def make_rig(settings, *, database_url: str | None = None, redis_url: str | None = None, job_timeout_s: int = 30):
    queue = f"{settings.queue_name}:faults:{uuid.uuid4().hex[:8]}"
    env = {
        "DATABASE_URL": database_url or settings.database_url,
        "REDIS_URL": redis_url or settings.redis_url,
        "QUEUE_NAME": queue,
        "JOB_TIMEOUT_S": str(job_timeout_s),
        "LOG_LEVEL": "INFO",
        "WEBHOOK_ALLOWED_CIDRS": json.dumps(TEST_WEBHOOK_CIDRS),
        "WEBHOOK_RETRY_SCHEDULE_S": json.dumps(TEST_RETRY_SCHEDULE_S),
        "WEBHOOK_SECRET_KEY": TEST_WEBHOOK_SECRET_KEY,
        # The fault tests' own crons would only add noise (the sweeper is tested on its own).
        "INGEST_PENDING_GRACE_S": "600",
    }
    return Rig(settings, queue, env)


@pytest.fixture
def rig(settings, database, worker):
    rigs: list[Rig] = []

    def build(**kwargs) -> Rig:
        rigs.append(make_rig(settings, **kwargs))
        return rigs[-1]

    yield build
    for r in rigs:
        r.stop()


@pytest.mark.postgres_only
@pytest.mark.parametrize("workers", [1, 2])
async def test_queued_overlapping_batches_picked_up_at_once(settings, state, keys, org, rig, workers):
    """Batches queued first, then taken at once by one or two workers (the case that deadlocked): all done."""
    r = rig()
    work = Workload(batches=16 if LONG else 6, campaigns=1000 if LONG else 300)
    async with client_for(create_app(settings.model_copy(update={"queue_name": r.queue}))) as c:
        ids = await push_all(c, keys.headers("ingest"), work)
        for _ in range(workers):
            r.start_worker()
        statuses = await wait_all(state, ids, timeout_s=300)
    verdict = await verify(state, org.id, work, statuses)
    report(f"overlap ({workers} workers)", work, verdict, workers=workers)
    assert_exact(verdict, work)
    assert r.alive()


async def outage_scenario(settings, state, keys, org, rig, *, cut: str, after=None) -> tuple[Workload, Verdict, bool]:
    """Two workers merge overlapping batches while their link to `cut` ("database" or "redis") is cut through a
    proxy and restored, once per wave of batches (each cut lands while that wave merges); then, if given,
    `after(settings)` runs while a last wave merges. The verdict, and whether the workers lived."""
    outage_s, outages = (10, 3) if LONG else (3, 1)
    per_wave = 4
    waves = [range(w * per_wave, (w + 1) * per_wave) for w in range(outages + (after is not None))]
    url = settings.database_url if cut == "database" else settings.redis_url
    proxy = FaultProxy.for_url(url).start()
    r = rig(**{f"{cut}_url": proxy.url(url)})
    work = Workload(batches=per_wave * len(waves), campaigns=1500 if LONG else 1000)
    headers, extra = keys.headers("ingest"), {}
    try:
        async with client_for(create_app(settings.model_copy(update={"queue_name": r.queue}))) as c:
            first = await push_all(c, headers, work, waves[0])  # queued before any worker runs
            r.start_worker()
            r.start_worker()
            restored = None
            for w in range(outages):
                wave = first if w == 0 else await push_all(c, headers, work, waves[w])
                await any_processing(state, wave, since=restored)
                proxy.cut()
                await asyncio.sleep(outage_s)
                proxy.restore()
                restored = datetime.now(UTC)
            if after is not None:
                await push_all(c, headers, work, waves[-1])
                extra = await after(settings)
            statuses = await wait_all(state, work.sent, timeout_s=300)
            alive = r.alive()
    finally:
        r.stop()  # before the proxy goes: a worker cut off at teardown would only log noise
        proxy.close()
    verdict = await verify(state, org.id, work, statuses)
    report(f"{cut} cut", work, verdict, outages=outages, outage_s=outage_s, **extra)
    return work, verdict, alive


async def terminate_a_merge(settings, timeout_s: float = 60) -> dict[str, int]:
    """`pg_terminate_backend` on a connection in the middle of a merge (a statement on the staging table): the worker
    gets SQLSTATE 57P01, "terminating connection due to administrator command", as in a Postgres shutdown."""
    import asyncpg
    from sqlalchemy.engine import make_url

    url = make_url(settings.database_url)
    conn = await asyncpg.connect(
        host=url.host, port=url.port or 5432, user=url.username, password=url.password, database=url.database
    )
    try:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            killed = await conn.fetchval(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = current_database() "
                "AND pid <> pg_backend_pid() AND state = 'active' AND query LIKE '%ingest_staging%'"
            )
            if killed:
                return {"terminated": killed}
            await asyncio.sleep(0.01)
        raise AssertionError("no merge was running to terminate")
    finally:
        await conn.close()


@pytest.mark.postgres_only
async def test_postgres_cut_mid_merge_loses_nothing(settings, state, keys, org, rig):
    """The workers' link to Postgres is cut while they merge, and restored; then a merging connection is terminated
    by the server (what a shutdown does): every batch done, totals exact, the workers alive."""
    work, verdict, alive = await outage_scenario(
        settings, state, keys, org, rig, cut="database", after=terminate_a_merge
    )
    assert_exact(verdict, work)
    assert alive, "the workers outlived the outage"


@pytest.mark.postgres_only
async def test_redis_cut_while_batches_merge_loses_nothing(settings, state, keys, org, rig):
    """The workers' link to Redis is cut while they work, and restored: they carry on, totals exact."""
    work, verdict, alive = await outage_scenario(settings, state, keys, org, rig, cut="redis")
    assert_exact(verdict, work)
    assert alive, "the workers outlived the outage"


@pytest.mark.postgres_only
async def test_workers_sigkilled_mid_merge_lose_nothing(settings, state, keys, org, rig):
    """Workers SIGKILLed while they merge and started again: every batch done once, totals exact."""
    kills = 10 if LONG else 2  # rounds; each kills both workers
    # A killed job is run again once its in-progress key expires (job timeout + 10 s): keep the timeout short.
    r = rig(job_timeout_s=10)
    work = Workload(batches=kills + 4, campaigns=1500)
    async with client_for(create_app(settings.model_copy(update={"queue_name": r.queue}))) as c:
        ids = await push_all(c, keys.headers("ingest"), work)
        r.start_worker()
        r.start_worker()
        last_kill = None
        for _ in range(kills):
            await any_processing(state, ids, timeout_s=120, since=last_kill)
            # Every worker at once, so the one merging is among them; then both start again.
            for i in range(len(r.workers)):
                r.kill(i)
            last_kill = datetime.now(UTC)
            r.workers = []
            r.start_worker()
            r.start_worker()
        statuses = await wait_all(state, ids, timeout_s=600)
    verdict = await verify(state, org.id, work, statuses)
    report("sigkill", work, verdict, kills=r.kills)
    assert_exact(verdict, work)
    assert r.alive()


async def test_a_snapshot_merged_late_never_overwrites_a_later_accepted_one(client, state, org, keys):
    """Two restatements of one key from one source, accepted in order but merged in reverse (a backlog after an
    outage, two workers): the later-accepted value stays, and the late batch says it was superseded."""
    from shared.ingest.pipeline import process_job_id
    from shared.ingest.points import Mode
    from shared.ingest.points import Point as StoredPoint
    from shared.jobs.handles import PROCESS_BATCH

    day = datetime(2026, 10, 3, tzinfo=UTC).date()

    def stored(value: str) -> list[StoredPoint]:
        return [StoredPoint("spend", Decimal(value), day, {"channel": "meta"}, Mode.snapshot)]

    # Stored as the API stores accepted batches, in acceptance order; no job runs them yet.
    early = await store_batch(state.db, org.id, stored("100.00"), source="meta")
    late = await store_batch(state.db, org.id, stored("120.00"), source="meta")
    headers = keys.headers("ingest")
    for batch_id in (late, early):  # merged in reverse
        await PROCESS_BATCH.enqueue(state.queue, job_id=process_job_id(batch_id, 1), batch_id=str(batch_id))
        await wait_all(state, [str(batch_id)], timeout_s=30)
    first = (await client.get(f"/v1/ingest/batches/{late}", headers=headers)).json()
    second = (await client.get(f"/v1/ingest/batches/{early}", headers=headers)).json()
    assert (first["status"], first["inserted"], first["superseded"]) == ("done", 1, 0), first
    assert (second["status"], second["replaced"], second["superseded"]) == ("done", 0, 1), second
    async with state.db.sessionmaker() as session:
        allow_all_orgs(session)
        value = await session.scalar(select(MetricPoint.value).where(MetricPoint.org_id == org.id))
        daily = await session.scalar(select(MetricDaily.value_sum).where(MetricDaily.org_id == org.id))
    assert value == daily == Decimal("120.00")
