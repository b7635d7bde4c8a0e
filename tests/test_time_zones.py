"""An organisation's days are local days in its time zone: "today", the current period, pacing, the scheduled
evaluation (and its re-judgement when a new local day begins), the period close and the API's default dates. An admin
changes the zone (or the reporting currency) with PATCH /v1/org; each change is recorded with what it affects.

Instants are fixed (the evaluation takes `now`), so nothing here depends on the day the suite runs: an organisation
in Asia/Ho_Chi_Minh (UTC+7) is already on 2026-12-01 at 2026-11-30T17:30Z while a UTC one is on 2026-11-30;
America/New_York changes its clocks on 2026-03-08 (23-hour day) and 2026-11-01 (25-hour day)."""

import asyncio
import uuid
from datetime import UTC, date, datetime, timedelta

import pytest

from shared.alerts import evaluate as evaluation
from shared.jobs.context import job_session
from shared.orgs.clock import LocalDays, day_start, local_today
from tests.conftest import PLATFORM_TOKEN, OrgHandle, auth, make_key
from tests.kpi_support import put_daily

PROBLEM = "application/problem+json"
HCM, NEW_YORK = "Asia/Ho_Chi_Minh", "America/New_York"


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


async def org_in(client, zone: str, name: str = "Zoned") -> OrgHandle:
    r = await client.post(
        "/v1/orgs", json={"name": name, "time_zone": zone}, headers={"X-Platform-Token": PLATFORM_TOKEN}
    )
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["org"]["time_zone"] == zone
    return OrgHandle(uuid.UUID(body["org"]["id"]), body["api_key"]["key"], uuid.UUID(body["api_key"]["id"]))


async def kpi_with_targets(client, org: OrgHandle, name: str, *periods: tuple[str, str], **target) -> str:
    """A leads KPI (higher is better) with a target on each (start, end); created before any data, so no target is
    evaluated on creation (that uses the real clock)."""
    r = await client.post(
        "/v1/kpis",
        json={"name": name, "category": "output", "formula": "leads", "unit": "count", "direction": "higher_is_better"},
        headers=org.headers,
    )
    assert r.status_code == 201, r.text
    kpi_id = r.json()["id"]
    for start, end in periods:
        body = {"start_date": start, "end_date": end, "threshold_mode": "absolute", "target_value": "100", **target}
        created = await client.post(f"/v1/kpis/{kpi_id}/targets", json=body, headers=org.headers)
        assert created.status_code == 201, created.text
    return kpi_id


async def evaluations_of(client, org: OrgHandle, kpi_id: str) -> list[dict]:
    r = await client.get(f"/v1/kpis/{kpi_id}/evaluations", headers=org.headers)
    assert r.status_code == 200, r.text
    return r.json()["items"]


def ctx_of(state) -> dict:
    return {"db": state.db, "queue": state.queue, "settings": state.settings}


async def tick(state, now: datetime) -> None:
    """The scheduled evaluation's run at `now` (every organisation the suite created)."""
    await evaluation.evaluate_active(ctx_of(state), now=now)


# --- the calendar -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("zone", "instant", "today"),
    [
        (HCM, "2026-11-30T16:59:59", "2026-11-30"),
        (HCM, "2026-11-30T17:00:00", "2026-12-01"),  # local midnight, 7 hours before UTC's
        ("UTC", "2026-11-30T17:30:00", "2026-11-30"),
        # fall back on 2026-11-01: EDT (UTC-4) until 06:00Z, then EST (UTC-5)
        (NEW_YORK, "2026-11-01T03:59:59", "2026-10-31"),
        (NEW_YORK, "2026-11-01T04:00:00", "2026-11-01"),
        (NEW_YORK, "2026-11-01T05:30:00", "2026-11-01"),  # 01:30 EDT
        (NEW_YORK, "2026-11-01T06:30:00", "2026-11-01"),  # 01:30 EST, the same wall time an hour later
        (NEW_YORK, "2026-11-02T04:30:00", "2026-11-01"),  # 23:30 EST: UTC is on the 2nd already
        (NEW_YORK, "2026-11-02T05:00:00", "2026-11-02"),
        # spring forward on 2026-03-08: EST until 07:00Z, then EDT
        (NEW_YORK, "2026-03-08T04:59:59", "2026-03-07"),
        (NEW_YORK, "2026-03-08T05:00:00", "2026-03-08"),
        (NEW_YORK, "2026-03-08T06:30:00", "2026-03-08"),
        (NEW_YORK, "2026-03-09T03:59:59", "2026-03-08"),
        (NEW_YORK, "2026-03-09T04:00:00", "2026-03-09"),
    ],
)
def test_today_is_the_local_date(zone, instant, today):
    assert local_today(zone, at(instant)) == date.fromisoformat(today)


