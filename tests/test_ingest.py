"""Systems push metrics; a worker merges them in bulk; KPI values and budgets follow. Nothing is lost or
counted twice."""

import asyncio
from datetime import date
from decimal import Decimal

from sqlalchemy import select

from tests.ingest_support import point, push, push_and_wait, store_batch, wait_done
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


async def test_the_sweeper_leaves_a_batch_whose_job_is_still_queued_to_that_job(client, keys, state, org):
    """A backlog (or a retry's backoff) keeps a batch pending past the grace time while its job waits in the queue:
    the sweeper does not enqueue a second job for it, and does re-enqueue one whose job is gone."""
    from shared.db.scoping import allow_all_orgs
    from shared.ingest.models import IngestBatch
    from shared.ingest.pipeline import process_job_id, sweep_batches
    from shared.ingest.points import Point
    from shared.jobs.handles import PROCESS_BATCH

    waiting, lost = [
        await store_batch(state.db, org.id, [Point("leads", Decimal(1), date(2026, 11, 5 + i), {})]) for i in (1, 2)
    ]
    # Only the first one's job is in the queue, deferred (as a retry after a transient fault would be).
    await PROCESS_BATCH.enqueue(state.queue, job_id=process_job_id(waiting, 1), defer_s=5, batch_id=str(waiting))
    ctx = {
        "db": state.db,
        "queue": state.queue,
        "settings": state.settings.model_copy(update={"ingest_pending_grace_s": 0}),
    }
    await sweep_batches(ctx)
    async with state.db.sessionmaker() as session:
        allow_all_orgs(session)
        enqueues = dict(
            (
                await session.execute(select(IngestBatch.id, IngestBatch.enqueues).where(IngestBatch.org_id == org.id))
            ).all()
        )
    assert (enqueues[waiting], enqueues[lost]) == (1, 2)
    for batch_id in (waiting, lost):
        body = await wait_done(client, keys.headers("ingest"), str(batch_id), timeout_s=30)
        assert (body["status"], body["inserted"]) == ("done", 1)


async def test_an_increment_to_a_metric_that_is_not_summed_is_refused(client, keys, state, org):
    h = keys.headers("ingest")
    # Two NPS increments would add into one stored value: an average of 120 from answers of 50 and 70.
    r = await push(
        client,
        h,
        [
            point("leads", 1, "2026-11-02", "increment"),
            point("nps_score", 50, "2026-11-02", "increment", segment="smb"),
            point("nps_score", 70, "2026-11-02", "increment", segment="smb"),
        ],
    )
    assert r.status_code == 422 and r.headers["content-type"] == PROBLEM
    errors = r.json()["errors"]
    assert [(e["location"], e["type"]) for e in errors] == [
        ("body.points.1.mode", "increment_not_summable"),
        ("body.points.2.mode", "increment_not_summable"),
    ]
    assert "'nps_score' is aggregated by avg" in errors[0]["message"] and "snapshot" in errors[0]["message"]
    assert (await client.get("/v1/ingest/batches", headers=keys.headers("viewer"))).json()["items"] == []

    nps = await make_kpi(state, org.id, name="NPS", formula="nps_score", unit="score")
    done = await push_and_wait(
        client, h, [point("nps_score", 50, "2026-11-02", segment="smb"), point("nps_score", 70, "2026-11-02")]
    )
    assert done["status"] == "done"
    day = (
        await client.get(f"/v1/kpis/{nps}/values?from=2026-11-02&to=2026-11-02", headers=keys.headers("viewer"))
    ).json()
    assert Decimal(day["values"][0]["value"]) == 60


async def test_a_dimension_the_metric_does_not_allow_is_refused_naming_the_allowed_ones(client, keys):
    h = keys.headers("ingest")
    r = await push(
        client,
        h,
        [
            point("spend", 5, "2026-11-02", channel="meta", campaign="bf-2026"),
            point("spend", 5, "2026-11-02", segment="smb", foo="x"),
        ],
    )
    assert r.status_code == 422, r.text
    errors = r.json()["errors"]
    assert [(e["location"], e["type"]) for e in errors] == [
        ("body.points.1.dimensions.segment", "dimension_not_allowed"),
        ("body.points.1.dimensions.foo", "dimension_not_allowed"),
    ]
    assert "dimension 'foo' is not allowed for metric 'spend' (allowed: campaign, channel)" in errors[1]["message"]

    # A custom metric allows the dimensions it was defined with, and only those.
    demos = {"key": "demo_requests", "name": "Demo requests", "unit": "count", "allowed_dimensions": ["region"]}
    assert (await client.post("/v1/metrics", json=demos, headers=keys.headers("editor"))).status_code == 201
    assert (await push(client, h, [point("demo_requests", 3, "2026-11-02", region="emea")])).status_code == 202
    refused = await push(client, h, [point("demo_requests", 3, "2026-11-02", channel="web")])
    assert refused.status_code == 422
    assert "(allowed: region)" in refused.json()["errors"][0]["message"]


async def test_dimensions_too_long_to_store_are_refused_before_the_batch_is_accepted(client, keys):
    h = keys.headers("ingest")
    # 200 characters is within the per-value cap, but stored as JSON each 'é' is a 6-character \u00e9 escape:
    # the key is 1,214 characters. Postgres refused it after the 202, and the batch failed.
    r = await push(client, h, [point("clicks", 1, "2026-11-02", channel="é" * 200)])
    assert r.status_code == 422, r.text
    [error] = r.json()["errors"]
    assert (error["location"], error["type"]) == ("body.points.0.dimensions", "dimensions_too_long")
    assert "1214 characters" in error["message"] and "at most 1000" in error["message"]
    # The longest key that fits ({"channel":"…"} with 164 escapes: 998 characters) is stored, on every backend.
    fits = await push_and_wait(client, h, [point("clicks", 1, "2026-11-02", channel="é" * 164)])
    assert (fits["status"], fits["inserted"]) == ("done", 1)


async def test_the_same_key_sent_five_times_at_once_is_one_batch(client, keys):
    # A key's first use records it (one UPDATE of the key's row, which would queue these requests one behind the
    # other); after that the requests run truly at once, as a retrying client's do.
    assert (await client.get("/v1/ingest/batches", headers=keys.headers("ingest"))).status_code == 200
    h = {**keys.headers("ingest"), "Idempotency-Key": "crm-burst"}
    body = [point("spend", 5, "2026-11-02")]
    answers = await asyncio.gather(*(push(client, h, body) for _ in range(5)))
    assert sorted(r.status_code for r in answers) == [200, 200, 200, 200, 202], [r.text for r in answers]
    assert len({r.json()["batch_id"] for r in answers}) == 1

    # At once with different bodies: one is the batch, the other a 409 naming it.
    h = {**keys.headers("ingest"), "Idempotency-Key": "crm-clash"}
    first, second = await asyncio.gather(
        push(client, h, [point("spend", 1, "2026-11-03")]), push(client, h, [point("spend", 2, "2026-11-03")])
    )
    stored, refused = (first, second) if first.status_code == 202 else (second, first)
    assert (stored.status_code, refused.status_code) == (202, 409), (first.text, second.text)
    assert refused.json()["batch_id"] == stored.json()["batch_id"]
    assert len((await client.get("/v1/ingest/batches", headers=keys.headers("viewer"))).json()["items"]) == 2
