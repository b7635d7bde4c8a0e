"""The self-test job: proves the queue → worker → database path (used by /health/ready?deep=1)."""

import os
import socket

from sqlalchemy import text

from shared.jobs.context import JobContext, job_session
from shared.jobs.handles import SELFTEST
from shared.jobs.registry import job


@job(SELFTEST, max_tries=1)
async def selftest(ctx: JobContext, *, nonce: str) -> dict:
    """Echo the nonce with where it ran and a database round trip from the worker's own pool."""
    async with job_session(ctx) as session:
        db_ok = (await session.execute(text("SELECT 1"))).scalar_one() == 1
    return {"nonce": nonce, "pid": os.getpid(), "host": socket.gethostname(), "database": db_ok}
