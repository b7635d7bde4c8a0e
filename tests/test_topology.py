"""Two API processes and two arq workers on one Redis queue and one Postgres database, under a bounded load of
overlapping batches from three organisations (issue 15, "Also prove the multi-process topology"): every batch is
merged once, no target gets two alerts, no event is delivered twice, and metric_daily equals the totals computed by
hand. How the jobs spread over the two workers goes to test-artifacts/topology.txt (docs/operations.md "Running N
replicas")."""

from collections import Counter

import pytest

from tests import support
from tests.topology import Load, Topology, describe, run, spread, write_figures

pytestmark = pytest.mark.postgres_only


async def test_two_apis_and_two_workers_process_every_batch_once(settings, database, worker):
    load = Load()
    topology = Topology(database, settings.redis_url)
    try:
        outcome = await run(topology, load)
    finally:
        topology.stop()
    rows = spread(outcome.workers)
    figures = [
        f"topology: {topology.apis} APIs, {topology.workers} workers (WORKER_MAX_JOBS default), "
        f"{load.orgs} organisations, {load.batches} batches ({outcome.pushed_points} points) from 4 clients "
        f"alternating between the APIs, {load.repeats} re-sent to both APIs with their Idempotency-Key",
        f"all done in {outcome.seconds:.1f} s from the first push",
        *describe(rows),
        f"alerts {sum(len(a) for a in outcome.alerts.values())}, events {len(outcome.events)}, "
        f"webhooks received {sum(outcome.received.values())}",
    ]
    write_figures(support.ARTIFACTS / "topology.txt", figures)
    print("\n".join(figures))

    assert outcome.alive, "every API and worker process outlived the load"
    # Every batch done once: statuses, the API's counts, and the workers' own count of merges.
    assert outcome.statuses == {"done": load.batches}, outcome.statuses
    assert {first == again for first, again in outcome.repeated} == {True}, "a re-sent batch is the same batch"
    for batch_id, batch in outcome.batches.items():
        merged = batch["inserted"] + batch["replaced"] + batch["incremented"] + batch["superseded"]
        assert merged == batch["point_count"] == load.per_batch * 6, (batch_id, batch)
    totals = Counter()
    for batch in outcome.batches.values():
        totals.update({k: batch[k] for k in ("inserted", "replaced", "incremented", "superseded")})
    assert totals["inserted"] == outcome.expected_keys, f"each pushed key is new exactly once: {dict(totals)}"
    assert sum(totals.values()) == outcome.pushed_points, dict(totals)
    assert sum(r["merged"] for r in rows) == load.batches, f"merged once each, by one of the workers: {rows}"
    assert sum(r["points"] for r in rows) == outcome.pushed_points, rows
    assert sum(r["errors"] for r in rows) == 0, rows
    # The totals: every roll-up equal to the hand-computed sums, none missing, none extra.
    assert outcome.daily_wrong == [], outcome.daily_wrong[:5]

    # One alert per target that went off track, none for the one that did not; one event each.
    orgs = outcome.orgs
    assert outcome.alerts == {org.off_track_target: [("open", "critical")] for org in orgs}, outcome.alerts
    assert sorted((name, kind) for name, _, kind in outcome.events) == sorted(
        (org.name, "kpi.off_track") for org in orgs
    ), outcome.events
    # No double delivery: the receiver heard each event once, signed by its organisation's endpoint; the store holds
    # one delivered delivery per event and endpoint, made in one attempt.
    event_ids = {event_id for _, event_id, _ in outcome.events}
    assert outcome.unverified == 0
    assert outcome.received == Counter(dict.fromkeys(event_ids, 1)), outcome.received
    assert sorted((e, s, a) for e, _, s, a in outcome.deliveries) == sorted((e, "delivered", 1) for e in event_ids)
    assert len({(e, ep) for e, ep, _, _ in outcome.deliveries}) == len(outcome.deliveries)
    assert sorted(outcome.attempts.values()) == [1] * len(event_ids), outcome.attempts
    assert {outcome for (_, _, outcome) in outcome.attempts} == {"delivered"}