def test_local_days_begin_at_local_midnight_and_last_23_or_25_hours_across_a_dst_change():
    assert day_start(date(2026, 12, 1), HCM) == at("2026-11-30T17:00:00")
    hours = {day: (day_start(day + timedelta(days=1), NEW_YORK) - day_start(day, NEW_YORK)) / timedelta(hours=1)
             for day in (date(2026, 3, 8), date(2026, 6, 1), date(2026, 11, 1))}  # fmt: skip
    assert hours == {date(2026, 3, 8): 23, date(2026, 6, 1): 24, date(2026, 11, 1): 25}
    days = LocalDays.at(at("2026-11-30T17:30:00"), [HCM, "UTC"])
    assert (days.today(HCM), days.today("UTC")) == (date(2026, 12, 1), date(2026, 11, 30))


# --- the scheduled evaluation -------------------------------------------------------------------------------------


async def test_past_local_midnight_the_schedule_judges_december_for_one_organisation_and_november_for_another(
    client, state
):
    """At 2026-11-30T17:30Z the Ho Chi Minh organisation is on 1 December: its December target is the current one
    (judged as of 2026-12-01) and its November target is closed (judged as of its last day). The UTC organisation is
    still in November: its November target is judged, its December one has not started."""
    periods = [("2026-11-01", "2026-11-30"), ("2026-12-01", "2026-12-31")]
    saigon, london = await org_in(client, HCM, "Saigon"), await org_in(client, "UTC", "London")
    ours = await kpi_with_targets(client, saigon, "Leads", *periods, pacing="linear", target_value="310")
    theirs = await kpi_with_targets(client, london, "Leads", *periods, pacing="linear", target_value="310")
    for org in (saigon, london):
        await put_daily(state, org.id, "leads", date(2026, 11, 29), [40, 50, 60])

    await tick(state, at("2026-11-30T17:30:00"))

    def seen(evaluations: list[dict]) -> list[tuple]:
        return sorted((e["window_start"], e["as_of"], e["value"], e["expected_to_date"]) for e in evaluations)

    # December: its first day elapsed, 10 of 310 expected; November: its whole period, all 310.
    assert seen(await evaluations_of(client, saigon, ours)) == [
        ("2026-11-01", "2026-11-30", "90", "310"),
        ("2026-12-01", "2026-12-01", "60", "10"),
    ]
    assert seen(await evaluations_of(client, london, theirs)) == [("2026-11-01", "2026-11-30", "90", "310")]


async def test_a_tick_just_after_local_midnight_judges_again_only_the_organisation_whose_day_began(client, state):
    """Judged at 23:50 local time in Ho Chi Minh (16:50Z); at 16:55Z nothing moved; at 17:05Z a new day has begun
    there (not in UTC): the Ho Chi Minh target is judged again as of 1 December with one more day of pacing, the UTC
    one is not. The Ho Chi Minh November target closes at the same tick, once."""
    saigon, london = await org_in(client, HCM, "Saigon"), await org_in(client, "UTC", "London")
    span = ("2026-11-01", "2026-12-30")  # 60 days, 100 leads: 5/3 a day expected
    ours = await kpi_with_targets(client, saigon, "Leads", span, pacing="linear")
    theirs = await kpi_with_targets(client, london, "Leads", span, pacing="linear")
    closing = await kpi_with_targets(client, saigon, "Leads in November", ("2026-11-01", "2026-11-30"))
    for org in (saigon, london):
        await put_daily(state, org.id, "leads", date(2026, 11, 28), [1, 1, 1, 1])

    counts = []
    for instant in ("2026-11-30T16:50:00", "2026-11-30T16:55:00", "2026-11-30T17:05:00", "2026-11-30T17:10:00"):
        await tick(state, at(instant))
        counts.append(
            tuple(
                [
                    len(await evaluations_of(client, org, k))
                    for org, k in ((saigon, ours), (london, theirs), (saigon, closing))
                ]
            )
        )
    assert counts == [(1, 1, 1), (1, 1, 1), (2, 1, 2), (2, 1, 2)]

    before, after = await evaluations_of(client, saigon, ours)
    assert (before["as_of"], after["as_of"]) == ("2026-11-30", "2026-12-01")
    assert (before["expected_to_date"], after["expected_to_date"]) == ("50", "51.66666667")  # 30/60 then 31/60
    assert after["evaluated_at"].startswith("2026-11-30T17:05")
    first, closed = await evaluations_of(client, saigon, closing)
    assert (first["as_of"], closed["as_of"], closed["window_end"]) == ("2026-11-30", "2026-11-30", "2026-11-30")


