"""The checks behind /health/ready, and the gauges /metrics reads fresh at each scrape."""

import asyncio
import logging
import math
import secrets
from typing import Any

from sqlalchemy import text

from services.api.observability.prometheus import DATABASE_UP, INGEST_BATCHES_BY_STATUS, JOBS_QUEUED, QUEUE_UP
from services.api.state import AppState
from shared.db.scoping import allow_all_orgs
from shared.ingest.models import BatchStatus
from shared.ingest.pipeline import batch_counts
from shared.jobs.handles import SELFTEST

log = logging.getLogger(__name__)
CHECK_TIMEOUT_S = 3.0
SELFTEST_TIMEOUT_S = 10.0


async def _check(name: str, probe, timeout_s: float = CHECK_TIMEOUT_S) -> tuple[str, dict[str, Any]]:
    try:
        detail = await asyncio.wait_for(probe(), timeout_s)
        return name, {"ok": True, **(detail or {})}
    except Exception as exc:
        log.warning("readiness check %s failed: %r", name, exc)
        return name, {"ok": False, "error": f"{type(exc).__name__}: {exc}"[:300]}


async def _database(state: AppState) -> None:
    async with state.db.engine.connect() as conn:
        await conn.execute(text("SELECT 1"))


async def _queue(state: AppState) -> dict[str, Any]:
    await state.queue.ping()
    return {"mode": state.queue.mode}


async def _selftest(state: AppState) -> dict[str, Any]:
    nonce = secrets.token_hex(8)
    result = await SELFTEST.run_and_wait(state.queue, timeout_s=SELFTEST_TIMEOUT_S, nonce=nonce)
    if not isinstance(result, dict) or result.get("nonce") != nonce or not result.get("database"):
        raise RuntimeError(f"self-test job answered {result!r}")
    return {"ran_in": {"pid": result["pid"], "host": result["host"]}}


async def readiness(state: AppState, *, deep: bool) -> dict[str, dict[str, Any]]:
    """Each check's outcome by name (`ok`, and `error` when it failed): the database, the queue and, when `deep`,
    the self-test job through the queue and a worker."""
    checks = [_check("database", lambda: _database(state)), _check("queue", lambda: _queue(state))]
    results = dict(await asyncio.gather(*checks))
    if deep:
        # A longer budget than the plain checks: the worker may be busy for a moment.
        name, outcome = await _check("selftest", lambda: _selftest(state), SELFTEST_TIMEOUT_S + 1)
        results[name] = outcome
    return results


async def refresh_gauges(state: AppState) -> None:
    """Read the queue depth and the ingest batch counts into their gauges: NaN (and the `*_up` gauge 0) for what
    cannot be read, never a stale or false number."""
    try:
        queued = await asyncio.wait_for(state.queue.queued_count(), CHECK_TIMEOUT_S)
    except Exception as exc:
        # Unknown is not 0: an empty queue and an unreachable one must not look alike on a dashboard.
        log.warning("queue depth unavailable: %r", exc)
        JOBS_QUEUED.set(math.nan)
        QUEUE_UP.set(0)
    else:
        JOBS_QUEUED.set(queued)
        QUEUE_UP.set(1)
    try:
        async with state.db.sessionmaker() as session:
            allow_all_orgs(session)
            counts = await asyncio.wait_for(batch_counts(session), CHECK_TIMEOUT_S)
    except Exception as exc:
        # Stale counts would read as a healthy, frozen pipeline: unknown while the database cannot be read.
        log.warning("batch counts unavailable: %r", exc)
        DATABASE_UP.set(0)
        for status in BatchStatus:
            INGEST_BATCHES_BY_STATUS.labels(status.value).set(math.nan)
    else:
        DATABASE_UP.set(1)
        for status in BatchStatus:
            INGEST_BATCHES_BY_STATUS.labels(status.value).set(counts.get(status.value, 0))
