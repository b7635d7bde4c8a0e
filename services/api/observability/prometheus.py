"""Prometheus metrics of the API process, exposed at GET /metrics."""

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

REGISTRY = CollectorRegistry(auto_describe=True)

HTTP_REQUESTS = Counter("http_requests_total", "HTTP requests served", ["method", "route", "status"], registry=REGISTRY)
HTTP_LATENCY = Histogram(
    "http_request_duration_seconds",
    "Time from request start to response end",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
    registry=REGISTRY,
)
JOBS_QUEUED = Gauge(
    "kpi_jobs_queued",
    "Jobs waiting in the queue (arq) or running in-process (embedded); NaN while the queue cannot be read",
    registry=REGISTRY,
)
QUEUE_UP = Gauge(
    "kpi_queue_up", "1 when the last scrape could read the job queue (Redis), 0 when it could not", registry=REGISTRY
)
DATABASE_UP = Gauge(
    "kpi_database_up", "1 when the last scrape could read the database, 0 when it could not", registry=REGISTRY
)
INGEST_BATCHES_BY_STATUS = Gauge(
    "kpi_ingest_batches",
    "Ingest batches in the database, by status (all organisations); NaN while the database cannot be read",
    ["status"],
    registry=REGISTRY,
)
