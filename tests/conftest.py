"""Fixtures: one backend per run (TEST_BACKEND=sqlite | postgres), the app with its lifespan, orgs.

`make test` runs the suite twice: on SQLite with in-process jobs, then on Postgres + Redis with a real
arq worker process this session starts. With CI=true a missing Postgres, Redis or worker fails.
"""

import contextvars
import json
import os
import socket
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import httpx
import pytest
from fastapi import FastAPI

from services.api.main import create_app
from shared.settings import Settings
from tests import support

PLATFORM_TOKEN = "test-platform-token"
TEST_WEBHOOK_CIDRS = ["127.0.0.0/8"]
TEST_RETRY_SCHEDULE_S = [0.2, 0.2, 0.2, 0.2, 0.2]
TEST_WEBHOOK_SECRET_KEY = "test-only webhook sealing key"


def pytest_collection_modifyitems(config, items):
    """The SQLite half of `make test` leaves out the `postgres_only` tests (row locks, the separate worker
    process); the Postgres half runs them, and there a missing Postgres, Redis or worker fails in CI. Deselected,
    not skipped: nothing is reported as skipped that CI would have had to run."""
    if support.BACKEND == "postgres":
        return
    kept = [item for item in items if item.get_closest_marker("postgres_only") is None]
    if len(kept) != len(items):
        config.hook.pytest_deselected(items=[item for item in items if item not in kept])
        items[:] = kept


def _reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=2):
            return True
    except OSError:
        return False


@pytest.fixture(scope="session")
def settings(tmp_path_factory) -> Settings:
    common = {
        "platform_token": PLATFORM_TOKEN,
        "queue_name": f"arq:kpi-test:{os.getpid()}",
        "log_level": "INFO",
        # The tests' webhook receiver listens on loopback, which the SSRF guard otherwise refuses.
        "webhook_allowed_cidrs": TEST_WEBHOOK_CIDRS,
        "webhook_retry_schedule_s": TEST_RETRY_SCHEDULE_S,
        # Webhook secrets sealed at rest throughout the suite (the API and the worker share the key).
        "webhook_secret_key": TEST_WEBHOOK_SECRET_KEY,
        # Many tests send wrong keys on purpose, all from one address; tests/test_auth_throttle.py sets its own.
        "auth_fail_limit_per_address": "100000/minute",
        "auth_fail_limit_per_prefix": "100000/minute",
        "auth_throttle_key_prefix": f"kpi-test:{os.getpid()}:auth-throttle",
    }
    if support.BACKEND == "postgres":
        return Settings(database_url=support.PG_URL, redis_url=support.REDIS_URL, **common)
    path = tmp_path_factory.mktemp("db") / "test.sqlite3"
    return Settings(database_url=f"sqlite+aiosqlite:///{path}", redis_url=None, **common)


@pytest.fixture(scope="session")
async def database(settings: Settings) -> str:
    """A fresh database migrated to head; its URL."""
    if support.BACKEND == "postgres":
        from sqlalchemy.engine import make_url

        url = make_url(settings.database_url)
        if not _reachable(url.host, url.port or 5432):
            support.unavailable("Postgres", f"nothing listens on {url.host}:{url.port or 5432}")
        await support.recreate_pg_database(settings.database_url)
    await support.migrate(settings.database_url, ("upgrade", "head"))
    return settings.database_url


@pytest.fixture(scope="session")
def worker(settings: Settings, database: str):
    """The real arq worker process (Postgres backend only; SQLite runs jobs in-process)."""
    if settings.redis_url is None:
        yield None
        return
    from redis.connection import parse_url

    redis_params = parse_url(settings.redis_url)
    if not _reachable(redis_params.get("host", "127.0.0.1"), redis_params.get("port", 6379)):
        support.unavailable("Redis", f"nothing answers at {settings.redis_url}")
    env = {
        "DATABASE_URL": settings.database_url,
        "REDIS_URL": settings.redis_url,
        "QUEUE_NAME": settings.queue_name,
        "LOG_LEVEL": "INFO",
        "WEBHOOK_ALLOWED_CIDRS": json.dumps(TEST_WEBHOOK_CIDRS),
        "WEBHOOK_RETRY_SCHEDULE_S": json.dumps(TEST_RETRY_SCHEDULE_S),
        "WEBHOOK_SECRET_KEY": TEST_WEBHOOK_SECRET_KEY,
    }
    proc = support.start_worker(env, f"{settings.queue_name}:health-check", settings.redis_url)
    yield proc
    output = support.stop_worker(proc)
    if os.environ.get("SHOW_WORKER_LOG"):
        print(output)


