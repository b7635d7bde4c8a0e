"""On Postgres the metric store is partitioned by month: every row lands in its month's partition, a batch for a
month long past makes the partitions it needs, the worker makes the coming months ahead, and making one does not
wait for the merges in flight."""

import asyncio
import uuid
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import text

from shared.ingest.housekeeping import ensure_partitions
from shared.ingest.pipeline import process_batch
from shared.metrics.partitions import PARTITIONED, ensure_months, month_of, next_month, partition_name
from tests.ingest_support import point, push, store_batch, wait_done
from tests.kpi_support import make_kpi

pytestmark = pytest.mark.postgres_only  # native partitioning is Postgres's; SQLite keeps plain tables


async def _partitions(state) -> dict[str, set[str]]:
    """{parent: {partition names}} of the three metric tables."""
    async with state.db.engine.connect() as conn:
        rows = await conn.execute(
            text(
                "SELECT p.relname, c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                "JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = ANY(:tables)"
            ),
            {"tables": list(PARTITIONED)},
        )
        found: dict[str, set[str]] = {table: set() for table in PARTITIONED}
        for parent, child in rows:
            found[parent].add(child)
        return found


async def _homes(state, org_id: uuid.UUID) -> dict[str, set[tuple[str, date]]]:
    """{table: {(the partition holding the row, its day)}} of an organisation's rows."""
    homes: dict[str, set[tuple[str, date]]] = {}
    async with state.db.engine.connect() as conn:
        for table in PARTITIONED:
            rows = await conn.execute(
                text(f"SELECT tableoid::regclass::text, day FROM {table} WHERE org_id = :org"),  # noqa: S608
                {"org": org_id},
            )
            homes[table] = {(home, day) for home, day in rows}
    return homes


async def test_the_metric_tables_are_partitioned_by_month_and_each_row_lands_in_its_month(client, keys, state, org):
    async with state.db.engine.connect() as conn:
        strategies = dict(
            (
                await conn.execute(
                    text(
                        "SELECT c.relname, t.partstrat::text || ':' || a.attname FROM pg_partitioned_table t "
                        "JOIN pg_class c ON c.oid = t.partrelid "
                        "JOIN pg_attribute a ON a.attrelid = t.partrelid AND a.attnum = t.partattrs[0]"
                    )
                )
            ).all()
        )
    assert strategies == {table: "r:day" for table in PARTITIONED}  # range, by day

    h = keys.headers("ingest")
    r = await push(
        client,
        h,
        [
            point("spend", "10", "2026-10-31", channel="meta"),
            point("spend", "20", "2026-11-01", channel="meta"),
            point("spend", "30", "2026-11-30", channel="google"),
        ],
    )
    assert r.status_code == 202, r.text
    assert (await wait_done(client, h, r.json()["batch_id"]))["status"] == "done"
    async with state.db.engine.connect() as conn:
        span = (
            await conn.execute(
                text("SELECT first_day, last_day FROM ingest_batches WHERE id = :id"),
                {"id": uuid.UUID(r.json()["batch_id"])},
            )
        ).one()
    assert tuple(span) == (date(2026, 10, 31), date(2026, 11, 30))  # kept at accept time, for the job

    homes = await _homes(state, org.id)
    for table in PARTITIONED:
        assert {day for _, day in homes[table]} == {date(2026, 10, 31), date(2026, 11, 1), date(2026, 11, 30)}
        assert all(home == partition_name(table, month_of(day)) for home, day in homes[table]), homes[table]


