"""Migrations go up, down and up again on this backend, and agree with the models."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from shared.models import Base
from tests import support


async def _inspect(url: str):
    engine = create_async_engine(url, poolclass=NullPool)
    try:
        async with engine.connect() as conn:

            def read(sync_conn):
                ctx = MigrationContext.configure(sync_conn, opts={"compare_type": True})
                return set(inspect(sync_conn).get_table_names()), compare_metadata(ctx, Base.metadata)

            return await conn.run_sync(read)
    finally:
        await engine.dispose()


async def test_upgrade_downgrade_upgrade_round_trip_and_models_match(settings, tmp_path):
    if support.BACKEND == "postgres":
        from sqlalchemy.engine import make_url

        main = make_url(settings.database_url)
        url = main.set(database=f"{main.database}_migrations").render_as_string(False)
        await support.recreate_pg_database(url)
    else:
        url = f"sqlite+aiosqlite:///{tmp_path / 'migrations.sqlite3'}"
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
