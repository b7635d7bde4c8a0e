"""Async engine and session factory for Postgres (asyncpg) and SQLite (aiosqlite)."""

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from shared.settings import Settings


@dataclass(frozen=True)
class Database:
    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]

    async def dispose(self) -> None:
        await self.engine.dispose()


# How long a SQLite write waits for the database's single write lock before it fails ("database is locked", a 503).
# The longest holder is the ingest merge: its transaction holds the lock for about 1 s per 100,000 points on this
# 2-core machine (tests/test_embedded_concurrency.py measures it), so a request that writes while the largest batch
# merges waits it out instead of failing. Reads never wait (WAL). pysqlite opens a transaction just before its
# first INSERT/UPDATE/DELETE, so a request's reads run before it and its first write waits here for the lock.
SQLITE_BUSY_TIMEOUT_MS = 30_000


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    cur = dbapi_conn.cursor()
    # Foreign keys are off by default in SQLite; WAL lets the dashboard read while a job writes.
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cur.close()


def is_postgres(session: AsyncSession) -> bool:
    """The session's database is Postgres (else SQLite): the few statements that differ ask this."""
    return session.get_bind().dialect.name == "postgresql"


async def driver_connection(session: AsyncSession) -> Any:
    """The session's asyncpg or aiosqlite connection, for what SQLAlchemy does not expose (COPY, transaction state)."""
    raw = await (await session.connection()).get_raw_connection()
    return raw.driver_connection


def make_engine(settings: Settings) -> AsyncEngine:
    """One engine per process, configured for the backend the URL names."""
    if settings.is_sqlite:
        ensure_sqlite_dir(settings.database_url)
        engine = create_async_engine(settings.database_url)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    return create_async_engine(
        settings.database_url,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_pool_size,
        pool_pre_ping=True,
        connect_args={"timeout": 5, "command_timeout": 60},
    )


def ensure_sqlite_dir(url: str) -> None:
    path = make_url(url).database
    if path and path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)


def make_database(settings: Settings) -> Database:
    engine = make_engine(settings)
    return Database(engine=engine, sessionmaker=async_sessionmaker(engine, expire_on_commit=False))
