"""`python -m services.kpi_engine`: run the worker (what `make worker` calls)."""

import sys

from arq.cli import cli

from shared.settings import get_settings

if __name__ == "__main__":
    if not get_settings().redis_url:
        sys.exit("REDIS_URL is not set: without Redis the API runs jobs in-process and needs no worker.")
    sys.exit(cli(["services.kpi_engine.worker.WorkerSettings", *sys.argv[1:]]))
