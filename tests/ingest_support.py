"""Helpers for ingestion tests: push, wait for the worker, read KPI values."""

import asyncio
import time


async def push(client, headers, points, **extra):
    return await client.post("/v1/ingest/metrics", json={"points": points, **extra}, headers=headers)


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
