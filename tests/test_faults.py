"""One classification of faults (shared/db/faults.py): what is retried until it passes, and what fails a batch —
with a stable code and a plain message, never SQL."""

import asyncio
import sqlite3
import ssl
from decimal import Decimal

import asyncpg
import pytest
import redis.exceptions
from sqlalchemy import exc as sa_exc
from sqlalchemy import func, select, text

from shared.db.faults import is_transient, sqlstate
from shared.db.scoping import allow_all_orgs
from shared.jobs.handles import PROCESS_BATCH
from shared.metrics.models import MetricPoint
from tests.ingest_support import point, push, push_and_wait, store_batch, wait_done


def wrapped(orig: BaseException) -> sa_exc.DBAPIError:
    """As SQLAlchemy raises it: the driver's exception as `orig`, raised from it."""
    try:
        try:
            raise orig
        except BaseException as inner:
            raise sa_exc.DBAPIError("INSERT INTO metric_points …", {}, inner) from inner
    except sa_exc.DBAPIError as outer:
        return outer


TRANSIENT = [
    asyncpg.exceptions.DeadlockDetectedError("deadlock detected"),
    asyncpg.exceptions.SerializationError("could not serialize access"),
    asyncpg.exceptions.LockNotAvailableError("could not obtain lock"),
    asyncpg.exceptions.AdminShutdownError("terminating connection due to administrator command"),
    asyncpg.exceptions.CannotConnectNowError("the database system is starting up"),
    asyncpg.exceptions.TooManyConnectionsError("sorry, too many clients already"),
    asyncpg.exceptions.ConnectionDoesNotExistError("connection was closed in the middle of operation"),
    ConnectionRefusedError(111, "Connect call failed"),
    ConnectionResetError(104, "Connection reset by peer"),
    TimeoutError(),
    asyncpg.exceptions.QueryCanceledError("canceling statement due to user request"),
    asyncpg.exceptions.ReadOnlySQLTransactionError("cannot execute INSERT in a read-only transaction"),
    redis.exceptions.ConnectionError("Error 111 connecting to 127.0.0.1:6379"),
    redis.exceptions.WatchError("A ConnectionError occurred on while watching one or more keys"),
    sqlite3.OperationalError("database is locked"),
    sqlite3.OperationalError("database or disk is full"),
]
PERMANENT = [
    asyncpg.exceptions.UniqueViolationError("duplicate key value"),
    asyncpg.exceptions.NumericValueOutOfRangeError("numeric field overflow"),
    asyncpg.exceptions.UndefinedTableError('relation "x" does not exist'),
    asyncpg.exceptions.CharacterNotInRepertoireError("invalid byte sequence"),
    sqlite3.OperationalError("no such table: x"),
    asyncpg.exceptions.DataError("invalid input for query argument $1"),  # an InterfaceError subclass
    ssl.SSLCertVerificationError("certificate verify failed"),  # an OSError subclass
    ValueError("bad"),
    KeyError("weight"),
]


@pytest.mark.parametrize("exc", TRANSIENT, ids=lambda e: type(e).__name__)
def test_outages_and_concurrent_writers_are_transient_raw_and_wrapped(exc):
    assert is_transient(exc)
    assert is_transient(wrapped(exc))


@pytest.mark.parametrize("exc", PERMANENT, ids=lambda e: type(e).__name__)
def test_what_retrying_cannot_fix_is_not_transient(exc):
    assert not is_transient(exc)
    assert not is_transient(wrapped(exc))


def test_a_defect_raised_while_handling_an_outage_is_not_transient():
    try:
        try:
            raise ConnectionResetError(104, "Connection reset by peer")
        except ConnectionResetError:
            raise KeyError("weight")  # noqa: B904 - the point: raised during handling, not from it
    except KeyError as defect:
        assert defect.__context__ is not None
        assert not is_transient(defect)


def test_an_invalidated_connection_is_transient_whatever_the_driver_said():
    err = sa_exc.DBAPIError("SELECT 1", {}, Exception("boom"), connection_invalidated=True)
    assert is_transient(err)


