"""The arq worker process: `make worker` (`python -m services.kpi_engine`).

It runs the jobs of shared/jobs' catalogue with the same ctx the in-process queue gives them, in a
`ResilientWorker` (services/kpi_engine/resilience.py): arq's worker, except that it waits out a Redis outage of
any length instead of exiting. (`arq services.kpi_engine.worker.WorkerSettings` still works, with arq's plain
worker, which exits when Redis goes away.)
"""

import logging
from typing import Any, ClassVar, cast

from arq import cron, func
from arq.connections import RedisSettings
from arq.typing import WorkerCoroutine
from arq.worker import get_kwargs
from prometheus_client import start_http_server

from services.kpi_engine.resilience import ResilientWorker
from shared.db.engine import make_database
from shared.jobs.catalogue import load_all_jobs
from shared.jobs.queue import ArqQueue
from shared.jobs.registry import CRONS, JOBS, cron_times
from shared.logging import configure_logging
from shared.settings import get_settings
from shared.telemetry import JOB_REGISTRY
from shared.webhooks import sealing

log = logging.getLogger("kpi_engine")
_settings = get_settings()
_metrics_served = False


def serve_metrics() -> None:
    """Serve JOB_REGISTRY on WORKER_METRICS_PORT, once per process (called before Redis is reached, so that
    kpi_worker_redis_connected shows a worker waiting for Redis at startup too)."""
    global _metrics_served
    if _settings.worker_metrics_port and not _metrics_served:
        start_http_server(_settings.worker_metrics_port, addr="0.0.0.0", registry=JOB_REGISTRY)  # noqa: S104
        _metrics_served = True


async def startup(ctx: dict[str, Any]) -> None:
    configure_logging(_settings.log_level, json_logs=_settings.log_json)
    sealing.configure(_settings.webhook_secret_key.get_secret_value() if _settings.webhook_secret_key else None)
    ctx["settings"] = _settings
    ctx["db"] = make_database(_settings)
    ctx["queue"] = ArqQueue(ctx["redis"], _settings.queue_name)
    serve_metrics()
    log.info("worker started", extra={"queue": _settings.queue_name, "jobs": sorted(load_all_jobs())})


async def shutdown(ctx: dict[str, Any]) -> None:
    db = ctx.get("db")
    if db is not None:
        await db.dispose()


def _cron_jobs() -> list:
    """arq crons from the catalogue, at the clock times of their intervals; `unique` (arq's default) keeps two
    workers from running one tick twice."""
    load_all_jobs()
    return [
        cron(
            cast(WorkerCoroutine, JOBS[spec.name].func), name=spec.name, run_at_startup=True, **cron_times(spec.every_s)
        )
        for spec in CRONS.values()
    ]


def _functions() -> list:
    # arq re-runs a killed job once its in-progress key expires, after the *longest* job timeout + 10 s; a job's
    # own timeout is therefore capped at JOB_TIMEOUT_S, so that setting alone bounds how late a re-run comes.
    cap = _settings.job_timeout_s
    return [
        func(
            cast(WorkerCoroutine, spec.func),
            name=spec.name,
            max_tries=spec.max_tries,
            timeout=min(spec.timeout_s, cap) if spec.timeout_s else None,
        )
        for spec in load_all_jobs().values()
    ]


class WorkerSettings:
    functions: ClassVar[list] = _functions()
    cron_jobs: ClassVar[list] = _cron_jobs()
    on_startup = startup
    on_shutdown = shutdown
    redis_settings = RedisSettings.from_dsn(_settings.redis_url) if _settings.redis_url else RedisSettings()
    queue_name = _settings.queue_name
    # The health key lets probes see the worker alive (`arq --check`), refreshed every 10 s.
    health_check_key = f"{_settings.queue_name}:health-check"
    health_check_interval = 10
    job_timeout = _settings.job_timeout_s
    max_jobs = 20
    keep_result = 300
    poll_delay = 0.1


def create_worker(settings_cls: Any = WorkerSettings, **kwargs: Any) -> ResilientWorker:
    """arq's `create_worker` with our worker class (`python -m services.kpi_engine` hands this to arq's CLI)."""
    configure_logging(_settings.log_level, json_logs=_settings.log_json)  # the Redis wait at startup logs too
    serve_metrics()
    return ResilientWorker(**{**get_kwargs(settings_cls), **kwargs})


def run_worker(settings_cls: Any = WorkerSettings, **kwargs: Any) -> ResilientWorker:
    """arq's `run_worker` with our worker class."""
    worker = create_worker(settings_cls, **kwargs)
    worker.run()
    return worker
