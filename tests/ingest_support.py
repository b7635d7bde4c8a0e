"""Helpers for ingestion tests: push, wait for the worker, read KPI values."""

import asyncio
import time
import uuid
import zlib
from datetime import date

from shared.db.scoping import bind_org
from shared.ingest.models import IngestBatch
from shared.ingest.points import Point
from shared.ingest.rows import copy_escaped, staged_rows
from shared.metrics.keys import dims_key


async def push(client, headers, points, **extra):
    """Push a generic batch. Its money points are in USD (the default reporting currency: no conversion) unless
    the test gives the batch another `currency` (or `currency=None`: the batch names none)."""
    return await client.post("/v1/ingest/metrics", json={"points": points, "currency": "USD", **extra}, headers=headers)


async def wait_done(client, headers, batch_id: str, timeout_s: float = 30) -> dict:
    """Poll the batch until the worker (in-process or arq) has finished it."""
    deadline = time.monotonic() + timeout_s
    while True:
        body = (await client.get(f"/v1/ingest/batches/{batch_id}", headers=headers)).json()
        if body["status"] in ("done", "failed") or time.monotonic() > deadline:
            return body
        await asyncio.sleep(0.05)


async def push_and_wait(client, headers, points, **extra) -> dict:
    r = await push(client, headers, points, **extra)
    assert r.status_code == 202, r.text
    return await wait_done(client, headers, r.json()["batch_id"])


def point(metric, value, day, mode="snapshot", **dims):
    return {"metric": metric, "value": value, "timestamp": f"{day}T00:00:00Z", "dimensions": dims, "mode": mode}


async def store_batch(db, org_id: uuid.UUID, points: list[Point] | list[list], source: str = "api") -> uuid.UUID:
    """A batch row as the API stores an accepted one, with no job enqueued for it (the caller runs it when it
    wants). `points` are normalised points, or already encoded rows (to store what no API would accept)."""
    key_count = None  # unknown: the merge collapses
    first_day = last_day = None  # unknown: the job reads them from the rows
    if points and isinstance(points[0], Point):
        staged = staged_rows(source, points)
        rows, key_count = staged.data, staged.keys
        first_day, last_day = (date.fromisoformat(d) for d in (min(staged.summary.days), max(staged.summary.days)))
    else:  # [metric, value, day, dimensions, mode] each, written as they are
        lines = [
            f"{i}\t{m}\t{d}\t{copy_escaped(dims_key(dims))}\t{v}\t{mode}\n"
            for i, (m, v, d, dims, mode) in enumerate(points)
        ]
        rows = zlib.compress("".join(lines).encode())
    async with db.sessionmaker() as session:
        bind_org(session, org_id)
        batch = IngestBatch(
            source=source,
            body_hash=uuid.uuid4().hex * 2,
            point_rows=rows,
            point_count=len(points),
            key_count=key_count,
            first_day=first_day,
            last_day=last_day,
            enqueues=1,
        )
        session.add(batch)
        await session.commit()
        return batch.id


async def bench_org(db, name: str) -> uuid.UUID:
    """A new organisation with the standard metric catalogue (the benches' tenant)."""
    from shared.metrics.catalogue import seed_standard_metrics
    from shared.orgs.models import Org

    async with db.sessionmaker() as session:
        org = Org(name=name)
        session.add(org)
        await session.flush()
        bind_org(session, org.id)
        await seed_standard_metrics(session, org_id=org.id)
        await session.commit()
        return org.id
