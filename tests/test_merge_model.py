"""The merge (collapse in SQL, points from the staged delta, roll-ups written from the new values or recomputed
for keys several sources report) held to a plain Python model of the rules, over random batches: repeated keys
within a batch, snapshots and increments, two sources sharing keys, batches merged out of acceptance order."""

import json
import random
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import select

from shared.db.scoping import allow_all_orgs
from shared.ingest import pipeline
from shared.ingest.models import IngestBatch
from shared.ingest.pipeline import process_batch
from shared.ingest.points import Mode, Point
from shared.metrics.keys import dims_key
from shared.metrics.models import TOTAL, MetricDaily, MetricPoint, MetricSlice, MetricSource
from tests.ingest_support import store_batch

METRICS = ("leads", "spend")  # both summed: increments allowed
DAYS = (date(2026, 11, 2), date(2026, 11, 3))
DIMS = ({}, {"channel": "meta"}, {"channel": "google", "campaign": 'q"\\x'})


def random_batch(rng: random.Random, n: int) -> list[Point]:
    return [
        Point(
            rng.choice(METRICS),
            Decimal(rng.randint(-50, 500)) / 4,
            rng.choice(DAYS),
            rng.choice(DIMS),
            Mode.increment if rng.random() < 0.4 else Mode.snapshot,
        )
        for _ in range(n)
    ]


def apply(model: dict, order: dict, source: str, accepted: int, points: list[Point]) -> None:
    """The rules: a batch in push order; a snapshot sets the source's point unless a batch accepted later already
    wrote it; an increment adds (and marks the point as written by this batch)."""
    collapsed: dict[tuple, list] = {}
    for p in points:
        key = (source, p.metric, p.day, dims_key(p.dimensions))
        if p.mode is Mode.snapshot or key not in collapsed:
            collapsed[key] = [p.value, p.mode]
        else:
            collapsed[key][0] += p.value
    for key, (value, mode) in collapsed.items():
        if mode is Mode.increment:
            model[key] = model.get(key, Decimal(0)) + value
            order[key] = accepted
        elif order.get(key, -1) <= accepted:
            model[key], order[key] = value, accepted


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_merges_agree_with_the_model_of_the_rules(state, org, seed, monkeypatch):
    monkeypatch.setattr(pipeline, "DRAIN_BATCHES", 0)  # each job merges its own batch only: the order is the test's
    rng = random.Random(seed)
    batches = [(rng.choice(("api", "crm")), random_batch(rng, rng.randint(1, 40))) for _ in range(8)]
    stored = [await store_batch(state.db, org.id, points, source=source) for source, points in batches]
    merge_order = list(range(len(batches)))
    rng.shuffle(merge_order)  # as after an outage, or with two workers: not the order they were accepted in
    model: dict[tuple, Decimal] = {}
    written_by: dict[tuple, int] = {}
    ctx = {"db": state.db, "queue": state.queue, "settings": state.settings}
    for i in merge_order:
        source, points = batches[i]
        result = await process_batch(ctx, batch_id=str(stored[i]))
        apply(model, written_by, source, i, points)
        keys = {(p.metric, p.day, dims_key(p.dimensions)) for p in points}
        assert result["inserted"] + result["replaced"] + result["incremented"] + result["superseded"] == len(keys)

    async with state.db.sessionmaker() as session:
        allow_all_orgs(session)
        points = {
            (p.source, p.metric_key, p.day, p.dims_key): p.value
            for p in await session.scalars(select(MetricPoint).where(MetricPoint.org_id == org.id))
        }
        daily = {
            (d.metric_key, d.day, d.dims_key): (d.value_sum, d.value_count, d.value_min, d.value_max, d.value_last)
            for d in await session.scalars(select(MetricDaily).where(MetricDaily.org_id == org.id))
        }
        last_merged = {
            (p.source, p.metric_key, p.day, p.dims_key): (p.updated_at, p.source)
            for p in await session.scalars(select(MetricPoint).where(MetricPoint.org_id == org.id))
        }
        done = await session.scalars(select(IngestBatch.status).where(IngestBatch.org_id == org.id))
        assert set(done) == {"done"}
    assert points == model

    expected_daily = {}
    for metric, day, key in {(m, d, k) for _, m, d, k in model}:
        values = {source: v for (source, m, d, k), v in model.items() if (m, d, k) == (metric, day, key)}
        latest = max(values, key=lambda s: last_merged[s, metric, day, key])
        expected_daily[metric, day, key] = (
            sum(values.values()),
            len(values),
            min(values.values()),
            max(values.values()),
            values[latest],
        )
    assert daily == expected_daily

    # The slices: each (metric, day) summed over every dimension set (TOTAL) and over those with each single value.
    expected_slices: dict[tuple, list] = {}
    for (metric, day, key), (total, count, low, high, last) in expected_daily.items():
        for dimension, value in [(TOTAL, TOTAL), *json.loads(key).items()]:
            seen = expected_slices.setdefault((metric, dimension, value, day), [Decimal(0), 0, low, high, Decimal(0)])
            seen[0] += total
            seen[1] += count
            seen[2], seen[3] = min(seen[2], low), max(seen[3], high)
            seen[4] += last
    async with state.db.sessionmaker() as session:
        allow_all_orgs(session)
        slices = {
            (s.metric_key, s.dimension, s.dim_value, s.day): [
                s.value_sum,
                s.value_count,
                s.value_min,
                s.value_max,
                s.value_last,
            ]
            for s in await session.scalars(select(MetricSlice).where(MetricSlice.org_id == org.id))
        }
        sources = {
            (s.metric_key, s.source): s.last_day
            for s in await session.scalars(select(MetricSource).where(MetricSource.org_id == org.id))
        }
    assert slices == expected_slices
    expected_sources: dict[tuple, date] = {}
    for source, points in batches:
        for p in points:
            expected_sources[p.metric, source] = max(expected_sources.get((p.metric, source), p.day), p.day)
    assert sources == expected_sources


async def test_a_job_drains_its_organisations_pending_batches_in_acceptance_order(state, org):
    """A burst of one organisation's batches is merged back to back by the job that merged the first: oldest first
    (a later snapshot wins), each once; the drained batches' own jobs then find them done."""
    stored = [
        await store_batch(state.db, org.id, [Point("leads", Decimal(n), DAYS[0], {})], source="api") for n in (1, 2, 3)
    ]
    ctx = {"db": state.db, "queue": state.queue, "settings": state.settings}
    first = await process_batch(ctx, batch_id=str(stored[0]))
    assert (first["inserted"], first["drained"]) == (1, 2)
    for batch_id in stored[1:]:
        assert (await process_batch(ctx, batch_id=str(batch_id)))["skipped"] is True
    async with state.db.sessionmaker() as session:
        allow_all_orgs(session)
        batches = {b.id: b for b in await session.scalars(select(IngestBatch).where(IngestBatch.org_id == org.id))}
        [value] = await session.scalars(select(MetricPoint.value).where(MetricPoint.org_id == org.id))
    assert value == 3
    assert [(batches[b].status, batches[b].replaced, batches[b].attempts) for b in stored] == [
        ("done", 0, 1),
        ("done", 1, 1),
        ("done", 1, 1),
    ]
