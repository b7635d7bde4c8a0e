"""What a job receives in `ctx`, and the transaction boundary a job owns."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any, TypedDict

from sqlalchemy.ext.asyncio import AsyncSession

from shared.db.engine import Database
from shared.db.scoping import allow_all_orgs
from shared.settings import Settings

if TYPE_CHECKING:
    from shared.jobs.queue import JobQueue


class JobContext(TypedDict, total=False):
    settings: Settings
    db: Database
    queue: "JobQueue"
    job_id: str
    job_try: int


@asynccontextmanager
async def job_session(ctx: JobContext | dict[str, Any]) -> AsyncIterator[AsyncSession]:
    """A session spanning all orgs that commits when the job's block ends, then enqueues deferred jobs."""
    from shared.jobs.queue import enqueue_deferred

    async with ctx["db"].sessionmaker() as session:
        allow_all_orgs(session)
        try:
            yield session
            await session.commit()
        except BaseException:
            await session.rollback()
            raise
    await enqueue_deferred(session, ctx["queue"])
