"""Migrations go up, down and up again on this backend, and agree with the models."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from shared.metrics.partitions import is_partition
from shared.models import Base
from tests import support


async def _inspect(url: str):
    engine = create_async_engine(url, poolclass=NullPool)
    try:
        async with engine.connect() as conn:

            def read(sync_conn):
                # The month partitions of the metric tables are Postgres's, not the models' (migrations/env.py).
                ctx = MigrationContext.configure(
                    sync_conn,
                    opts={
                        "compare_type": True,
                        "include_name": lambda name, type_, _: not (type_ == "table" and is_partition(name)),
                    },
                )
                return set(inspect(sync_conn).get_table_names()), compare_metadata(ctx, Base.metadata)

            return await conn.run_sync(read)
    finally:
        await engine.dispose()


async def _empty_database(settings, tmp_path) -> str:
    """A database of the test's own, empty: a scratch Postgres database beside the suite's, or a SQLite file."""
    if support.BACKEND == "postgres":
        from sqlalchemy.engine import make_url

        main = make_url(settings.database_url)
        url = main.set(database=f"{main.database}_migrations").render_as_string(False)
        await support.recreate_pg_database(url)
        return url
    return f"sqlite+aiosqlite:///{tmp_path / 'migrations.sqlite3'}"


async def test_upgrade_downgrade_upgrade_round_trip_and_models_match(settings, tmp_path):
    url = await _empty_database(settings, tmp_path)
    model_tables = set(Base.metadata.tables)

    await support.migrate(url, ("upgrade", "head"))
    tables, diff = await _inspect(url)
    assert model_tables <= tables
    assert diff == [], f"models and migrations disagree: {diff}"

    await support.migrate(url, ("downgrade", "base"))
    tables, _ = await _inspect(url)
    assert tables <= {"alembic_version"}

    await support.migrate(url, ("upgrade", "head"))
    tables, diff = await _inspect(url)
    assert model_tables <= tables and diff == []


async def test_batches_failed_before_0012_are_pending_again_without_their_sql(settings, tmp_path):
    """Before 0012 a batch failed for faults that are retried now (a deadlock, an overflow of the bounded column),
    with SQL in its error; nothing of it was merged. The upgrade makes it pending again so the sweeper merges it."""
    import uuid

    from sqlalchemy import text

    url = await _empty_database(settings, tmp_path)
    await support.migrate(url, ("upgrade", "0011"))
    org, failed, done = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    engine = create_async_engine(url, poolclass=NullPool)
    try:
        async with engine.begin() as conn:
            hexed = (lambda u: u) if support.BACKEND == "postgres" else (lambda u: u.hex)
            await conn.execute(text("INSERT INTO orgs (id, name) VALUES (:id, 'Old')"), {"id": hexed(org)})
            for batch_id, status, error in (
                (failed, "failed", "DeadlockDetectedError: deadlock detected [SQL: INSERT INTO metric_points …]"),
                (done, "done", None),
            ):
                await conn.execute(
                    text(
                        "INSERT INTO ingest_batches (id, org_id, source, body_hash, status, error, points, "
                        "point_count, inserted, replaced, incremented, attempts, enqueues) VALUES (:id, :org, 'api', "
                        "'x', :status, :error, '[]', 0, 0, 0, 0, 1, 1)"
                    ),
                    {"id": hexed(batch_id), "org": hexed(org), "status": status, "error": error},
                )
        await support.migrate(url, ("upgrade", "head"))
        async with engine.connect() as conn:
            rows = dict((await conn.execute(text("SELECT status, error FROM ingest_batches ORDER BY status"))).all())
    finally:
        await engine.dispose()
    assert rows == {"done": None, "pending": None}


async def test_batches_stored_as_json_before_0013_keep_their_points_as_rows_and_back(settings, tmp_path):
    """0013 rewrites every stored batch's points (pending ones are still to be merged) as the COPY rows the worker
    reads; its downgrade writes them back as JSON, unchanged."""
    import json
    import uuid

    from sqlalchemy import text

    from shared.ingest.rows import iter_rows

    points = [
        ["leads", "2.5", "2026-11-02", {"channel": "meta", "campaign": 'a\\b "c"'}, "snapshot"],
        ["leads", "-1", "2026-11-03", {}, "increment"],
        ["spend", "1000.12345678", "2026-11-02", {"channel": "é"}, "snapshot"],
    ]
    url = await _empty_database(settings, tmp_path)
    await support.migrate(url, ("upgrade", "0012"))
    org, batch = uuid.uuid4(), uuid.uuid4()
    hexed = (lambda u: u) if support.BACKEND == "postgres" else (lambda u: u.hex)
    engine = create_async_engine(url, poolclass=NullPool)
    try:
        async with engine.begin() as conn:
            await conn.execute(text("INSERT INTO orgs (id, name) VALUES (:id, 'Old')"), {"id": hexed(org)})
            await conn.execute(
                text(
                    "INSERT INTO ingest_batches (id, org_id, source, body_hash, status, points, point_count, inserted, "
                    "replaced, incremented, attempts, enqueues) VALUES (:id, :org, 'api', 'x', 'pending', :points, 3, "
                    "0, 0, 0, 0, 1)"
                ),
                {"id": hexed(batch), "org": hexed(org), "points": json.dumps(points)},
            )
        await support.migrate(url, ("upgrade", "head"))
        async with engine.connect() as conn:
            stored = (await conn.execute(text("SELECT point_rows FROM ingest_batches"))).scalar_one()
        rows = [(seq, m, d.isoformat(), json.loads(k), v, mode) for seq, m, d, k, v, mode in iter_rows(stored)]
        assert rows == [(i, m, d, dims, v, mode) for i, (m, v, d, dims, mode) in enumerate(points)]
        await support.migrate(url, ("downgrade", "0012"))
        async with engine.connect() as conn:
            back = (await conn.execute(text("SELECT points FROM ingest_batches"))).scalar_one()
        assert (json.loads(back) if isinstance(back, str) else back) == points
    finally:
        await engine.dispose()


async def test_0015_moves_every_metric_row_into_its_month_and_back(settings, tmp_path):
    """0015 rebuilds the three metric tables partitioned by month on Postgres (plain tables stay on SQLite): every
    row stored before is there after the upgrade, in its month's partition, and after the downgrade."""
    import uuid
    from datetime import date

    from sqlalchemy import text

    url = await _empty_database(settings, tmp_path)
    await support.migrate(url, ("upgrade", "0014"))
    postgres = support.BACKEND == "postgres"
    hexed = (lambda u: u) if postgres else (lambda u: u.hex)
    org, batch = uuid.uuid4(), uuid.uuid4()
    days = [date(2019, 3, 31), date(2026, 11, 1), date(2026, 11, 30), date(2026, 12, 1)]
    tables = {
        "metric_points": "org_id, metric_key, day, dims_key, source, value",
        "metric_daily": "org_id, metric_key, day, dims_key, value_sum, value_count",
        "metric_slices": "org_id, metric_key, dimension, dim_value, day, value_sum, value_count",
    }

    async def read(conn) -> dict[str, list[tuple]]:
        return {
            table: sorted(
                tuple(str(v) for v in row)
                for row in await conn.execute(text(f"SELECT {columns} FROM {table}"))  # noqa: S608
            )
            for table, columns in tables.items()
        }

    engine = create_async_engine(url, poolclass=NullPool)
    try:
        async with engine.begin() as conn:
            for i, day in enumerate(days):
                params = {
                    "org": hexed(org),
                    "day": day,
                    "n": i + 1,
                    "batch": hexed(batch),
                    "dims": '{"channel":"meta"}',
                    "json": '{"channel":"meta"}',
                }
                await conn.execute(
                    text(
                        "INSERT INTO metric_points (org_id, metric_key, day, dims_key, source, dimensions, value, "
                        "updated_at, batch_id) VALUES (:org, 'leads', :day, :dims, 'api', :json, :n, "
                        "CURRENT_TIMESTAMP, :batch)"
                    ),
                    params,
                )
                await conn.execute(
                    text(
                        "INSERT INTO metric_daily (org_id, metric_key, day, dims_key, dimensions, value_sum, "
                        "value_count, value_min, value_max, value_last, last_at) VALUES (:org, 'leads', :day, :dims, "
                        ":json, :n, 1, :n, :n, :n, CURRENT_TIMESTAMP)"
                    ),
                    params,
                )
                for dimension, value in (("", ""), ("channel", "meta")):
                    await conn.execute(
                        text(
                            "INSERT INTO metric_slices (org_id, metric_key, dimension, dim_value, day, value_sum, "
                            "value_count, value_min, value_max, value_last) VALUES (:org, 'leads', :dimension, "
                            ":value, :day, :n, 1, :n, :n, :n)"
                        ),
                        {**params, "dimension": dimension, "value": value},
                    )
            before = await read(conn)
        assert all(len(rows) == len(days) * (2 if table == "metric_slices" else 1) for table, rows in before.items())

        await support.migrate(url, ("upgrade", "0015"))
        async with engine.connect() as conn:
            assert await read(conn) == before
            if postgres:
                for table in tables:
                    found = await conn.execute(text(f"SELECT tableoid::regclass::text, day FROM {table}"))  # noqa: S608
                    homes = {(home, day) for home, day in found}
                    assert homes == {(f"{table}_{d.year:04d}_{d.month:02d}", d) for d in days}

        await support.migrate(url, ("downgrade", "0014"))
        async with engine.connect() as conn:
            assert await read(conn) == before
            if postgres:
                kinds = dict(
                    (
                        await conn.execute(
                            text("SELECT relname, relkind::text FROM pg_class WHERE relname = ANY(:names)"),
                            {"names": list(tables)},
                        )
                    ).all()
                )
                assert kinds == dict.fromkeys(tables, "r"), "plain tables again"
                leftovers = await conn.scalar(
                    text("SELECT count(*) FROM pg_class WHERE relname ~ '^metric_.*_\\d{4}_\\d{2}$'")
                )
                assert leftovers == 0
    finally:
        await engine.dispose()


