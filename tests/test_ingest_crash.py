"""A worker killed in the middle of a batch: after a restart the result equals a clean run (Postgres + Redis +
real arq worker processes; the SQLite run has no separate worker to kill)."""

import asyncio
import os
import signal
import time

import pytest
from sqlalchemy import func, select

from services.api.main import create_app
from shared.db.scoping import allow_all_orgs
from shared.ingest.models import IngestBatch
from shared.metrics.models import MetricDaily, MetricPoint
from tests import support
from tests.conftest import client_for
from tests.ingest_support import point, push, wait_done

pytestmark = pytest.mark.postgres_only  # needs the separate arq worker of the Postgres run
DAYS, CAMPAIGNS = 30, 1000  # 30,000 increment points: long enough to be killed mid-merge


async def _status(state, batch_id) -> str:
    async with state.db.sessionmaker() as session:
        allow_all_orgs(session)
        return await session.scalar(select(IngestBatch.status).where(IngestBatch.id == batch_id))


async def test_a_worker_killed_mid_batch_is_rerun_to_the_same_result(settings, database, worker, state, keys, org):
    queue = f"{settings.queue_name}:crash"
    env = {
        "DATABASE_URL": settings.database_url,
        "REDIS_URL": settings.redis_url,
        "QUEUE_NAME": queue,
        "JOB_TIMEOUT_S": "15",  # the re-run must finish inside it on a slow, busy CI machine
        "LOG_LEVEL": "INFO",
    }
    health = f"{queue}:health-check"
    first = support.start_worker(env, health, settings.redis_url)
    points = [
        point("leads", 1, f"2026-10-{day:02d}", "increment", channel="meta", campaign=f"c{c}")
        for day in range(1, DAYS + 1)
        for c in range(CAMPAIGNS)
    ]
    app = create_app(settings.model_copy(update={"queue_name": queue}))
    async with client_for(app) as c:
        r = await push(c, keys.headers("ingest"), points)
        assert r.status_code == 202
        batch_id = r.json()["batch_id"]
        deadline = time.monotonic() + 30
        while await _status(state, batch_id) != "processing":
            assert time.monotonic() < deadline, "the worker never picked the batch up"
            await asyncio.sleep(0.01)
        os.kill(first.pid, signal.SIGKILL)
        first.wait(10)
        assert await _status(state, batch_id) == "processing", "killed before the merge committed"
        async with state.db.sessionmaker() as session:
            allow_all_orgs(session)
            half = await session.scalar(
                select(func.count()).select_from(MetricPoint).where(MetricPoint.org_id == org.id)
            )
        assert half == 0, "nothing of a killed merge is visible"

        second = support.start_worker(env, health, settings.redis_url)
        try:
            batch = await wait_done(c, keys.headers("ingest"), batch_id, timeout_s=90)
        finally:
            support.stop_worker(second)
    assert (batch["status"], batch["inserted"], batch["incremented"], batch["attempts"]) == (
        "done",
        DAYS * CAMPAIGNS,
        0,
        2,
    )
    async with state.db.sessionmaker() as session:
        allow_all_orgs(session)
        total, rows = (
            await session.execute(select(func.sum(MetricPoint.value), func.count()).where(MetricPoint.org_id == org.id))
        ).one()
        daily = await session.scalar(select(func.sum(MetricDaily.value_sum)).where(MetricDaily.org_id == org.id))
    assert (int(total), rows, int(daily)) == (DAYS * CAMPAIGNS, DAYS * CAMPAIGNS, DAYS * CAMPAIGNS), (
        "every increment counted exactly once"
    )
