"""An attempt is claimed, sent with no database connection held, then recorded. A receiver that stalls holds no
connection and no row lock; an attempt whose job dies mid-send is sent once more by the overdue sweep; a late
result of an attempt taken over meanwhile changes nothing (real HTTP receiver; real worker processes on Postgres).
"""

import asyncio
import json
import os
import signal
import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import select, text, update
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

from shared.db.engine import Database
from shared.db.scoping import allow_all_orgs
from shared.jobs.context import job_session
from shared.jobs.queue import ArqQueue, discard_deferred
from shared.webhooks.delivery import CLAIM_LEASE, LOST, OVERDUE, deliver, retry_due
from shared.webhooks.events import delivery_job_id, emit
from shared.webhooks.models import DeliveryStatus, EventType, WebhookDelivery
from tests import support
from tests.conftest import TEST_RETRY_SCHEDULE_S, TEST_WEBHOOK_CIDRS, TEST_WEBHOOK_SECRET_KEY
from tests.receiver import running_receiver
from tests.test_alerts_e2e import delivery_log, subscribe
from tests.test_webhook_lifecycle import job_ctx


async def pending_delivery(state, org_id) -> str:
    """An event's delivery whose job is not enqueued: the test makes its attempts itself."""
    async with job_session(job_ctx(state)) as session:
        event = await emit(session, org_id=org_id, type_=EventType.ingest_batch_failed, data={"batch": {"id": "b1"}})
        discard_deferred(session)
        return str(await session.scalar(select(WebhookDelivery.id).where(WebhookDelivery.event_id == event.id)))


async def delivery_row(state, delivery_id: str) -> tuple[DeliveryStatus, int]:
    async with job_session(job_ctx(state)) as session:
        row = await session.get(WebhookDelivery, uuid.UUID(delivery_id))
        return row.status, row.attempts


async def age_claim(state, delivery_id: str, **values) -> None:
    """Let the claim's lease and the sweep's minute pass (move its `next_attempt_at` back)."""
    stale = datetime.now(UTC) - CLAIM_LEASE - OVERDUE
    async with job_session(job_ctx(state)) as session:
        await session.execute(
            update(WebhookDelivery)
            .where(WebhookDelivery.id == uuid.UUID(delivery_id))
            .values(next_attempt_at=stale, **values)
        )


class SpyQueue:
    """The queue, noting what is enqueued through it."""

    def __init__(self, queue):
        self.queue, self.enqueued = queue, []

    async def enqueue(self, name, **kwargs):
        self.enqueued.append(kwargs)
        return await self.queue.enqueue(name, **kwargs)


async def sweep(state, delivery_id: str) -> list[dict]:
    """Run the overdue sweep as its cron does; what it enqueued for this delivery."""
    spy = SpyQueue(state.queue)
    await retry_due({**job_ctx(state), "queue": spy})
    return [job for job in spy.enqueued if job["delivery_id"] == delivery_id]


