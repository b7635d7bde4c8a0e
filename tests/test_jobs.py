"""Jobs asked for in a transaction run after it commits, never after a rollback; same code in both modes."""

import os
import secrets

import pytest

from shared.jobs.context import job_session
from shared.jobs.queue import JobNotFound, defer, enqueue_deferred
from tests.support import BACKEND


def _job_ctx(state) -> dict:
    return {"db": state.db, "queue": state.queue, "settings": state.settings}


async def test_a_job_deferred_in_a_committed_transaction_runs(state):
    nonce, job_id = secrets.token_hex(4), f"test-commit-{secrets.token_hex(6)}"
    async with job_session(_job_ctx(state)) as session:
        defer(session, "selftest", job_id=job_id, nonce=nonce)
    result = await state.queue.result(job_id, timeout_s=15)
    assert result["nonce"] == nonce and result["database"] is True
    assert (result["pid"] != os.getpid()) is (BACKEND == "postgres")


async def test_a_job_deferred_in_a_rolled_back_transaction_never_runs(state):
    job_id = f"test-rollback-{secrets.token_hex(6)}"
    with pytest.raises(ZeroDivisionError):
        async with job_session(_job_ctx(state)) as session:
            defer(session, "selftest", job_id=job_id, nonce="never")
            1 / 0  # noqa: B018 - the job's own work fails
    with pytest.raises(JobNotFound):
        await state.queue.result(job_id, timeout_s=1)


async def test_nothing_is_enqueued_before_commit(state):
    job_id = f"test-order-{secrets.token_hex(6)}"
    async with state.db.sessionmaker() as session:
        defer(session, "selftest", job_id=job_id, nonce="later")
        with pytest.raises(JobNotFound):
            await state.queue.result(job_id, timeout_s=0.5)
        await session.commit()
        await enqueue_deferred(session, state.queue)
    assert (await state.queue.result(job_id, timeout_s=15))["nonce"] == "later"


async def test_the_same_job_id_runs_once(state):
    job_id = f"test-dedupe-{secrets.token_hex(6)}"
    first = await state.queue.enqueue("selftest", job_id=job_id, nonce="one")
    await state.queue.result(job_id, timeout_s=15)
    again = await state.queue.enqueue("selftest", job_id=job_id, nonce="two")
    assert first == job_id and again is None
    assert (await state.queue.result(job_id, timeout_s=1))["nonce"] == "one"


async def test_unknown_jobs_are_refused_when_asked_for(state):
    async with state.db.sessionmaker() as session:
        with pytest.raises(KeyError):
            defer(session, "no-such-job")
