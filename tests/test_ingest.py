"""Systems push metrics; a worker merges them in bulk; KPI values and budgets follow. Nothing is lost or
counted twice."""

import asyncio
from decimal import Decimal

from tests.ingest_support import point, push, push_and_wait, wait_done
from tests.kpi_support import make_kpi

PROBLEM = "application/problem+json"


async def test_a_pushed_batch_is_accepted_at_once_and_merged_by_the_worker(client, keys, state, org):
    h = keys.headers("ingest")
    r = await push(
        client,
        h,
        [point("spend", "120.50", "2026-11-02", channel="meta"), point("clicks", 60, "2026-11-02", channel="meta")],
    )
    assert r.status_code == 202 and r.json()["status"] == "pending"
    batch = await wait_done(client, h, r.json()["batch_id"])
    assert (batch["status"], batch["point_count"], batch["inserted"], batch["replaced"]) == ("done", 2, 2, 0)
    assert batch["finished_at"] and batch["latency_ms"] is not None
    cpc = await make_kpi(state, org.id, name="CPC", formula="spend / clicks", direction="lower_is_better")
    values = (
        await client.get(f"/v1/kpis/{cpc}/values?from=2026-11-01&to=2026-11-03", headers=keys.headers("viewer"))
    ).json()
    series = [v["value"] for v in values["values"]]
    assert series[0] is None and series[2] is None
    assert Decimal(series[1]).quantize(Decimal("0.000001")) == Decimal("2.008333")  # 120.50 / 60


async def test_a_restated_snapshot_replaces_and_an_increment_adds(client, keys, state, org):
    h = keys.headers("ingest")
    leads = await make_kpi(state, org.id, name="Leads", formula="leads")
    await push_and_wait(client, h, [point("leads", 10, "2026-11-02", channel="meta")])
    again = await push_and_wait(client, h, [point("leads", 12, "2026-11-02", channel="meta")])
    assert (again["inserted"], again["replaced"]) == (0, 1)
    added = await push_and_wait(client, h, [point("leads", 5, "2026-11-02", "increment", channel="meta")])
    assert added["incremented"] == 1
    other_source = await push_and_wait(client, h, [point("leads", 3, "2026-11-02", channel="meta")], source="crm")
    assert other_source["inserted"] == 1, "another source's snapshot is its own row"
    day = (
        await client.get(f"/v1/kpis/{leads}/values?from=2026-11-02&to=2026-11-02", headers=keys.headers("viewer"))
    ).json()
    assert day["values"][0]["value"] == "20"  # (12 + 5) from the api source + 3 from crm


async def test_one_batch_with_repeated_keys_applies_them_in_order(client, keys, state, org):
    h = keys.headers("ingest")
    leads = await make_kpi(state, org.id, name="Leads", formula="leads")
    batch = await push_and_wait(
        client,
        h,
        [
            point("leads", 4, "2026-11-03", "increment"),
            point("leads", 10, "2026-11-03"),
            point("leads", 1, "2026-11-03", "increment"),
        ],
    )
    assert (batch["status"], batch["inserted"]) == ("done", 1)
    day = (
        await client.get(f"/v1/kpis/{leads}/values?from=2026-11-03&to=2026-11-03", headers=keys.headers("viewer"))
    ).json()
    assert day["values"][0]["value"] == "11"


async def test_the_same_idempotency_key_is_the_same_batch(client, keys):
    h = keys.headers("ingest")
    body = [point("spend", 5, "2026-11-02")]
    first = await push(client, {**h, "Idempotency-Key": "crm-2026-11-02"}, body)
    replay = await push(client, {**h, "Idempotency-Key": "crm-2026-11-02"}, body)
    assert first.status_code == 202 and replay.status_code == 200
    assert replay.json()["batch_id"] == first.json()["batch_id"]
    in_body = await push(client, h, body, idempotency_key="crm-2026-11-02")
    assert in_body.json()["batch_id"] == first.json()["batch_id"]
    other = await push(client, {**h, "Idempotency-Key": "crm-2026-11-02"}, [point("spend", 6, "2026-11-02")])
    assert other.status_code == 409 and other.json()["batch_id"] == first.json()["batch_id"]
    listed = (await client.get("/v1/ingest/batches", headers=keys.headers("viewer"))).json()["items"]
    assert len(listed) == 1


