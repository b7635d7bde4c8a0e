"""Targets per period with thresholds that fit the KPI's direction; revisions; no overlapping periods."""

import asyncio
import time
from datetime import UTC, date, datetime, timedelta

import pytest

from shared.periods import period_containing
from tests.kpi_support import make_kpi, put_daily
from tests.support import BACKEND

PROBLEM = "application/problem+json"


async def test_a_quarter_target_with_percent_thresholds_resolves_to_absolute_levels(client, keys, state, org):
    kpi = await make_kpi(state, org.id)
    r = await client.post(
        f"/v1/kpis/{kpi}/targets",
        json={"period": "2027-q1", "target_value": "1000", "warning": "90", "critical": "75"},
        headers=keys.headers("editor"),
    )
    assert r.status_code == 201, r.text
    t = r.json()
    assert (t["period_kind"], t["period_label"], t["start_date"], t["end_date"]) == (
        "quarter",
        "2027-Q1",
        "2027-01-01",
        "2027-03-31",
    )
    assert t["pacing"] == "linear", "leads is one summed metric: cumulative, so paced linearly"
    assert (t["resolved"]["warning"], t["resolved"]["critical"]) == ("900", "750")


async def test_ratio_kpis_default_to_no_pacing_and_lower_is_better_needs_rising_levels(client, keys, state, org):
    kpi = await make_kpi(state, org.id, name="CPC", formula="spend / clicks", direction="lower_is_better")
    url = f"/v1/kpis/{kpi}/targets"
    h = keys.headers("editor")
    wrong = await client.post(url, json={"period": "2027-01", "target_value": "2", "warning": "90"}, headers=h)
    assert wrong.status_code == 422 and wrong.headers["content-type"] == PROBLEM
    assert "lower_is_better" in wrong.json()["detail"]
    ok = await client.post(
        url,
        json={
            "period": "2027-01",
            "target_value": "2",
            "threshold_mode": "absolute",
            "warning": "2.2",
            "critical": "2.5",
        },
        headers=h,
    )
    assert ok.status_code == 201 and ok.json()["pacing"] == "none"


@pytest.mark.parametrize(
    "body",
    [
        {"target_value": "10"},
        {"period": "2027-Q9", "target_value": "10"},
        {"start_date": "2027-02-01", "end_date": "2027-01-01", "target_value": "10"},
        {"period": "2027-01", "target_value": "NaN"},
        {"period": "2027-01", "target_value": "ten"},
        {"period": "2027-01", "target_value": "10", "pending_evaluations": 0},
        {"period": "2027-01", "target_value": "10", "no_data_policy": "panic"},
        {"period": "2027-01", "target_value": "10", "threshold_mode": "absolute", "warning": "12"},
        {"period": "2027-01", "target_value": "10", "target_high": "20"},
        {"period": "2027-Q1", "start_date": "2027-02-01", "end_date": "2027-03-31", "target_value": "10"},
        {"period": "2027-Q1", "end_date": "2027-06-30", "target_value": "10"},
    ],
)
async def test_bad_targets_are_422_and_nothing_is_written(client, keys, state, org, body):
    kpi = await make_kpi(state, org.id)
    r = await client.post(f"/v1/kpis/{kpi}/targets", json=body, headers=keys.headers("editor"))
    assert r.status_code == 422, r.text
    assert (await client.get(f"/v1/kpis/{kpi}/targets", headers=keys.headers("viewer"))).json()["items"] == []


async def test_a_period_with_dates_that_disagree_is_refused_naming_the_fields(client, keys, state, org):
    kpi = await make_kpi(state, org.id)
    url, h = f"/v1/kpis/{kpi}/targets", keys.headers("editor")
    body = {"period": "2027-Q1", "start_date": "2027-02-01", "end_date": "2027-04-30", "target_value": "10"}
    r = await client.post(url, json=body, headers=h)
    assert r.status_code == 422 and r.headers["content-type"] == PROBLEM
    detail = r.json()["detail"]
    assert "start_date 2027-02-01 is not the start of 2027-Q1 (2027-01-01)" in detail
    assert "end_date 2027-04-30 is not the end of 2027-Q1 (2027-03-31)" in detail
    matching = {**body, "start_date": "2027-01-01", "end_date": "2027-03-31"}
    t = (await client.post(url, json=matching, headers=h)).json()
    assert (t["period_label"], t["start_date"], t["end_date"]) == ("2027-Q1", "2027-01-01", "2027-03-31")