@pytest.mark.postgres_only
async def test_a_real_deadlock_through_the_stack_is_transient(state):
    """Two transactions locking two rows in opposite orders: Postgres picks a victim (40P01), retried by jobs."""
    async with state.db.engine.begin() as conn:
        await conn.execute(text("CREATE TABLE IF NOT EXISTS fault_probe (id int PRIMARY KEY)"))
        await conn.execute(text("INSERT INTO fault_probe VALUES (1), (2) ON CONFLICT DO NOTHING"))
    a, b = await state.db.engine.connect(), await state.db.engine.connect()
    try:
        await a.begin()
        await b.begin()
        await a.execute(text("UPDATE fault_probe SET id = id WHERE id = 1"))
        await b.execute(text("UPDATE fault_probe SET id = id WHERE id = 2"))
        results = await asyncio.gather(
            a.execute(text("UPDATE fault_probe SET id = id WHERE id = 2")),
            b.execute(text("UPDATE fault_probe SET id = id WHERE id = 1")),
            return_exceptions=True,
        )
    finally:
        await a.close()
        await b.close()
    errors = [r for r in results if isinstance(r, BaseException)]
    assert len(errors) == 1, results
    assert sqlstate(errors[0]) == "40P01" and is_transient(errors[0])


async def test_sums_past_the_old_numeric_range_are_stored(client, keys, state, org):
    """Two increments of 9e15 on one key in one batch, then a third: each within the point limit, their sum past
    16 digits. Every batch is done and the key holds the exact sum (the store is an unbounded numeric)."""
    big = "9000000000000000"
    headers = keys.headers("ingest")
    first = await push_and_wait(
        client,
        headers,
        [
            point("leads", big, "2026-10-01", "increment", channel="x"),
            point("leads", big, "2026-10-01", "increment", channel="x"),
        ],
    )
    again = await push_and_wait(client, headers, [point("leads", big, "2026-10-01", "increment", channel="x")])
    assert (first["status"], again["status"]) == ("done", "done"), (first, again)
    async with state.db.sessionmaker() as session:
        allow_all_orgs(session)
        value = await session.scalar(select(MetricPoint.value).where(MetricPoint.org_id == org.id))
    assert value == Decimal(big) * 3


async def test_a_batch_that_cannot_be_merged_fails_with_a_code_and_no_sql(client, keys, state, org, settings):
    """A defect (here: a stored batch whose points were corrupted behind the API's back) is tried a few times, then
    the batch is `failed` with `internal_error` and a plain message; the SQL and the exception stay in the log."""
    headers = keys.headers("ingest")
    # Accepted while no job can run it: a batch row as the API stores it, with one value no decoder can read.
    batch_id = await store_batch(state.db, org.id, [["leads", "not-a-number", "2026-10-01", {}, "increment"]])
    await PROCESS_BATCH.enqueue(state.queue, job_id=f"ingest:{batch_id}:1", batch_id=str(batch_id))
    body = await wait_done(client, headers, str(batch_id), timeout_s=30)
    assert (body["status"], body["error_code"], body["attempts"]) == ("failed", "internal_error", 3), body
    for leak in ("SELECT", "INSERT", "Traceback", "InvalidOperation", "not-a-number"):
        assert leak not in body["error"]
    # A good batch right after is merged as usual.
    r = await push(client, headers, [point("leads", 1, "2026-10-01", "increment", channel="meta")])
    assert (await wait_done(client, headers, r.json()["batch_id"]))["status"] == "done"


