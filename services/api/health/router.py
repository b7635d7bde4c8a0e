"""Liveness, readiness (database, queue, optionally a job round trip) and Prometheus metrics."""

import asyncio
import logging
import math
import secrets
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text

from services.api.deps import StateDep
from services.api.observability.metrics import (
    DATABASE_UP,
    INGEST_BATCHES_BY_STATUS,
    JOBS_QUEUED,
    QUEUE_UP,
    REGISTRY,
)
from services.api.problems import RETRY_AFTER_S, problem_response, problem_responses
from services.api.state import AppState
from shared.db.scoping import allow_all_orgs
from shared.ingest.models import BatchStatus
from shared.ingest.pipeline import batch_counts
from shared.jobs.handles import SELFTEST
from shared.telemetry import JOB_REGISTRY

log = logging.getLogger(__name__)
router = APIRouter(tags=["operations"])
CHECK_TIMEOUT_S = 3.0
SELFTEST_TIMEOUT_S = 10.0


_READY_EXAMPLE = {
    "status": "ready",
    "checks": {"database": {"ok": True}, "queue": {"ok": True, "mode": "arq"}},
}
_METRICS_EXAMPLE = (
    "# HELP http_requests_total HTTP requests answered\n# TYPE http_requests_total counter\n"
    'http_requests_total{method="GET",route="/v1/kpis",status="200"} 42.0\n'
    "# HELP kpi_jobs_queued Jobs waiting in the queue\n# TYPE kpi_jobs_queued gauge\nkpi_jobs_queued 0.0\n"
    "# HELP kpi_queue_up 1 when the last scrape could read the job queue\n# TYPE kpi_queue_up gauge\nkpi_queue_up 1.0\n"
    "# HELP kpi_database_up 1 when the last scrape could read the database\n# TYPE kpi_database_up gauge\n"
    "kpi_database_up 1.0\n"
)


@router.get(
    "/health/live",
    summary="Liveness",
    responses={200: {"content": {"application/json": {"example": {"status": "ok"}}}}},
)
async def live() -> dict[str, str]:
    """The process is up and serving. Says nothing of its dependencies (see /health/ready)."""
    return {"status": "ok"}


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


@router.get(
    "/health/ready",
    summary="Readiness",
    responses={
        200: {"description": "Every check passed", "content": {"application/json": {"example": _READY_EXAMPLE}}},
        **problem_responses(422, 503),
    },
)
async def ready(
    state: StateDep,
    deep: Annotated[bool, Query(description="Also run the self-test job through the queue and a worker")] = False,
) -> Response:
    """Ready to serve: the database answers and, when Redis is configured, the queue does too."""
    checks = [_check("database", lambda: _database(state)), _check("queue", lambda: _queue(state))]
    results = dict(await asyncio.gather(*checks))
    if deep:
        # A longer budget than the plain checks: the worker may be busy for a moment.
        name, outcome = await _check("selftest", lambda: _selftest(state), SELFTEST_TIMEOUT_S + 1)
        results[name] = outcome
    failed = sorted(name for name, outcome in results.items() if not outcome["ok"])
    if failed:
        # Retry-After as on every 503 of this service: a dependency is down, and the service recovers by itself.
        return problem_response(
            503,
            "Not ready",
            f"Failing: {', '.join(failed)}.",
            "not-ready",
            headers={"Retry-After": str(RETRY_AFTER_S)},
            checks=results,
        )
    return JSONResponse({"status": "ready", "checks": results})


@router.get(
    "/metrics",
    summary="Prometheus metrics",
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE_LATEST: {"example": _METRICS_EXAMPLE}}}},
)
async def metrics(state: StateDep) -> Response:
    """Prometheus metrics: HTTP requests and latency, queue depth, ingest batches by status, points processed
    and batch latency (the last two from jobs run in this process; the worker serves its own).

    While the queue (Redis) cannot be read, `kpi_queue_up` is 0 and `kpi_jobs_queued` is NaN, never a false 0:
    alert on `kpi_queue_up == 0`. Likewise while the database cannot be read `kpi_database_up` is 0 and every
    `kpi_ingest_batches{status}` is NaN, never the last counts read: alert on `kpi_database_up == 0`."""
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
    return Response(generate_latest(REGISTRY) + generate_latest(JOB_REGISTRY), media_type=CONTENT_TYPE_LATEST)
