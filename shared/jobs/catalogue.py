"""The job catalogue: every module that defines jobs, imported at once by whoever runs them (the arq worker, the
in-process queue) or checks a name against them. The modules register their jobs as they are imported
(shared/jobs/registry.py); a module missing here has jobs that nothing runs (tests/test_jobs.py finds every
`@job` and `@cron_job` in the code and checks it is here)."""

import importlib

from shared.jobs.registry import JOBS, JobSpec

JOB_MODULES = (
    "shared.alerts.budget",
    "shared.alerts.evaluate",
    "shared.alerts.notices",
    "shared.ingest.housekeeping",
    "shared.ingest.pipeline",
    "shared.jobs.selftest",
    "shared.webhooks.delivery",
)


def load_all_jobs() -> dict[str, JobSpec]:
    """Import every module that defines jobs (and every model, so the ORM can resolve all foreign keys)."""
    importlib.import_module("shared.models")
    for module in JOB_MODULES:
        importlib.import_module(module)
    return JOBS
