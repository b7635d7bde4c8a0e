"""Helpers the tests share: backends, migrations, the real arq worker process."""

import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from alembic import command
from alembic.config import Config

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts"
IN_CI = os.environ.get("CI", "").lower() == "true"
BACKEND = os.environ.get("TEST_BACKEND", "sqlite")
PG_URL = os.environ.get("TEST_DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/kpi_test")
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def unavailable(what: str, why: str) -> None:
    """A missing Postgres/Redis/worker fails the test in CI and skips it on a laptop."""
    message = f"{what} unavailable: {why}"
    if IN_CI:
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def alembic_config(database_url: str) -> Config:
    cfg = Config(str(ROOT / "alembic.ini"))
    cfg.set_main_option("script_location", str(ROOT / "migrations"))
    cfg.attributes["database_url"] = database_url
    cfg.attributes["configure_logger"] = False
    return cfg


async def migrate(database_url: str, *steps: tuple[str, str]) -> None:
    """Run alembic commands, e.g. ("upgrade", "head"); in a thread, since env.py runs its own loop."""
    cfg = alembic_config(database_url)
    for action, revision in steps:
        await asyncio.to_thread(getattr(command, action), cfg, revision)


async def recreate_pg_database(url: str) -> None:
    """Drop and create the database the URL names (connects to the `postgres` database to do it)."""
    import asyncpg
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    admin = await asyncpg.connect(
        host=parsed.host,
        port=parsed.port or 5432,
        user=parsed.username,
        password=parsed.password,
        database="postgres",
        timeout=5,
    )
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{parsed.database}"')
    finally:
        await admin.close()


def start_worker(env: dict[str, str], health_key: str, redis_url: str, timeout_s: float = 20) -> subprocess.Popen:
    """Start `python -m services.kpi_engine` and wait until it writes its health-check key.

    Its output goes to a file under test-artifacts (a pipe nobody reads would block a chatty worker)."""
    import redis

    ARTIFACTS.mkdir(exist_ok=True)
    log_path = ARTIFACTS / f"worker-{os.getpid()}-{time.monotonic_ns()}.log"
    with log_path.open("w") as log_file:
        proc = subprocess.Popen(
            [sys.executable, "-m", "services.kpi_engine"],
            cwd=ROOT,
            env={**os.environ, **env},
            stdout=log_file,
            stderr=subprocess.STDOUT,
            text=True,
        )
    proc.log_path = log_path
    client = redis.Redis.from_url(redis_url)
    deadline = time.monotonic() + timeout_s
    try:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"worker exited with {proc.returncode}: {log_path.read_text()}")
            if client.exists(health_key):
                return proc
            time.sleep(0.1)
    finally:
        client.close()
    proc.kill()
    raise RuntimeError(f"worker wrote no health key in {timeout_s}s: {log_path.read_text()}")


def stop_process(proc: subprocess.Popen) -> None:
    """SIGTERM a process the test started, then SIGKILL if it is still there after 15 s."""
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def stop_worker(proc: subprocess.Popen) -> str:
    """Stop the worker; returns what it printed."""
    stop_process(proc)
    return proc.log_path.read_text()
