"""Operators probe liveness and readiness, and scrape Prometheus metrics."""

import os
import re

import httpx

from services.api.main import create_app
from shared.ingest.models import BatchStatus
from tests.conftest import client_for
from tests.support import BACKEND


async def test_live_says_ok(client):
    r = await client.get("/health/live")
    assert r.status_code == 200 and r.json() == {"status": "ok"}


async def test_ready_checks_database_and_queue(client):
    r = await client.get("/health/ready")
    assert r.status_code == 200
    checks = r.json()["checks"]
    assert checks["database"]["ok"] is True
    assert checks["queue"] == {"ok": True, "mode": "arq" if BACKEND == "postgres" else "in-process"}


async def test_deep_ready_runs_the_self_test_job_through_the_worker(client):
    r = await client.get("/health/ready?deep=1")
    assert r.status_code == 200, r.text
    ran_in = r.json()["checks"]["selftest"]["ran_in"]
    if BACKEND == "postgres":
        assert ran_in["pid"] != os.getpid(), "with Redis the job must run in the separate arq worker"
    else:
        assert ran_in["pid"] == os.getpid()


async def _ready_of(settings) -> httpx.Response:
    async with client_for(create_app(settings)) as c:
        return await c.get("/health/ready")


async def test_ready_is_503_naming_the_database_when_it_points_nowhere(settings):
    r = await _ready_of(settings.model_copy(update={"database_url": "postgresql+asyncpg://x@127.0.0.1:1/none"}))
    assert r.status_code == 503
    assert r.headers["content-type"] == "application/problem+json"
    assert r.headers["retry-after"].isdigit(), "a 503 says when to try again, like every other 503 of the service"
    body = r.json()
    assert body["detail"] == "Failing: database."
    assert body["checks"]["database"]["ok"] is False
    assert body["checks"]["queue"]["ok"] is True


async def test_ready_is_503_naming_the_queue_when_redis_points_nowhere(settings, database):
    r = await _ready_of(settings.model_copy(update={"redis_url": "redis://127.0.0.1:1/0"}))
    assert r.status_code == 503
    assert r.headers["retry-after"].isdigit()
    assert r.json()["detail"] == "Failing: queue."
    assert r.json()["checks"]["database"]["ok"] is True


async def test_metrics_count_requests_by_route_template(client, org):
    await client.get("/v1/api-keys", headers=org.headers)
    await client.delete(f"/v1/api-keys/{org.admin_key_id}", headers=org.headers)
    await client.get("/v1/teams", headers=org.headers)  # routers inside routers: labelled with their full path too
    await client.get("/v1/kpis/not-an-id", headers=org.headers)
    r = await client.get("/metrics")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/plain")
    text = r.text
    assert 'http_requests_total{method="GET",route="/v1/api-keys",status="200"}' in text
    assert 'http_requests_total{method="DELETE",route="/v1/api-keys/{key_id}",status="409"}' in text
    assert 'http_requests_total{method="GET",route="/v1/teams",status="200"}' in text
    assert 'http_requests_total{method="GET",route="/v1/kpis/{kpi_id}",status="422"}' in text
    assert 'route="/teams"' not in text and 'route="/kpis/{kpi_id}"' not in text
    assert str(org.admin_key_id) not in text, "ids must not become label values"
    assert "http_request_duration_seconds_bucket" in text
    assert "kpi_jobs_queued " in text


async def test_metrics_say_the_queue_is_down_instead_of_a_false_0(settings, database, client):
    async with client_for(create_app(settings.model_copy(update={"redis_url": "redis://127.0.0.1:1/0"}))) as c:
        text = (await c.get("/metrics")).text
    assert "kpi_queue_up 0.0" in text
    assert "kpi_jobs_queued NaN" in text

    text = (await client.get("/metrics")).text  # the queue that answers
    assert "kpi_queue_up 1.0" in text
    assert "kpi_jobs_queued NaN" not in text


BATCH_STATUSES = tuple(status.value for status in BatchStatus)


def _batch_gauges(text: str) -> dict[str, str]:
    return dict(re.findall(r'^kpi_ingest_batches\{status="(\w+)"\} (\S+)$', text, re.M))


async def test_metrics_say_the_database_is_down_instead_of_stale_batch_counts(settings, database, client, org):
    """While the database cannot be read, `kpi_database_up` is 0 and the batch counts are NaN — not the last counts
    some earlier scrape read, which would look like a healthy pipeline frozen in place."""
    text = (await client.get("/metrics")).text  # real counts first, so stale ones would be there to keep
    assert "kpi_database_up 1.0" in text
    assert set(_batch_gauges(text)) == set(BATCH_STATUSES)
    assert "NaN" not in _batch_gauges(text).values()

    nowhere = settings.model_copy(
        update={"database_url": "postgresql+asyncpg://x@127.0.0.1:1/none", "run_crons": False}
    )
    async with client_for(create_app(nowhere)) as c:
        r = await c.get("/metrics")
    assert r.status_code == 200
    assert "kpi_database_up 0.0" in r.text
    assert _batch_gauges(r.text) == dict.fromkeys(BATCH_STATUSES, "NaN")

    text = (await client.get("/metrics")).text  # the database that answers
    assert "kpi_database_up 1.0" in text
    assert "NaN" not in _batch_gauges(text).values()