async def _judge_at(state, org: OrgHandle, kpi_id: str, now: datetime) -> dict:
    """What a push of this KPI's data evaluates (the job's own function), at `now`."""
    async with job_session(ctx_of(state)) as session:
        return await evaluation.evaluate_changed(
            session, state.settings, org_id=str(org.id), kpi_ids=[kpi_id], since=None, trigger="ingest", now=now
        )


@pytest.mark.parametrize(
    ("period", "target", "instants"),
    [
        # fall back: 300 over 30 days, 10 a day expected. At 03:30Z on 1 November it is still 31 October in New York
        # (the target has not started); 2026-11-02T04:30Z is still 1 November (23:30 EST).
        (
            ("2026-11-01", "2026-11-30"),
            "300",
            [("2026-11-01T03:30:00", None), ("2026-11-01T04:30:00", "10"), ("2026-11-02T04:30:00", "10"),
             ("2026-11-02T05:30:00", "20")],
        ),
        # spring forward: 310 over 31 days; 2026-03-08T04:30Z is 7 March (23:30 EST), 2026-03-09T03:30Z is still
        # 8 March (23:30 EDT).
        (
            ("2026-03-01", "2026-03-31"),
            "310",
            [("2026-03-08T04:30:00", "70"), ("2026-03-08T05:30:00", "80"), ("2026-03-09T03:30:00", "80"),
             ("2026-03-09T04:30:00", "90")],
        ),
    ],
    ids=["fall back", "spring forward"],
)  # fmt: skip
async def test_pacing_counts_the_local_days_elapsed_across_a_dst_change(client, state, period, target, instants):
    org = await org_in(client, NEW_YORK, "New York")
    kpi_id = await kpi_with_targets(client, org, "Leads", period, pacing="linear", target_value=target)
    await put_daily(state, org.id, "leads", date.fromisoformat(period[0]) - timedelta(days=1), [1] * 12)
    expected = []
    for instant, _ in instants:
        result = await _judge_at(state, org, kpi_id, at(instant))
        evaluations = await evaluations_of(client, org, kpi_id)
        expected.append(evaluations[-1]["expected_to_date"] if result["evaluated"] else None)
    assert expected == [paced for _, paced in instants]


# --- the API's defaults ------------------------------------------------------------------------------------------


async def test_the_api_defaults_to_the_organisations_today(client):
    """UTC+14 and UTC-11 are 25 hours apart: their dates always differ, so a default taken from UTC would be wrong
    for at least one of them at any moment."""
    answers = {}
    for zone in ("Pacific/Kiritimati", "Pacific/Pago_Pago"):
        org = await org_in(client, zone, zone)
        before = local_today(zone)
        r = await client.get("/v1/reports/department", headers=org.headers)
        assert r.status_code == 200, r.text
        assert r.json()["as_of"] in {before.isoformat(), local_today(zone).isoformat()}
        answers[zone] = r.json()["as_of"]
    assert answers["Pacific/Kiritimati"] > answers["Pacific/Pago_Pago"]


# --- the organisation's settings ---------------------------------------------------------------------------------


async def test_every_key_reads_its_organisation(client, org):
    for role in ("viewer", "ingest"):
        r = await client.get("/v1/org", headers=auth(await make_key(client, org, role)))
        assert r.status_code == 200, r.text
        assert (r.json()["id"], r.json()["time_zone"], r.json()["reporting_currency"]) == (str(org.id), "UTC", "USD")


