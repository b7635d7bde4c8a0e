"""A batch's stored points are kept INGEST_BODY_RETENTION_DAYS after it was accepted, then cleared once it is done
or failed: what it merged stays, its record stays, and asked to merge again it fails saying why."""

import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import select, update

from shared.db.scoping import allow_all_orgs
from shared.ingest import housekeeping
from shared.ingest.housekeeping import clear_batch_points
from shared.ingest.models import BatchStatus, IngestBatch
from shared.ingest.pipeline import process_batch
from shared.ingest.points import Point
from tests.ingest_support import point, push_and_wait, store_batch
from tests.kpi_support import make_kpi


async def _set(state, batch_id: uuid.UUID, **values) -> None:
    async with state.db.sessionmaker() as session:
        allow_all_orgs(session)
        await session.execute(update(IngestBatch).where(IngestBatch.id == batch_id).values(**values))
        await session.commit()


async def _kept(state, ids: list[uuid.UUID]) -> dict[uuid.UUID, bool]:
    """Whether each batch still keeps its points."""
    async with state.db.sessionmaker() as session:
        allow_all_orgs(session)
        rows = await session.execute(
            select(IngestBatch.id, IngestBatch.point_rows.is_not(None)).where(IngestBatch.id.in_(ids))
        )
        return {batch_id: bool(kept) for batch_id, kept in rows}


def _ctx(state) -> dict:
    return {"db": state.db, "queue": state.queue, "settings": state.settings}


async def test_old_finished_batches_lose_their_stored_points_and_nothing_else(client, keys, state, org, monkeypatch):
    monkeypatch.setattr(housekeeping, "CLEAR_CHUNK", 2)  # several chunks, as a backlog would take
    h, viewer = keys.headers("ingest"), keys.headers("viewer")
    leads = await make_kpi(state, org.id, name="Leads", formula="leads")
    old = datetime.now(UTC) - timedelta(days=state.settings.ingest_body_retention_days + 1)
    done = [uuid.UUID((await push_and_wait(client, h, [point("leads", n, f"2026-11-0{n}")]))["id"]) for n in (1, 2, 3)]
    recent = uuid.UUID((await push_and_wait(client, h, [point("leads", 4, "2026-11-04")]))["id"])
    failed, in_flight = [
        await store_batch(state.db, org.id, [Point("leads", Decimal(1), date(2026, 10, 1), {})]) for _ in range(2)
    ]
    for batch_id in done:
        await _set(state, batch_id, created_at=old)
    await _set(state, failed, created_at=old, status=BatchStatus.failed, finished_at=old)
    # Still being merged (a long outage): its points are what the merge will read.
    await _set(state, in_flight, created_at=old, status=BatchStatus.processing, started_at=datetime.now(UTC))

    await clear_batch_points(_ctx(state))

    assert await _kept(state, [*done, failed, recent, in_flight]) == {
        **dict.fromkeys([*done, failed], False),
        recent: True,
        in_flight: True,
    }
    body = (await client.get(f"/v1/ingest/batches/{done[0]}", headers=h)).json()
    assert (body["status"], body["point_count"], body["inserted"]) == ("done", 1, 1)
    assert body["points_cleared_at"] is not None
    assert (await client.get(f"/v1/ingest/batches/{recent}", headers=h)).json()["points_cleared_at"] is None
    values = await client.get(f"/v1/kpis/{leads}/values?from=2026-11-01&to=2026-11-30&grain=month", headers=viewer)
    assert [v["value"] for v in values.json()["values"]] == ["10"], "what the batches merged stays"


async def test_a_batch_whose_points_were_cleared_fails_clearly_when_asked_to_merge_again(client, keys, state, org):
    h = keys.headers("ingest")
    leads = await make_kpi(state, org.id, name="Leads", formula="leads")
    batch_id = uuid.UUID((await push_and_wait(client, h, [point("leads", 9, "2026-11-12")]))["id"])
    old = datetime.now(UTC) - timedelta(days=state.settings.ingest_body_retention_days + 1)
    await _set(state, batch_id, created_at=old)
    await clear_batch_points(_ctx(state))
    # Someone sets it back to be merged again (the service never merges a done batch twice).
    await _set(state, batch_id, status=BatchStatus.processing, started_at=datetime.now(UTC))

    result = await process_batch(_ctx(state), batch_id=str(batch_id))

    assert (result["failed"], result["error_code"]) == (True, "points_cleared")
    body = (await client.get(f"/v1/ingest/batches/{batch_id}", headers=h)).json()
    assert (body["status"], body["error_code"]) == ("failed", "points_cleared")
    assert "cleared" in body["error"] and "push the points again" in body["error"]
    values = await client.get(f"/v1/kpis/{leads}/values?from=2026-11-12&to=2026-11-12", headers=keys.headers("viewer"))
    assert [v["value"] for v in values.json()["values"]] == ["9"], "its earlier merge still counts, once"
