"""The arq worker process: `make worker` (`python -m services.kpi_engine`).

It runs the jobs of shared/jobs' catalogue with the same ctx the in-process queue gives them, in a
`ResilientWorker` (services/kpi_engine/resilience.py): arq's worker, except that it waits out a Redis outage of
any length instead of exiting. (`arq services.kpi_engine.worker.WorkerSettings` still works, with arq's plain
worker, which exits when Redis goes away.)
"""

import functools
import logging
import socket
from collections.abc import Awaitable, Callable
from typing import Any, ClassVar, cast

from arq import Retry, cron, func
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
from shared.settings import Settings, get_settings
from shared.telemetry import JOB_REGISTRY, WORKER_JOBS
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


RESULT_KEPT_S = 300


def _cron_jobs() -> list:
    """arq crons from the catalogue, at the clock times of their intervals; `unique` (arq's default) keeps two
    workers from running one tick twice."""
    load_all_jobs()
    return [
        cron(
            cast(WorkerCoroutine, _counted(spec.name, JOBS[spec.name].func)),
            name=spec.name,
            run_at_startup=True,
            # A cron job asked for by name (a sweep run at once, a test's time travel) is this entry too: keep its
            # result a while, as other jobs' are, so the caller can read it.
            keep_result=RESULT_KEPT_S,
            **cron_times(spec.every_s),
        )
        for spec in CRONS.values()
    ]


def _counted(name: str, job: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
    """The job, counting its runs in this process by outcome (kpi_worker_jobs_run): how work spreads over workers."""

    @functools.wraps(job)
    async def run(ctx: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
        try:
            result = await job(ctx, *args, **kwargs)
        except Retry:
            WORKER_JOBS.labels(name, "retry").inc()
            raise
        except BaseException:
            WORKER_JOBS.labels(name, "error").inc()
            raise
        WORKER_JOBS.labels(name, "done").inc()
        return result

    return run


def worker_health_key(settings: Settings = _settings) -> str:
    """The key the worker refreshes and `arq --check` reads: one per queue, or one per host (replica) when
    WORKER_HEALTH_KEY_PER_HOST is set, so that each replica's probe sees that replica and not any of them."""
    key = f"{settings.queue_name}:health-check"
    return f"{key}:{socket.gethostname()}" if settings.worker_health_key_per_host else key


def _functions() -> list:
    # arq re-runs a killed job once its in-progress key expires, after the *longest* job timeout + 10 s; a job's
    # own timeout is therefore capped at JOB_TIMEOUT_S, so that setting alone bounds how late a re-run comes.
    cap = _settings.job_timeout_s
    return [
        func(
            cast(WorkerCoroutine, _counted(spec.name, spec.func)),
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
    health_check_key = worker_health_key()
    health_check_interval = 10
    job_timeout = _settings.job_timeout_s
    # A worker claims at most max_jobs ready jobs per poll and runs them at once: the knob that decides how a burst
    # spreads over several workers (docs/operations.md "Running N replicas").
    max_jobs = _settings.worker_max_jobs
    keep_result = RESULT_KEPT_S
    poll_delay = _settings.worker_poll_delay_s


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