async def test_bad_batches_are_refused_whole_and_nothing_is_stored(client, keys):
    h = keys.headers("ingest")
    good = point("spend", 1, "2026-11-02")
    cases = [
        ([good, point("spend", "NaN", "2026-11-02")], "body.points.1.value"),
        ([good, point("spend", "Infinity", "2026-11-02")], "body.points.1.value"),
        ([good, {**good, "value": "abc"}], "body.points.1.value"),
        ([good, point("spend", 1, "1999-12-31")], "body.points.1.timestamp"),
        ([good, point("spend", 1, "2999-01-01")], "body.points.1.timestamp"),
        ([good, point("made_up", 1, "2026-11-02"), point("also_made_up", 1, "2026-11-02")], "body.points.1.metric"),
        ([good, {**good, "mode": "replace"}], "body.points.1.mode"),
        ([good, {**good, "dimensions": {f"d{i}": "x" for i in range(9)}}], "body.points.1.dimensions"),
        ([good, {**good, "dimensions": {"channel": "x" * 201}}], "body.points.1.dimensions"),
        ([good, {**good, "dimensions": {"Channel": "meta"}}], "body.points.1.dimensions"),
        ([good, {**good, "extra": 1}], "body.points.1.extra"),
        ([], "body.points"),
    ]
    for points, location in cases:
        r = await push(client, h, points)
        assert r.status_code == 422, (location, r.text)
        assert r.headers["content-type"] == PROBLEM
        assert any(e["location"].startswith(location) for e in r.json()["errors"]), (location, r.json()["errors"])
    unknown = await push(client, h, [good, point("made_up", 1, "2026-11-02"), point("also_made_up", 1, "2026-11-02")])
    assert unknown.json()["unknown_metrics"] == ["also_made_up", "made_up"]
    assert (await client.get("/v1/ingest/batches", headers=keys.headers("viewer"))).json()["items"] == []


async def test_too_many_points_is_413(client, keys, state):
    limit = state.settings.ingest_max_points
    state.settings.ingest_max_points = 3
    try:
        r = await push(client, keys.headers("ingest"), [point("spend", i, "2026-11-02") for i in range(4)])
    finally:
        state.settings.ingest_max_points = limit
    assert r.status_code == 413 and "at most 3 points" in r.json()["detail"]


async def test_pushing_needs_an_ingest_capable_key_and_batches_stay_in_their_org(client, keys, other_org):
    body = [point("spend", 1, "2026-11-02")]
    assert (await push(client, keys.headers("viewer"), body)).status_code == 403
    r = await push(client, keys.headers("editor"), body)
    assert r.status_code == 202
    batch_id = r.json()["batch_id"]
    assert (await client.get(f"/v1/ingest/batches/{batch_id}", headers=keys.headers("ingest"))).status_code == 200
    assert (await client.get(f"/v1/ingest/batches/{batch_id}", headers=other_org.headers)).status_code == 404
    assert (await client.get("/v1/ingest/batches", headers=other_org.headers)).json()["items"] == []


async def test_a_batch_accepted_while_redis_is_down_is_kept_and_swept_in_later(client, keys, state, settings, org):
    from services.api.main import create_app
    from shared.ingest.pipeline import sweep_batches
    from tests.conftest import client_for

    offline = create_app(settings.model_copy(update={"redis_url": "redis://127.0.0.1:1/0", "run_crons": False}))
    async with client_for(offline) as c:
        r = await push(c, keys.headers("ingest"), [point("leads", 7, "2026-11-04")])
        assert r.status_code == 202, "the batch is durable in the database even though it could not be enqueued"
    batch_id = r.json()["batch_id"]
    await asyncio.sleep(0.5)
    assert (await client.get(f"/v1/ingest/batches/{batch_id}", headers=keys.headers("ingest"))).json()[
        "status"
    ] == "pending"

    ctx = {
        "db": state.db,
        "queue": state.queue,
        "settings": state.settings.model_copy(update={"ingest_pending_grace_s": 0}),
    }
    assert await sweep_batches(ctx) >= 1
    batch = await wait_done(client, keys.headers("ingest"), batch_id)
    assert (batch["status"], batch["inserted"]) == ("done", 1)
    assert await sweep_batches(ctx) == 0, "a done batch is not swept again"
