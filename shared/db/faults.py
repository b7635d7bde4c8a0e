"""One classification of faults: which failures pass by themselves (retry them) and which never will.

Jobs retry a transient fault with backoff for as long as it lasts (`shared.jobs.retry`), and the API answers it
with 503 and `Retry-After` instead of 500. A transient fault is one the same work can get past unchanged:

- the database or Redis cannot be reached or drops the connection (refused, reset, timed out, pool exhausted);
- Postgres says it is shutting down, starting up, out of connections or disk (SQLSTATE classes 08, 53, 57P), a
  statement was cancelled by an operator (57014), or the server is a read-only standby after a failover (25006);
- a concurrent transaction got in the way: deadlock (40P01), serialization failure (40001), lock not
  available (55P03);
- SQLite's single writer is busy ("database is locked"), or its disk is full or failing.

Anything else (a constraint the data breaks, a bug) is not transient: retrying it cannot help.
"""

import asyncio
import sqlite3
import ssl
from collections.abc import Iterator

import asyncpg
import redis.exceptions
from sqlalchemy import exc as sa_exc

TRANSIENT_SQLSTATES = frozenset({"40001", "40P01", "55P03", "57014", "25006"})
# 08: connection exception; 53: insufficient resources (too many connections, out of memory or disk);
# 57P: admin/crash shutdown, cannot connect now (starting up), database dropped.
TRANSIENT_SQLSTATE_PREFIXES = ("08", "53", "57P")
# Faults of the link to a dependency (Postgres, Redis, any socket), by type. is_transient starts from these; code
# that only talks to the network (the worker's Redis loop) catches exactly these.
CONNECTION_FAULTS: tuple[type[BaseException], ...] = (
    OSError,  # refused, reset, timed out (TimeoutError, asyncio's included), unreachable, broken pipe, …
    asyncio.IncompleteReadError,
    asyncpg.exceptions.InterfaceError,  # "connection is closed", "connection was closed in the middle of operation"
    asyncpg.exceptions.ConnectionDoesNotExistError,
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
    # redis-py raises it for a connection lost while a WATCH is open; a real conflict is handled where it is expected.
    redis.exceptions.WatchError,
    sa_exc.TimeoutError,  # no pooled connection came free in time
    sa_exc.InterfaceError,
)


# Never transient, whatever they derive from: asyncpg's DataError is an InterfaceError ("invalid input for query
# argument"), a certificate that does not verify, a missing file or a permission are OSErrors, and a wrong Redis
# password is a redis ConnectionError: waiting heals none of them.
_NEVER_TRANSIENT = (
    asyncpg.exceptions.DataError,
    ssl.SSLCertVerificationError,
    FileNotFoundError,
    PermissionError,
    redis.exceptions.AuthenticationError,
)
_SQLITE_TRANSIENT = ("database is locked", "database table is locked", "busy", "disk is full", "disk I/O error")


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """The exception, what SQLAlchemy wrapped (`orig`), and what it was raised from (`raise … from`), each once.

    Not `__context__`: an error raised while handling another says nothing about whether that one was transient."""
    seen: set[int] = set()
    todo = [exc]
    while todo:
        current = todo.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        todo.extend(e for e in (getattr(current, "orig", None), current.__cause__) if isinstance(e, BaseException))


def sqlstate(exc: BaseException) -> str | None:
    """The Postgres SQLSTATE behind an exception, if one is."""
    for current in _chain(exc):
        code = getattr(current, "sqlstate", None) or getattr(current, "pgcode", None)
        if isinstance(code, str):
            return code
    return None


def is_transient(exc: BaseException) -> bool:
    """True when the same work, tried again later, can succeed: an outage or a concurrent writer's lock."""
    if any(isinstance(current, _NEVER_TRANSIENT) for current in _chain(exc)):
        return False
    for current in _chain(exc):
        if isinstance(current, sa_exc.DBAPIError) and current.connection_invalidated:
            return True
        if isinstance(current, CONNECTION_FAULTS):
            return True
        if isinstance(current, sqlite3.OperationalError) and any(m in str(current) for m in _SQLITE_TRANSIENT):
            return True
    code = sqlstate(exc)
    return code is not None and (code in TRANSIENT_SQLSTATES or code.startswith(TRANSIENT_SQLSTATE_PREFIXES))