@pytest.mark.postgres_only
async def test_a_merge_blocked_by_a_lock_waits_and_then_finishes(client, keys, state, org):
    """A long transaction holding the organisation's merge lock delays a batch; it is not failed, and finishes once
    the lock is released."""
    from shared.ingest.merge import lock_org_merges

    headers = keys.headers("ingest")
    async with state.db.sessionmaker() as holder:
        await lock_org_merges(holder, org.id)
        r = await push(client, headers, [point("leads", 2, "2026-10-02", "increment", channel="meta")])
        batch_id = r.json()["batch_id"]
        await asyncio.sleep(1.5)
        body = (await client.get(f"/v1/ingest/batches/{batch_id}", headers=headers)).json()
        assert body["status"] in ("pending", "processing"), body
        await holder.rollback()
    assert (await wait_done(client, headers, batch_id))["status"] == "done"
    async with state.db.sessionmaker() as session:
        allow_all_orgs(session)
        n = await session.scalar(select(func.count()).select_from(MetricPoint).where(MetricPoint.org_id == org.id))
    assert n == 1


@pytest.mark.postgres_only
async def test_the_api_answers_503_while_postgres_is_cut_and_recovers_by_itself(settings, database, keys):
    """An API whose link to Postgres is cut: reads, writes and pushes answer 503 problems with Retry-After (nothing
    is half-written); once the link is back the same requests succeed, without a restart."""
    from services.api.main import create_app
    from tests.conftest import client_for
    from tests.faultproxy import FaultProxy

    proxy = FaultProxy.for_url(settings.database_url).start()
    app = create_app(settings.model_copy(update={"database_url": proxy.url(settings.database_url)}))
    admin, ingest = keys.headers("admin"), keys.headers("ingest")
    calls = [
        ("GET", "/v1/teams", admin, None),
        ("POST", "/v1/teams", admin, {"name": "Growth"}),
        ("POST", "/v1/ingest/metrics", ingest, {"points": [point("leads", 1, "2026-10-01", channel="meta")]}),
    ]
    try:
        async with client_for(app) as c:
            assert (await c.get("/v1/teams", headers=admin)).status_code == 200  # the pool holds live connections
            proxy.cut()
            for method, path, headers, body in calls:
                r = await c.request(method, path, headers=headers, json=body)
                assert r.status_code == 503, (path, r.status_code, r.text)
                assert r.headers["content-type"] == "application/problem+json"
                assert r.headers["retry-after"].isdigit()
                assert r.json()["type"].endswith("/service-unavailable") and r.json()["request_id"]
            proxy.restore()
            answers = [(await c.request(m, p, headers=h, json=b)).status_code for m, p, h, b in calls]
            assert answers == [200, 201, 202]
            teams = (await c.get("/v1/teams", headers=admin)).json()["items"]
            assert [t["name"] for t in teams] == ["Growth"], "the write refused during the outage left nothing"
    finally:
        proxy.close()


@pytest.mark.postgres_only
async def test_an_organisation_waiting_for_its_merge_lock_does_not_hold_up_the_others(
    client, keys, state, org, other_org
):
    """More of one organisation's batches than the worker runs at once wait for its merge lock: they step aside
    (retried shortly) instead of holding every worker slot, so another organisation's batch is merged meanwhile."""
    from shared.ingest.merge import lock_org_merges

    headers = keys.headers("ingest")
    async with state.db.sessionmaker() as holder:
        await lock_org_merges(holder, org.id)
        blocked = [
            (await push(client, headers, [point("leads", 1, "2026-10-03", "increment", channel=f"c{i}")])).json()[
                "batch_id"
            ]
            for i in range(25)  # the suite's worker runs 20 jobs at once
        ]
        r = await push(client, other_org.headers, [point("leads", 1, "2026-10-03", "increment", channel="meta")])
        other = await wait_done(client, other_org.headers, r.json()["batch_id"], timeout_s=20)
        assert other["status"] == "done", "another organisation's batch waited behind a lock it does not need"
        waiting = [(await client.get(f"/v1/ingest/batches/{b}", headers=headers)).json()["status"] for b in blocked]
        assert set(waiting) <= {"pending", "processing"}, waiting
        await holder.rollback()
    done = [(await wait_done(client, headers, b, timeout_s=60))["status"] for b in blocked]
    assert done == ["done"] * len(blocked)