async def test_a_batch_for_a_month_long_past_merges_and_makes_its_partitions(client, keys, state, org):
    assert not any("2019_03" in name for names in (await _partitions(state)).values() for name in names)
    h = keys.headers("ingest")
    leads = await make_kpi(state, org.id, name="Leads", formula="leads")
    r = await push(client, h, [point("leads", 7, "2019-03-15"), point("leads", 5, "2019-03-16", channel="meta")])
    assert r.status_code == 202, r.text
    batch = await wait_done(client, h, r.json()["batch_id"])
    assert (batch["status"], batch["inserted"]) == ("done", 2)

    partitions = await _partitions(state)
    assert all(partition_name(table, date(2019, 3, 1)) in partitions[table] for table in PARTITIONED)
    assert {home for home, _ in (await _homes(state, org.id))["metric_points"]} == {"metric_points_2019_03"}
    values = (
        await client.get(
            f"/v1/kpis/{leads}/values?from=2019-03-01&to=2019-03-31&grain=month", headers=keys.headers("viewer")
        )
    ).json()
    assert [v["value"] for v in values["values"]] == ["12"]


async def test_a_batch_stored_without_its_days_gets_its_partitions_from_its_rows(state, org):
    """Batches accepted before migration 0015 carry no first and last day: the job reads them from the rows."""
    batch_id = await store_batch(state.db, org.id, [["leads", "3", "2018-07-04", {}, "snapshot"]])
    async with state.db.engine.connect() as conn:
        span = (await conn.execute(text("SELECT first_day FROM ingest_batches WHERE id = :id"), {"id": batch_id})).one()
    assert span == (None,)
    result = await process_batch(
        {"db": state.db, "queue": state.queue, "settings": state.settings}, batch_id=str(batch_id)
    )
    assert result["inserted"] == 1
    assert (await _homes(state, org.id))["metric_points"] == {("metric_points_2018_07", date(2018, 7, 4))}


async def test_the_worker_makes_this_month_and_the_months_ahead(state):
    settings = state.settings.model_copy(update={"metric_partition_months_ahead": 5})
    ctx = {"db": state.db, "queue": state.queue, "settings": settings}
    await ensure_partitions(ctx)
    month = month_of(datetime.now(UTC).date())
    wanted = []
    for _ in range(6):
        wanted.append(month)
        month = next_month(month)
    partitions = await _partitions(state)
    for table in PARTITIONED:
        assert {partition_name(table, m) for m in wanted} <= partitions[table]
    assert await ensure_partitions(ctx) == 0  # all there: nothing more


async def test_making_a_partition_does_not_wait_for_merges_in_flight(state):
    """A merge holds its rows' locks for a second or more; the partition is attached beside it, not after it."""
    org_id = uuid.uuid4()
    async with state.db.engine.connect() as merging:
        await merging.execute(
            text(
                "INSERT INTO metric_points (org_id, metric_key, day, dims_key, source, dimensions, value, updated_at, "
                "batch_id) VALUES (:org, 'leads', :day, '{}', 'api', '{}', 1, now(), :org)"
            ),
            {"org": org_id, "day": date.today()},
        )
        await merging.execute(text("SELECT count(*) FROM metric_daily"))  # and a reader's lock, as a merge has

        async def make() -> list[str]:
            async with state.db.engine.begin() as conn:
                return await ensure_months(conn, date(2017, 1, 10), date(2017, 1, 20))

        created = await asyncio.wait_for(make(), timeout=10)
        await merging.rollback()
    assert sorted(created) == sorted(partition_name(table, date(2017, 1, 1)) for table in PARTITIONED)


async def test_rows_written_before_their_month_exists_are_refused_not_misplaced(state):
    """No DEFAULT partition: a month without its partition refuses rows (the job makes the partition first)."""
    from sqlalchemy.exc import DBAPIError

    with pytest.raises(DBAPIError, match="no partition"):
        async with state.db.engine.begin() as conn:
            await conn.execute(
                text(
                    "INSERT INTO metric_daily (org_id, metric_key, day, dims_key, dimensions, value_sum, value_count, "
                    "value_min, value_max, value_last, last_at) VALUES (:org, 'leads', '2011-01-01', '{}', '{}', 1, 1, "
                    "1, 1, 1, now())"
                ),
                {"org": uuid.uuid4()},
            )
