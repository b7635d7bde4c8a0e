"""Prometheus metrics of the jobs, wherever they run: the worker serves them on WORKER_METRICS_PORT, and the
API's /metrics includes them (in embedded mode the jobs run in the API process)."""

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

JOB_REGISTRY = CollectorRegistry(auto_describe=True)

INGEST_POINTS = Counter("kpi_ingest_points_processed", "Metric points merged by ingest jobs", registry=JOB_REGISTRY)
INGEST_BATCHES = Counter(
    "kpi_ingest_batches_finished", "Ingest batches finished, by outcome", ["outcome"], registry=JOB_REGISTRY
)
INGEST_LATENCY = Histogram(
    "kpi_ingest_batch_latency_seconds",
    "From a batch's acceptance to its merge",
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
    registry=JOB_REGISTRY,
)

# Labelled by queue, so that a process that runs no worker (the API, whose /metrics includes this registry) exposes
# no sample at all rather than a misleading 0.
WORKER_REDIS_CONNECTED = Gauge(
    "kpi_worker_redis_connected",
    "1 while the arq worker reaches Redis, 0 while it waits for Redis (job pickup paused)",
    ["queue"],
    registry=JOB_REGISTRY,
)

# Per worker process: how the queue's jobs spread over the replicas (sum it over them for the whole queue). `retry`
# is a run that handed its job back to the queue (arq's Retry: the organisation's merge was busy, or a transient
# fault); `error` a run that raised anything else.
WORKER_JOBS = Counter(
    "kpi_worker_jobs_run",
    "Job runs by this worker process, by job name and outcome (done, retry, error)",
    ["job", "outcome"],
    registry=JOB_REGISTRY,
)