@pytest.fixture(scope="session")
async def app(settings: Settings, database: str, worker):
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture(scope="session")
def state(app):
    return app.state.kpi


@asynccontextmanager
async def client_for(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """A client for an app of a test's own (other settings, extra routes), with its lifespan run."""
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as c,
    ):
        yield c


@pytest.fixture
async def client(app):
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as c:
        yield c


@dataclass(frozen=True)
class OrgHandle:
    id: uuid.UUID
    admin_key: str
    admin_key_id: uuid.UUID

    @property
    def headers(self) -> dict[str, str]:
        return auth(self.admin_key)


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def create_org(client: httpx.AsyncClient, name: str = "Acme") -> OrgHandle:
    r = await client.post("/v1/orgs", json={"name": name}, headers={"X-Platform-Token": PLATFORM_TOKEN})
    assert r.status_code == 201, r.text
    body = r.json()
    return OrgHandle(uuid.UUID(body["org"]["id"]), body["api_key"]["key"], uuid.UUID(body["api_key"]["id"]))


@pytest.fixture
async def org(client) -> OrgHandle:
    """A new organisation per test: tests share a database but never each other's data."""
    return await create_org(client, "Org A")


@pytest.fixture
async def other_org(client) -> OrgHandle:
    return await create_org(client, "Org B")


async def make_key(client: httpx.AsyncClient, org: OrgHandle, role: str, name: str | None = None) -> str:
    r = await client.post("/v1/api-keys", json={"name": name or f"{role} key", "role": role}, headers=org.headers)
    assert r.status_code == 201, r.text
    return r.json()["key"]


@dataclass(frozen=True)
class RoleKeys:
    """One key per role of one organisation, for role checks."""

    admin: str
    editor: str
    viewer: str
    ingest: str

    def headers(self, role: str) -> dict[str, str]:
        return auth(getattr(self, role))


@pytest.fixture
async def keys(client, org) -> RoleKeys:
    return RoleKeys(
        admin=org.admin_key,
        editor=await make_key(client, org, "editor"),
        viewer=await make_key(client, org, "viewer"),
        ingest=await make_key(client, org, "ingest"),
    )


_COUNTING: contextvars.ContextVar["QueryCounter | None"] = contextvars.ContextVar("counting", default=None)


class QueryCounter:
    """Counts the SQL statements the app's engine runs inside `with counter:` for this test's own requests.

    Only statements issued from the test's context count (SQLAlchemy carries contextvars into its greenlets, and
    the requests run in the test's task): the in-process cron jobs of the SQLite run, started with the app, share
    the engine but not the context, so a cron tick during the window does not change the count."""

    def __init__(self, engine):
        self.engine = engine.sync_engine
        self.count = 0
        self._token = None

    def _on_execute(self, *args, **kwargs) -> None:
        if _COUNTING.get() is self:
            self.count += 1

    def __enter__(self) -> "QueryCounter":
        from sqlalchemy import event

        self.count = 0
        self._token = _COUNTING.set(self)
        event.listen(self.engine, "before_cursor_execute", self._on_execute)
        return self

    def __exit__(self, *exc) -> None:
        from sqlalchemy import event

        event.remove(self.engine, "before_cursor_execute", self._on_execute)
        _COUNTING.reset(self._token)
        if exc[0] is None:
            assert self.count > 0, "no statement was counted: the counter itself is broken"


@pytest.fixture
def count_queries(state) -> QueryCounter:
    """`with count_queries as q: ...; q.count` — for proving list endpoints are not N+1."""
    return QueryCounter(state.db.engine)