async def test_0016_gives_money_stored_before_it_the_reporting_currency_and_back(settings, tmp_path):
    """Money stored before 0016 has no currency: 0016 writes the organisation's reporting currency (USD) onto its
    points, roll-ups and slices (so a later push of the same key in USD replaces it), leaves other metrics alone,
    and the downgrade makes the slices again under the old key."""
    import uuid
    from datetime import date

    from sqlalchemy import text

    url = await _empty_database(settings, tmp_path)
    await support.migrate(url, ("upgrade", "0015"))
    postgres = support.BACKEND == "postgres"
    hexed = (lambda u: u) if postgres else (lambda u: u.hex)
    org, batch, day = uuid.uuid4(), uuid.uuid4(), date.today()  # 0015 made this month's partitions
    engine = create_async_engine(url, poolclass=NullPool)
    try:
        async with engine.begin() as conn:
            await conn.execute(text("INSERT INTO orgs (id, name) VALUES (:org, 'Acme')"), {"org": hexed(org)})
            for metric, unit in (("spend", "currency"), ("leads", "count")):
                await conn.execute(
                    text(
                        "INSERT INTO metric_definitions (id, org_id, key, name, unit, aggregation, allowed_dimensions, "
                        "standard) VALUES (:id, :org, :key, :key, :unit, 'sum', '[\"channel\"]', true)"
                    ),
                    {"id": hexed(uuid.uuid4()), "org": hexed(org), "key": metric, "unit": unit},
                )
                params = {"org": hexed(org), "day": day, "metric": metric, "batch": hexed(batch)}
                params |= {"dims": '{"channel":"meta"}', "json": '{"channel": "meta"}'}
                await conn.execute(
                    text(
                        "INSERT INTO metric_points (org_id, metric_key, day, dims_key, source, dimensions, value, "
                        "updated_at, batch_id) VALUES (:org, :metric, :day, :dims, 'api', :json, 5, "
                        "CURRENT_TIMESTAMP, :batch)"
                    ),
                    params,
                )
                await conn.execute(
                    text(
                        "INSERT INTO metric_daily (org_id, metric_key, day, dims_key, dimensions, value_sum, "
                        "value_count, value_min, value_max, value_last, last_at) VALUES (:org, :metric, :day, :dims, "
                        ":json, 5, 1, 5, 5, 5, CURRENT_TIMESTAMP)"
                    ),
                    params,
                )
                for dimension, value in (("", ""), ("channel", "meta")):
                    await conn.execute(
                        text(
                            "INSERT INTO metric_slices (org_id, metric_key, dimension, dim_value, day, value_sum, "
                            "value_count, value_min, value_max, value_last) VALUES (:org, :metric, :dimension, "
                            ":value, :day, 5, 1, 5, 5, 5)"
                        ),
                        {**params, "dimension": dimension, "value": value},
                    )

        await support.migrate(url, ("upgrade", "0016"))
        async with engine.connect() as conn:
            for table in ("metric_points", "metric_daily"):
                keys = dict((await conn.execute(text(f"SELECT metric_key, dims_key FROM {table}"))).all())  # noqa: S608
                assert keys == {"spend": '{"channel":"meta","currency":"USD"}', "leads": '{"channel":"meta"}'}
            slices = sorted(
                (await conn.execute(text("SELECT metric_key, dimension, currency, value_sum FROM metric_slices"))).all()
            )
            assert [(m, d, c) for m, d, c, _ in slices] == [
                ("leads", "", ""),
                ("leads", "channel", ""),
                ("spend", "", "USD"),
                ("spend", "channel", "USD"),
            ]

        await support.migrate(url, ("downgrade", "0015"))
        async with engine.connect() as conn:
            slices = sorted(
                (await conn.execute(text("SELECT metric_key, dimension, dim_value FROM metric_slices"))).all()
            )
            # Made again from the roll-ups: the stored `currency` is a dimension like any other to the code before.
            assert slices == [
                ("leads", "", ""),
                ("leads", "channel", "meta"),
                ("spend", "", ""),
                ("spend", "channel", "meta"),
                ("spend", "currency", "USD"),
            ]
    finally:
        await engine.dispose()