async def test_a_range_kpi_target_defaults_to_no_pacing(client, keys, state, org):
    ctr = await make_kpi(state, org.id, name="CTR", formula="clicks", direction="target_range", unit="percent")
    body = {"period": "2027-01", "target_value": "18", "target_high": "25"}
    r = await client.post(f"/v1/kpis/{ctr}/targets", json=body, headers=keys.headers("editor"))
    assert r.status_code == 201, r.text
    assert r.json()["pacing"] == "none", "clicks is one summed metric, but a band is never paced linearly"
    linear = await client.post(
        f"/v1/kpis/{ctr}/targets",
        json={**body, "period": "2027-02", "pacing": "linear"},
        headers=keys.headers("editor"),
    )
    assert linear.status_code == 422 and "paced linearly" in linear.json()["detail"]


async def evaluations_of(client, headers, kpi, timeout_s: float = 20) -> list[dict]:
    """The KPI's evaluations once there is one (the deferred job runs after the request: in-process on
    SQLite, in the arq worker process on Postgres)."""
    deadline = time.monotonic() + timeout_s
    while True:
        items = (await client.get(f"/v1/kpis/{kpi}/evaluations", headers=headers)).json()["items"]
        if items or time.monotonic() > deadline:
            return items
        await asyncio.sleep(0.05)


async def test_a_target_over_data_already_ingested_is_evaluated_at_once(client, keys, state, org):
    kpi = await make_kpi(state, org.id)
    # Last month, already over: the periodic re-evaluation only looks at current periods.
    month = period_containing("month", period_containing("month", datetime.now(UTC).date()).start - timedelta(1))
    await put_daily(state, org.id, "leads", month.start, [10] * 20)
    r = await client.post(
        f"/v1/kpis/{kpi}/targets", json={"period": month.label, "target_value": "300"}, headers=keys.headers("editor")
    )
    assert r.status_code == 201, r.text
    [evaluation] = await evaluations_of(client, keys.headers("viewer"), kpi)
    assert (evaluation["target_id"], evaluation["trigger"]) == (r.json()["id"], "target_change")
    assert (evaluation["value"], evaluation["attainment_pct"], evaluation["status"]) == ("200", "66.67", "off_track")


async def test_periods_of_one_kpi_may_not_overlap(client, keys, state, org):
    kpi = await make_kpi(state, org.id)
    other = await make_kpi(state, org.id, name="Other")
    h = keys.headers("editor")
    q1 = await client.post(f"/v1/kpis/{kpi}/targets", json={"period": "2027-Q1", "target_value": "10"}, headers=h)
    march = await client.post(f"/v1/kpis/{kpi}/targets", json={"period": "2027-03", "target_value": "4"}, headers=h)
    assert march.status_code == 409 and march.json()["overlapping_target_id"] == q1.json()["id"]
    april = await client.post(f"/v1/kpis/{kpi}/targets", json={"period": "2027-04", "target_value": "4"}, headers=h)
    assert april.status_code == 201
    elsewhere = await client.post(
        f"/v1/kpis/{other}/targets", json={"period": "2027-03", "target_value": "4"}, headers=h
    )
    assert elsewhere.status_code == 201


async def test_parallel_overlapping_targets_leave_exactly_one(client, keys, state, org):
    kpi = await make_kpi(state, org.id)
    h = keys.headers("editor")
    bodies = [
        {"period": label, "target_value": "5"}
        for label in ("2027-Q2", "2027-05", "2027-W20", "2027-H1", "2027")  # all contain mid-May
    ]
    results = await asyncio.gather(*(client.post(f"/v1/kpis/{kpi}/targets", json=b, headers=h) for b in bodies))
    created = [r for r in results if r.status_code == 201]
    assert len(created) == 1
    if BACKEND == "postgres":
        assert sorted(r.status_code for r in results) == [201, 409, 409, 409, 409]


