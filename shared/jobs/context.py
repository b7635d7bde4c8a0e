"""What a job receives in `ctx`, and the transaction boundary a job owns."""

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any, TypedDict

from sqlalchemy.ext.asyncio import AsyncSession

from shared.db.engine import Database
from shared.db.scoping import allow_all_orgs
from shared.settings import Settings

if TYPE_CHECKING:
    from shared.jobs.queue import DeferredJob, JobQueue

log = logging.getLogger(__name__)


class JobContext(TypedDict, total=False):
    settings: Settings
    db: Database
    queue: "JobQueue"
    job_id: str
    job_try: int


@asynccontextmanager
async def job_session(ctx: JobContext | dict[str, Any], *, run_inline: bool = False) -> AsyncIterator[AsyncSession]:
    """A session spanning all orgs that commits when the job's block ends, then enqueues deferred jobs.

    `run_inline`: the jobs the transaction defers with `HANDLE.defer_inline` (a webhook delivery's first attempt) are
    also run here, after the commit, concurrently, instead of waiting for a worker to poll them; their enqueued
    copies, deferred, are the fallback. Only for jobs: a request must not wait on them."""
    from shared.jobs.queue import enqueue_deferred, mark_runs_inline

    async with ctx["db"].sessionmaker() as session:
        allow_all_orgs(session)
        if run_inline:
            mark_runs_inline(session)
        try:
            yield session
            await session.commit()
        except BaseException:
            await session.rollback()
            raise
    inline = await enqueue_deferred(session, ctx["queue"])
    if inline:
        await asyncio.gather(*(_run_inline(ctx, job) for job in inline))


async def _run_inline(ctx: JobContext | dict[str, Any], job: "DeferredJob") -> None:
    """Run a deferred job's function here, within its own timeout; a failure is logged, never raised into the job
    that committed (its data is committed, and the job's fallback copy is enqueued)."""
    from shared.jobs.catalogue import load_all_jobs

    spec = load_all_jobs()[job.name]
    try:
        await asyncio.wait_for(spec.func(dict(ctx), **job.kwargs), spec.timeout_s or ctx["settings"].job_timeout_s)
    except Exception:
        log.exception("inline run of %s (%s) failed; its fallback job covers it", job.name, job.job_id)