async def test_an_admin_changes_the_zone_and_currency_and_each_change_is_recorded_with_its_effects(client, org):
    r = await client.patch("/v1/org", json={"time_zone": HCM, "reporting_currency": "VND"}, headers=org.headers)
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["time_zone"], body["reporting_currency"]) == (HCM, "VND")
    assert [(c["setting"], c["old_value"], c["new_value"]) for c in body["changes"]] == [
        ("time_zone", "UTC", HCM),
        ("reporting_currency", "USD", "VND"),
    ]
    zone_effects, currency_effects = (c["effects"] for c in body["changes"])
    assert "local days in Asia/Ho_Chi_Minh" in zone_effects and "points already stored keep their days" in zone_effects
    assert (
        "converted into VND" in currency_effects
        and "Budgets keep their own currency" in currency_effects
        and "revise those set in USD" in currency_effects
    )

    # The same values again, or a new name alone: nothing recorded.
    again = await client.patch("/v1/org", json={"time_zone": HCM, "name": "Acme Vietnam"}, headers=org.headers)
    assert (again.status_code, again.json()["changes"], again.json()["name"]) == (200, [], "Acme Vietnam")

    later = await client.patch("/v1/org", json={"time_zone": NEW_YORK}, headers=org.headers)
    assert [c["old_value"] for c in later.json()["changes"]] == [HCM]
    listed = (await client.get("/v1/org/changes", headers=org.headers)).json()
    assert [(c["setting"], c["new_value"], c["by_key_id"]) for c in listed["items"]] == [
        ("time_zone", HCM, str(org.admin_key_id)),
        ("reporting_currency", "VND", str(org.admin_key_id)),
        ("time_zone", NEW_YORK, str(org.admin_key_id)),
    ]
    assert listed["items"][0]["effects"] == zone_effects
    read = (await client.get("/v1/org", headers=org.headers)).json()
    assert (read["name"], read["time_zone"], read["reporting_currency"]) == ("Acme Vietnam", NEW_YORK, "VND")


async def test_a_non_admin_cannot_change_the_organisation(client, org):
    editor = auth(await make_key(client, org, "editor"))
    r = await client.patch("/v1/org", json={"time_zone": HCM}, headers=editor)
    assert r.status_code == 403 and r.headers["content-type"] == PROBLEM
    assert "this key is editor" in r.json()["detail"]
    assert (await client.get("/v1/org/changes", headers=editor)).status_code == 403
    assert (await client.get("/v1/org", headers=org.headers)).json()["time_zone"] == "UTC"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"time_zone": "Mars/Olympus_Mons"}, "body.time_zone"),
        ({"time_zone": "EST5EDT,M3.2.0,M11.1.0"}, "body.time_zone"),
        ({"reporting_currency": "XYZ"}, "body.reporting_currency"),
        ({"time_zone": None}, "body.time_zone"),
    ],
)
async def test_a_bad_zone_or_currency_is_a_422_naming_the_field_and_changes_nothing(client, org, body, field):
    r = await client.patch("/v1/org", json={"name": "Renamed", **body}, headers=org.headers)
    assert r.status_code == 422 and r.headers["content-type"] == PROBLEM, r.text
    assert [e["location"] for e in r.json()["errors"]] == [field]
    read = (await client.get("/v1/org", headers=org.headers)).json()
    assert (read["name"], read["time_zone"], read["reporting_currency"]) == ("Org A", "UTC", "USD")
    assert (await client.get("/v1/org/changes", headers=org.headers)).json()["items"] == []


async def test_a_new_zone_evaluates_the_current_targets_again(client, state, org):
    """After the change the organisation's current targets are judged at once by the new calendar (the job runs
    after the commit: in-process on SQLite, the worker on Postgres)."""
    today = local_today(HCM)
    kpi_id = await kpi_with_targets(
        client, org, "Leads", (str(today - timedelta(days=40)), str(today + timedelta(days=40)))
    )
    ended = await kpi_with_targets(client, org, "Old leads", ("2020-01-01", "2020-01-31"))
    await put_daily(state, org.id, "leads", today - timedelta(days=3), [5])
    r = await client.patch("/v1/org", json={"time_zone": HCM}, headers=org.headers)
    assert r.status_code == 200, r.text
    for _ in range(200):
        items = await evaluations_of(client, org, kpi_id)
        if items:
            break
        await asyncio.sleep(0.05)
    [ev] = items
    assert (ev["value"], ev["as_of"]) == ("5", str(local_today(HCM)))
    assert await evaluations_of(client, org, ended) == [], "a period long over is not judged again"
