"""Liveness, readiness (database, queue, optionally a job round trip) and Prometheus metrics."""

from typing import Annotated

from fastapi import APIRouter, Query, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic.json_schema import JsonDict

from services.api.deps import StateDep
from services.api.health import service
from services.api.observability.prometheus import REGISTRY
from services.api.problems import RETRY_AFTER_S, problem_response, problem_responses
from shared.telemetry import JOB_REGISTRY

router = APIRouter(tags=["operations"])


_READY_EXAMPLE: JsonDict = {
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
    results = await service.readiness(state, deep=deep)
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
    await service.refresh_gauges(state)
    return Response(generate_latest(REGISTRY) + generate_latest(JOB_REGISTRY), media_type=CONTENT_TYPE_LATEST)