async def test_an_attempt_whose_job_died_mid_send_is_sent_once_more_by_the_sweep(client, keys, state, org):
    admin, ctx = keys.headers("admin"), job_ctx(state)
    async with running_receiver() as receiver:
        receiver.stall = 1
        endpoint = await subscribe(client, admin, receiver.url)
        delivery_id = await pending_delivery(state, org.id)
        first = asyncio.create_task(deliver(ctx, delivery_id=delivery_id, attempt=1))
        [sent] = await receiver.wait_for(1)

        # While attempt 1 is out, no other job sends it or the next one, and the sweep leaves it alone.
        assert (await deliver(ctx, delivery_id=delivery_id, attempt=1)).get("superseded")
        assert (await deliver(ctx, delivery_id=delivery_id, attempt=2)).get("in_flight"), "a replay waits for it"
        assert await sweep(state, delivery_id) == []
        assert len(receiver.requests) == 1

        first.cancel()  # the job dies mid-send, as with its worker killed: claimed, nothing recorded
        await asyncio.gather(first, return_exceptions=True)
        assert await delivery_row(state, delivery_id) == (DeliveryStatus.pending, 1)
        assert await delivery_log(client, admin, endpoint["id"], 0) == []

        await age_claim(state, delivery_id)
        [swept] = await sweep(state, delivery_id)
        job = delivery_job_id(uuid.UUID(delivery_id), 2, ":swept")
        assert (swept["attempt"], swept["job_id"]) == (2, job)
        result = await state.queue.result(job, timeout_s=20)
        assert (result["attempt"], result["lost"], result["outcome"]) == (2, 1, "delivered")
        log = await delivery_log(client, admin, endpoint["id"], 2)
        await asyncio.sleep(0.5)  # time enough for a third request, if one were coming

    assert [(a["number"], a["status_code"], a["outcome"], a["error"]) for a in log] == [
        (1, None, "retry", LOST),
        (2, 200, "delivered", None),
    ]
    assert log[-1]["delivery_status"] == "delivered"
    assert len(receiver.requests) == 2, "sent exactly once more"
    assert receiver.requests[1].headers["webhook-id"] == sent.headers["webhook-id"]


async def test_a_late_result_of_an_attempt_taken_over_changes_nothing(client, keys, state, org):
    admin, ctx = keys.headers("admin"), job_ctx(state)
    async with running_receiver() as receiver:
        receiver.stall = 1
        endpoint = await subscribe(client, admin, receiver.url)
        delivery_id = await pending_delivery(state, org.id)
        slow = asyncio.create_task(deliver(ctx, delivery_id=delivery_id, attempt=1))
        await receiver.wait_for(1)
        await age_claim(state, delivery_id)  # its lease runs out while the receiver still holds it
        [swept] = await sweep(state, delivery_id)
        taken = await state.queue.result(swept["job_id"], timeout_s=20)
        assert (taken["attempt"], taken["lost"], taken["outcome"]) == (2, 1, "delivered")

        receiver.release()  # now attempt 1 gets its 200 too, too late
        late = await asyncio.wait_for(slow, 20)
        assert (late["attempt"], late["status_code"], late["discarded"]) == (1, 200, True)

    log = await delivery_log(client, admin, endpoint["id"], 2)
    assert [(a["number"], a["status_code"], a["outcome"]) for a in log] == [(1, None, "retry"), (2, 200, "delivered")]
    assert await delivery_row(state, delivery_id) == (DeliveryStatus.delivered, 2)


async def test_an_abandoned_last_attempt_ends_the_delivery_failed(client, keys, state, org):
    admin = keys.headers("admin")
    last = len(TEST_RETRY_SCHEDULE_S) + 1
    async with running_receiver() as receiver:
        endpoint = await subscribe(client, admin, receiver.url)
        delivery_id = await pending_delivery(state, org.id)
        # The schedule's last attempt was claimed by a worker that died: it is logged, and nothing follows it.
        await age_claim(state, delivery_id, attempts=last)
        [swept] = await sweep(state, delivery_id)
        result = await state.queue.result(swept["job_id"], timeout_s=20)
        assert (result["attempt"], result["lost"], result["outcome"]) == (last, last, "failed")
        assert receiver.requests == []
    [entry] = await delivery_log(client, admin, endpoint["id"], 1)
    assert (entry["number"], entry["outcome"], entry["error"]) == (last, "failed", LOST)
    assert entry["delivery_status"] == "failed"


