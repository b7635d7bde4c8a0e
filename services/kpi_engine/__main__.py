"""`python -m services.kpi_engine`: run the worker (what `make worker` calls).

arq's own CLI parses the options (`--burst`, `--check`, `-v`, `--watch`, ...) and sets up its logging; only the
worker class is ours: `ResilientWorker`, which waits out a Redis outage instead of exiting.
"""

import sys

from shared.settings import get_settings

if __name__ == "__main__":
    if not get_settings().redis_url:
        sys.exit("REDIS_URL is not set: without Redis the API runs jobs in-process and needs no worker.")
    import arq.cli

    from services.kpi_engine import worker

    # arq.cli calls these two names (imported into its namespace) to build and run the worker.
    arq.cli.run_worker = worker.run_worker
    arq.cli.create_worker = worker.create_worker
    sys.exit(arq.cli.cli(["services.kpi_engine.worker.WorkerSettings", *sys.argv[1:]]))