async def test_changing_value_or_thresholds_needs_a_reason_and_is_recorded(client, keys, state, org):
    kpi = await make_kpi(state, org.id)
    h = keys.headers("editor")
    t = (
        await client.post(f"/v1/kpis/{kpi}/targets", json={"period": "2027-Q1", "target_value": "1000"}, headers=h)
    ).json()
    url = f"/v1/kpis/{kpi}/targets/{t['id']}"
    silent = await client.patch(url, json={"target_value": "800"}, headers=h)
    assert silent.status_code == 422 and silent.json()["errors"][0]["location"] == "body.reason"
    free = await client.patch(url, json={"pending_evaluations": 3}, headers=h)
    assert free.status_code == 200 and free.json()["pending_evaluations"] == 3
    changed = await client.patch(
        url, json={"target_value": "800", "warning": "85", "reason": "launch slipped"}, headers=h
    )
    assert changed.status_code == 200 and changed.json()["resolved"]["warning"] == "680"
    [revision] = (await client.get(f"{url}/revisions", headers=keys.headers("viewer"))).json()["items"]
    assert revision["reason"] == "launch slipped"
    assert revision["old"] == {"target_value": "1000", "warning": None}
    assert revision["new"] == {"target_value": "800", "warning": "85"}
    assert revision["by_key_id"] is not None
    bad_order = await client.patch(url, json={"critical": "95", "reason": "tighter"}, headers=h)
    assert bad_order.status_code == 422
    assert len((await client.get(f"{url}/revisions", headers=h)).json()["items"]) == 1


async def test_targets_roles_and_tenants(client, keys, state, org, other_org):
    kpi = await make_kpi(state, org.id)
    body = {"period": "2027-Q1", "target_value": "10"}
    assert (await client.post(f"/v1/kpis/{kpi}/targets", json=body, headers=keys.headers("viewer"))).status_code == 403
    assert (await client.get(f"/v1/kpis/{kpi}/targets", headers=keys.headers("ingest"))).status_code == 403
    assert (await client.post(f"/v1/kpis/{kpi}/targets", json=body, headers=other_org.headers)).status_code == 404
    t = (await client.post(f"/v1/kpis/{kpi}/targets", json=body, headers=keys.headers("editor"))).json()
    assert (await client.get(f"/v1/kpis/{kpi}/targets/{t['id']}", headers=other_org.headers)).status_code == 404
    assert (await client.delete(f"/v1/kpis/{kpi}/targets/{t['id']}", headers=keys.headers("editor"))).status_code == 204


async def test_suggestion_waits_for_history_then_explains_itself(client, keys, state, org):
    kpi = await make_kpi(state, org.id)
    url = f"/v1/kpis/{kpi}/suggested-target?period=2027-05"
    empty = (await client.get(url, headers=keys.headers("viewer"))).json()
    assert empty["enough_history"] is False and empty["suggestion"] is None
    assert "Not enough history" in empty["explanation"]
    # Leads per month Nov 2026 .. Apr 2027: 100, 110, 120, 130, 140, 150 (one day of data each month).
    for i, month_start in enumerate(
        [date(2026, 11, 3), date(2026, 12, 3), date(2027, 1, 3), date(2027, 2, 3), date(2027, 3, 3), date(2027, 4, 3)]
    ):
        await put_daily(state, org.id, "leads", month_start, [100 + 10 * i])
    body = (await client.get(url, headers=keys.headers("viewer"))).json()
    assert body["enough_history"] is True
    assert [p["value"] for p in body["history"]] == ["100", "110", "120", "130", "140", "150"]
    assert body["suggestion"]["target_value"] == "160"
    assert body["numbers"]["trend_per_period"] == "10"
    # Thresholds one and two standard deviations (17.0783 over 100..150) below the projected 160.
    assert (body["suggestion"]["warning"], body["suggestion"]["critical"]) == ("142.9217", "125.8435")
    assert "trend" in body["explanation"]
    assert (
        await client.get(f"/v1/kpis/{kpi}/suggested-target?period=May", headers=keys.headers("viewer"))
    ).status_code == 422