async def test_a_stalled_receiver_holds_no_database_connection(client, keys, state, org, settings):
    # The attempt runs on a pool of one connection: while the receiver stalls, that connection is free.
    engine = create_async_engine(settings.database_url, pool_size=1, max_overflow=0, pool_timeout=2)
    ctx = {**job_ctx(state), "db": Database(engine, async_sessionmaker(engine, expire_on_commit=False))}
    try:
        async with running_receiver() as receiver:
            receiver.stall = 1
            await subscribe(client, keys.headers("admin"), receiver.url)
            delivery_id = await pending_delivery(state, org.id)
            sending = asyncio.create_task(deliver(ctx, delivery_id=delivery_id, attempt=1))
            await receiver.wait_for(1)
            assert engine.pool.checkedout() == 0
            async with job_session(ctx) as session:  # another job's transaction goes ahead, row lock and all
                claimed = await session.scalar(
                    select(WebhookDelivery.attempts)
                    .where(WebhookDelivery.id == uuid.UUID(delivery_id))
                    .with_for_update(nowait=True)
                )
            assert claimed == 1, "the claim was committed before the send"
            receiver.release()
            assert (await asyncio.wait_for(sending, 20))["outcome"] == "delivered"
    finally:
        await engine.dispose()


@pytest.mark.postgres_only
async def test_a_worker_killed_mid_send_held_nothing_and_the_sweep_sends_once_more(settings, client, keys, state, org):
    admin = keys.headers("admin")
    queue_name = f"{settings.queue_name}:delivery-crash"
    env = {
        "DATABASE_URL": settings.database_url,
        "REDIS_URL": settings.redis_url,
        "QUEUE_NAME": queue_name,
        "LOG_LEVEL": "INFO",
        "WEBHOOK_ALLOWED_CIDRS": json.dumps(TEST_WEBHOOK_CIDRS),
        "WEBHOOK_RETRY_SCHEDULE_S": json.dumps(TEST_RETRY_SCHEDULE_S),
        "WEBHOOK_SECRET_KEY": TEST_WEBHOOK_SECRET_KEY,
    }
    health = f"{queue_name}:health-check"
    queue = ArqQueue.from_settings(settings.model_copy(update={"queue_name": queue_name}))
    ctx = {**job_ctx(state), "queue": queue}
    first = support.start_worker(env, health, settings.redis_url)
    try:
        async with running_receiver() as receiver:
            receiver.stall = 1
            endpoint = await subscribe(client, admin, receiver.url)
            async with job_session(ctx) as session:  # the worker on `queue_name` sends it
                await emit(session, org_id=org.id, type_=EventType.ingest_batch_failed, data={"batch": {"id": "b1"}})
            await receiver.wait_for(1)

            # Mid-send: the delivery's row is not locked, and no connection idles in a transaction over it.
            async with state.db.sessionmaker() as session:
                allow_all_orgs(session)
                delivery_id = await session.scalar(
                    select(WebhookDelivery.id)
                    .where(WebhookDelivery.endpoint_id == uuid.UUID(endpoint["id"]))
                    .with_for_update(nowait=True)
                )
                idle = await session.scalar(
                    text(
                        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                        " AND pid <> pg_backend_pid() AND state LIKE 'idle in transaction%'"
                        " AND query ILIKE '%webhook%'"
                    )
                )
            assert idle == 0

            os.kill(first.pid, signal.SIGKILL)
            first.wait(10)
            assert await delivery_row(state, str(delivery_id)) == (DeliveryStatus.pending, 1)
            await age_claim(state, str(delivery_id))
            await queue.redis.delete(health)  # so that start_worker waits for the second worker's own key
            second = support.start_worker(env, health, settings.redis_url)  # its sweep runs at startup
            try:
                log = await delivery_log(client, admin, endpoint["id"], 2)
                await asyncio.sleep(0.5)  # time enough for a third request, if one were coming
            finally:
                support.stop_worker(second)
    finally:
        support.stop_worker(first)
        await queue.close()

    assert [(a["number"], a["status_code"], a["outcome"], a["error"]) for a in log] == [
        (1, None, "retry", LOST),
        (2, 200, "delivered", None),
    ]
    assert len(receiver.requests) == 2, "sent exactly once more"
    assert receiver.requests[0].headers["webhook-id"] == receiver.requests[1].headers["webhook-id"]
