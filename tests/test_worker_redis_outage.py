"""A worker that outlives Redis: cut between the worker and Redis (a fault proxy, never the shared Redis itself), the
worker pauses job pickup and carries on once Redis is back, whether the outage comes while it runs or while it
starts; and SIGTERM still stops it cleanly while it waits. (arq's plain worker exits within a second of the cut.)"""

import asyncio
import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from services.api.main import create_app
from shared.db.scoping import allow_all_orgs
from shared.metrics.models import MetricPoint
from tests import support
from tests.conftest import client_for
from tests.faultproxy import FaultProxy, free_port
from tests.ingest_support import point, push, wait_done

pytestmark = pytest.mark.postgres_only  # the separate arq worker process of the Postgres run
OUTAGE_S = 5  # arq's own worker is gone well within this
STARTUP_OUTAGE_S = 7  # longer than arq's own 5 connection retries, 1 s apart


def _env(settings, queue: str, proxy: FaultProxy, metrics_port: int) -> dict[str, str]:
    return {
        "DATABASE_URL": settings.database_url,
        "REDIS_URL": proxy.url(settings.redis_url),
        "QUEUE_NAME": queue,
        "WORKER_METRICS_PORT": str(metrics_port),
        "LOG_LEVEL": "INFO",
    }


async def _gauge(port: int, queue: str) -> float | None:
    """kpi_worker_redis_connected for the queue, from the worker's /metrics (None: not served or no sample)."""
    try:
        async with httpx.AsyncClient(timeout=2) as c:
            text = (await c.get(f"http://127.0.0.1:{port}/metrics")).text
    except httpx.HTTPError:
        return None
    found = re.search(rf'^kpi_worker_redis_connected\{{queue="{re.escape(queue)}"\}} (\S+)$', text, re.M)
    return float(found.group(1)) if found else None


async def _gauge_is(port: int, queue: str, value: float) -> bool:
    return await _gauge(port, queue) == value


async def _until(condition, what: str, timeout_s: float = 10) -> None:
    deadline = time.monotonic() + timeout_s
    while not await condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.1)


def _spawn(env: dict[str, str], log_path: Path) -> subprocess.Popen:
    """`python -m services.kpi_engine` without waiting for its health key (support.start_worker waits for it)."""
    with log_path.open("w") as log_file:
        proc = subprocess.Popen(
            [sys.executable, "-m", "services.kpi_engine"],
            cwd=support.ROOT,
            env={**os.environ, **env},
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    proc.log_path = log_path
    return proc


def _log(proc) -> str:
    return Path(proc.log_path).read_text()


async def _push_and_check(settings, state, keys, org, queue: str, campaigns: int) -> None:
    """A batch through the API (which reaches Redis directly) on the worker's queue: processed, counted once."""
    points = [point("leads", 2, "2026-09-01", "increment", channel="meta", campaign=f"c{c}") for c in range(campaigns)]
    async with state.db.sessionmaker() as session:
        allow_all_orgs(session)
        before = await session.scalar(
            select(func.coalesce(func.sum(MetricPoint.value), 0)).where(MetricPoint.org_id == org.id)
        )
    app = create_app(settings.model_copy(update={"queue_name": queue}))
    async with client_for(app) as c:
        r = await push(c, keys.headers("ingest"), points)
        assert r.status_code == 202, r.text
        batch = await wait_done(c, keys.headers("ingest"), r.json()["batch_id"], timeout_s=20)
    assert (batch["status"], batch["inserted"] + batch["incremented"]) == ("done", campaigns), batch
    async with state.db.sessionmaker() as session:
        allow_all_orgs(session)
        after = await session.scalar(
            select(func.coalesce(func.sum(MetricPoint.value), 0)).where(MetricPoint.org_id == org.id)
        )
    assert int(after) - int(before) == 2 * campaigns


async def test_the_worker_outlives_a_redis_outage(settings, database, worker, state, keys, org):
    queue = f"{settings.queue_name}:outage"
    port = free_port()
    proxy = FaultProxy.for_url(settings.redis_url).start()
    proc = support.start_worker(_env(settings, queue, proxy, port), f"{queue}:health-check", settings.redis_url)
    try:
        connected_before = await _gauge(port, queue)  # checked after the outage, so that arq's own worker fails there

        proxy.cut()
        await asyncio.sleep(OUTAGE_S)
        assert proc.poll() is None, f"the worker exited during the outage:\n{_log(proc)}"
        assert (connected_before, await _gauge(port, queue)) == (1, 0)
        assert _log(proc).count("redis unreachable, pausing job pickup") == 1, "one warning per outage"

        proxy.restore()
        await _until(lambda: _gauge_is(port, queue, 1), "the worker to reach Redis again")
        assert "redis reachable again after" in _log(proc)
        await _push_and_check(settings, state, keys, org, queue, campaigns=50)
        assert proc.poll() is None

        # SIGTERM while it waits for Redis: a clean stop, not a hang or a traceback.
        proxy.cut()
        await _until(lambda: _gauge_is(port, queue, 0), "the worker to notice the second outage")
        proc.terminate()
        assert await asyncio.to_thread(proc.wait, 10) == 0, _log(proc)
        assert "Traceback" not in _log(proc)
    finally:
        if proc.poll() is None:
            support.stop_worker(proc)
        proxy.close()


async def test_a_worker_started_while_redis_is_down_comes_up_once_it_is_back(
    settings, database, worker, state, keys, org
):
    queue = f"{settings.queue_name}:late-redis"
    proxy = FaultProxy.for_url(settings.redis_url).start()
    proxy.cut()
    restore = threading.Timer(STARTUP_OUTAGE_S, proxy.restore)
    restore.start()
    proc = None
    try:
        proc = await asyncio.to_thread(
            support.start_worker,
            _env(settings, queue, proxy, free_port()),
            f"{queue}:health-check",
            settings.redis_url,
            STARTUP_OUTAGE_S + 20,
        )
        assert "redis unreachable at startup" in _log(proc)
        await _push_and_check(settings, state, keys, org, queue, campaigns=5)
        assert proc.poll() is None
    finally:
        restore.cancel()
        if proc is not None:
            support.stop_worker(proc)
        proxy.close()


async def test_sigterm_stops_a_worker_waiting_for_redis_at_startup(settings, tmp_path):
    queue = f"{settings.queue_name}:never-redis"
    proxy = FaultProxy.for_url(settings.redis_url).start()
    proxy.cut()
    try:
        proc = _spawn(_env(settings, queue, proxy, free_port()), tmp_path / "worker.log")
        try:

            async def waiting() -> bool:
                assert proc.poll() is None, _log(proc)
                return "redis unreachable at startup" in _log(proc)

            await _until(waiting, "the worker to wait for Redis", timeout_s=20)
            proc.terminate()
            assert await asyncio.to_thread(proc.wait, 10) == 0, _log(proc)
            assert "Traceback" not in _log(proc)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    finally:
        proxy.close()
