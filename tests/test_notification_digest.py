"""A scheduled digest: what it says about an organisation (statuses, the week's status changes, the targets
furthest behind, budget pacing) read as the worker reads it, and when digests fall due across DST changes."""

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from decimal import Decimal

import pytest
from sqlalchemy import insert, update

from shared.alerts.digest import digest_data, digest_window, next_digest_at
from shared.alerts.models import KpiEvaluation
from shared.db.base import uuid7
from shared.db.scoping import allow_all_orgs, bind_org
from shared.kpis.models import KpiTarget
from shared.orgs.models import Org
from shared.plans.models import Budget, BudgetLine, Plan
from shared.plans.pacing import PaceStatus, pace
from tests.kpi_support import make_kpi

HCM = "Asia/Ho_Chi_Minh"  # UTC+7 all year
BERLIN = "Europe/Berlin"  # 2026: summer time from 29 March 02:00, back on 25 October 03:00
# A weekly digest due Monday 30 November 2026, 08:00 in Ho Chi Minh City (01:00 UTC), covering the week before.
SINCE = datetime(2026, 11, 23, 1, tzinfo=UTC)
UNTIL = datetime(2026, 11, 30, 1, tzinfo=UTC)
NOVEMBER = (date(2026, 11, 1), date(2026, 11, 30))


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


async def set_zone(state, org_id: uuid.UUID, tz: str) -> None:
    async with state.db.sessionmaker() as session:
        await session.execute(update(Org).where(Org.id == org_id).values(time_zone=tz))
        await session.commit()


async def target(state, org_id, kpi_id, start: date, end: date, value: str, label: str | None) -> uuid.UUID:
    async with state.db.sessionmaker() as session:
        bind_org(session, org_id)
        row = KpiTarget(
            kpi_id=kpi_id,
            period_kind="month" if label else "custom",
            period_label=label,
            start_date=start,
            end_date=end,
            target_value=Decimal(value),
            threshold_mode="percent",
            pacing="none",
        )
        session.add(row)
        await session.commit()
        return row.id


async def evaluations(state, org_id, kpi_id, target_id, *records: dict) -> None:
    """Evaluation records of one target, in one INSERT: each gives `at`, `status` and optionally `from`/`to` (a
    confirmed transition), `value`, `attainment`."""
    rows = [
        {
            "id": uuid7(),
            "org_id": org_id,
            "kpi_id": kpi_id,
            "target_id": target_id,
            "evaluated_at": r["at"],
            "as_of": r["at"].date(),
            "window_start": NOVEMBER[0],
            "window_end": r["at"].date(),
            "value": r.get("value"),
            "attainment_pct": r.get("attainment"),
            "observed_status": r["status"],
            "status": r["status"],
            "provisional": False,
            "reason": "test",
            "trigger": "schedule",
            "transition_from": r.get("from"),
            "transition_to": r.get("to"),
        }
        for r in records
    ]
    async with state.db.sessionmaker() as session:
        bind_org(session, org_id)
        await session.execute(insert(KpiEvaluation), rows)
        await session.commit()


async def kpi_with_target(state, org_id, name: str, target_value: str = "100", **fields) -> tuple[uuid.UUID, uuid.UUID]:
    kpi_id = await make_kpi(state, org_id, name=name, **fields)
    return kpi_id, await target(state, org_id, kpi_id, *NOVEMBER, target_value, "2026-11")


async def plan(state, org_id, name: str, start: date, end: date, label: str | None, status: str, budget=None) -> None:
    """A plan; `budget` (total, currency, actual spent on one meta line) gives it a budget."""
    async with state.db.sessionmaker() as session:
        bind_org(session, org_id)
        row = Plan(name=name, period_label=label, start_date=start, end_date=end, status=status)
        session.add(row)
        await session.flush()
        if budget is not None:
            total, currency, actual = budget
            money = Budget(plan_id=row.id, total=Decimal(total), currency=currency)
            session.add(money)
            await session.flush()
            session.add(
                BudgetLine(
                    budget_id=money.id, channel="meta", planned_amount=Decimal(total), actual_amount=Decimal(actual)
                )
            )
        await session.commit()


async def digest_as_the_worker_reads_it(state, settings, org_id, since=SINCE, until=UNTIL, frequency="weekly"):
    async with state.db.sessionmaker() as session:
        allow_all_orgs(session)  # the worker's session reads across organisations: the digest must scope itself
        org = await session.get_one(Org, org_id)
        return await digest_data(session, org=org, frequency=frequency, since=since, until=until, settings=settings)


@dataclass(frozen=True)
class Week:
    leads: uuid.UUID
    signups: uuid.UUID
    revenue: uuid.UUID
    ctr: uuid.UUID


async def a_week(state, org_id) -> Week:
    """Five KPIs with November targets (off track, at risk, on track, no data, and one never evaluated, with no
    data), one whose only target was October's, and the week's evaluations: changes inside the window, on its
    edges and outside it."""
    await set_zone(state, org_id, HCM)
    leads, leads_t = await kpi_with_target(state, org_id, "Leads", "200")
    signups, signups_t = await kpi_with_target(state, org_id, "Signups", "50", category="impact")
    revenue, revenue_t = await kpi_with_target(state, org_id, "Revenue", "1000", unit="currency", formula="revenue")
    ctr, ctr_t = await kpi_with_target(state, org_id, "CTR", "2", unit="percent", formula="clicks / impressions")
    await kpi_with_target(state, org_id, "Clicks")  # not evaluated yet: judged on reading, as the scorecard does
    nps = await make_kpi(state, org_id, name="NPS", formula="nps")
    await target(state, org_id, nps, date(2026, 10, 1), date(2026, 10, 31), "40", "2026-10")
    await evaluations(
        state,
        org_id,
        leads,
        leads_t,
        {"at": utc(2026, 11, 21, 3), "status": "at_risk", "value": Decimal(100), "attainment": Decimal(50)},
        {
            "at": utc(2026, 11, 28, 10),
            "status": "off_track",
            "from": "at_risk",
            "to": "off_track",
            "value": Decimal(80),
            "attainment": Decimal(40),
        },
    )
    await evaluations(
        state,
        org_id,
        signups,
        signups_t,
        # changed before the window opened; evaluated inside it without a change
        {"at": utc(2026, 11, 20, 10), "status": "at_risk", "from": "on_track", "to": "at_risk", "value": Decimal(41)},
        {"at": utc(2026, 11, 29, 10), "status": "at_risk", "value": Decimal(40), "attainment": Decimal("80")},
    )
    await evaluations(
        state,
        org_id,
        revenue,
        revenue_t,
        # at `until` exactly: the next digest's
        {
            "at": UNTIL,
            "status": "on_track",
            "from": "at_risk",
            "to": "on_track",
            "value": Decimal("1100.5"),
            "attainment": Decimal("110.05"),
        },
    )
    await evaluations(
        state,
        org_id,
        ctr,
        ctr_t,
        {"at": SINCE, "status": "no_data", "from": "on_track", "to": "no_data"},  # at `since` exactly: this digest's
    )
    return Week(leads, signups, revenue, ctr)


async def test_a_digest_counts_each_current_target_by_its_status_and_the_kpis_without_one(
    state, settings, org, other_org
):
    await a_week(state, org.id)
    await kpi_with_target(state, other_org.id, "Leads")  # another organisation's: not counted
    await make_kpi(state, other_org.id, name="NPS", formula="nps")
    body = await digest_as_the_worker_reads_it(state, settings, org.id)
    assert body["counts"] == {"on_track": 1, "at_risk": 1, "off_track": 1, "no_data": 2, "no_target": 1}
    assert body["org"] == {"name": "Org A", "time_zone": HCM, "reporting_currency": "USD"}
    assert body["frequency"] == "weekly"
    assert body["dashboard_url"] == f"{settings.public_base_url}/dashboard"


async def test_a_digest_lists_the_status_changes_of_its_window_only_newest_first(state, settings, org, other_org):
    week = await a_week(state, org.id)
    theirs, theirs_t = await kpi_with_target(state, other_org.id, "Leads")  # another organisation's change
    await evaluations(
        state, other_org.id, theirs, theirs_t, {"at": utc(2026, 11, 25), "status": "at_risk", "to": "at_risk"}
    )
    body = await digest_as_the_worker_reads_it(state, settings, org.id)
    assert body["status_changes"] == [
        {
            "kpi": {"id": str(week.leads), "name": "Leads", "category": "output", "unit": "count"},
            "from": "at_risk",
            "to": "off_track",
            "at": "2026-11-28T10:00:00+00:00",
            "value": "80",
            "target_value": "200",
            "url": f"{settings.public_base_url}/dashboard/kpis/{week.leads}",
        },
        {
            "kpi": {"id": str(week.ctr), "name": "CTR", "category": "output", "unit": "percent"},
            "from": "on_track",
            "to": "no_data",
            "at": "2026-11-23T01:00:00+00:00",
            "value": None,
            "target_value": "2",
            "url": f"{settings.public_base_url}/dashboard/kpis/{week.ctr}",
        },
    ]
    assert body["status_changes_total"] == 2


async def test_a_busy_week_shows_the_ten_newest_changes_and_how_many_there_were(state, settings, org):
    kpi_id, target_id = await kpi_with_target(state, org.id, "Flaky")
    flips = [("on_track", "at_risk"), ("at_risk", "on_track")] * 6
    await evaluations(
        state,
        org.id,
        kpi_id,
        target_id,
        *({"at": utc(2026, 11, 24, hour), "status": to, "from": old, "to": to} for hour, (old, to) in enumerate(flips)),
    )
    body = await digest_as_the_worker_reads_it(state, settings, org.id)
    assert body["status_changes_total"] == 12
    assert [c["at"][11:13] for c in body["status_changes"]] == [f"{h:02d}" for h in range(11, 1, -1)]


async def test_the_targets_furthest_behind_come_first_with_their_numbers(state, settings, org):
    week = await a_week(state, org.id)
    body = await digest_as_the_worker_reads_it(state, settings, org.id)
    worst = [
        (w["kpi"]["name"], w["attainment_pct"], w["value"], w["target_value"], w["status"])
        for w in body["worst_attainment"]
    ]
    # CTR has no attainment (no data): it is in the counts, not here
    assert worst == [
        ("Leads", "40", "80", "200", "off_track"),
        ("Signups", "80", "40", "50", "at_risk"),
        ("Revenue", "110.05", "1100.5", "1000", "on_track"),
    ]
    first = body["worst_attainment"][0]
    assert first["period"] == "2026-11" and first["url"].endswith(f"/dashboard/kpis/{week.leads}")


async def test_the_worst_five_of_many_targets(state, settings, org):
    for i in range(7):
        kpi_id, target_id = await kpi_with_target(state, org.id, f"K{i}")
        await evaluations(
            state,
            org.id,
            kpi_id,
            target_id,
            {"at": utc(2026, 11, 29), "status": "at_risk", "attainment": Decimal(90 - i)},
        )
    body = await digest_as_the_worker_reads_it(state, settings, org.id)
    assert [w["kpi"]["name"] for w in body["worst_attainment"]] == ["K6", "K5", "K4", "K3", "K2"]


async def test_budget_pacing_puts_the_plan_most_ahead_of_time_first(state, settings, org, other_org):
    await set_zone(state, org.id, HCM)
    q4 = (date(2026, 10, 1), date(2026, 12, 31))
    # 30 November is day 61 of Q4's 92: 66.3 % of the time gone, 90 % of the money
    await plan(state, org.id, "Q4 push", *q4, "2026-Q4", "active", ("1000", "EUR", "900"))
    # the last day of November: all the time gone, half the money
    await plan(state, org.id, "November", *NOVEMBER, "2026-11", "approved", ("2000000", "VND", "1000000"))
    await plan(state, org.id, "Draft", *q4, "2026-Q4", "draft", ("100", "EUR", "100"))
    await plan(state, org.id, "Over", date(2026, 1, 1), date(2026, 6, 30), "2026-H1", "active", ("100", "EUR", "100"))
    await plan(state, org.id, "No budget", *q4, "2026-Q4", "active")
    await plan(state, other_org.id, "Theirs", *q4, "2026-Q4", "active", ("100", "EUR", "100"))
    body = await digest_as_the_worker_reads_it(state, settings, org.id)
    [ahead, behind] = body["budget_pacing"]
    assert ahead["plan"]["name"] == "Q4 push" and ahead["plan"]["period"] == "2026-Q4"
    assert (ahead["currency"], ahead["planned"], ahead["actual"]) == ("EUR", "1000.00", "900.00")
    assert (ahead["elapsed_share"], ahead["spent_share"], ahead["pacing"], ahead["status"]) == (
        "0.663",
        "0.9",
        "0.237",
        "over_pace",
    )
    assert ahead["url"] == f"{settings.public_base_url}/dashboard?period=2026-Q4"
    assert (behind["plan"]["name"], behind["planned"], behind["actual"]) == ("November", "2000000", "1000000")
    assert (behind["elapsed_share"], behind["spent_share"], behind["pacing"], behind["status"]) == (
        "1",
        "0.5",
        "-0.5",
        "under_pace",
    )


@pytest.mark.parametrize(
    ("actual", "status"),
    [("900", "over_pace"), ("550", "on_pace"), ("460", "on_pace"), ("440", "under_pace"), (None, "unconverted")],
)
def test_pace_in_a_word(actual, status):
    """Halfway through a 10-day plan, 5 points either side of half the budget spent is on pace."""
    paced = pace(
        total=Decimal(1000),
        actual=None if actual is None else Decimal(actual),
        start=date(2026, 11, 1),
        end=date(2026, 11, 10),
        today=date(2026, 11, 5),
    )
    assert paced.elapsed_share == Decimal("0.5") and paced.status == PaceStatus(status)


async def test_the_digest_dates_are_the_organisations_local_days(state, settings, org):
    """A daily digest due at 06:00 in Ho Chi Minh City (23:00 UTC the day before) covers 29 November 06:00 to 30
    November 06:00 local: UTC's dates (28-29 November) would name the wrong days."""
    await set_zone(state, org.id, HCM)
    due = next_digest_at(frequency="daily", at=time(6), weekday=None, time_zone=HCM, after=utc(2026, 11, 29, 12))
    assert due == utc(2026, 11, 29, 23)
    since, until = digest_window(frequency="daily", at=time(6), weekday=None, time_zone=HCM, due=due)
    assert (since, until) == (utc(2026, 11, 28, 23), due)
    body = await digest_as_the_worker_reads_it(state, settings, org.id, since, until, "daily")
    assert (body["from"], body["to"]) == ("2026-11-29", "2026-11-30")


async def test_a_digest_is_a_fixed_number_of_statements_whatever_the_number_of_kpis(
    state, settings, org, count_queries
):
    async def statements() -> int:
        with count_queries as q:
            await digest_as_the_worker_reads_it(state, settings, org.id)
        return q.count

    await a_week(state, org.id)
    await plan(
        state, org.id, "Q4 push", date(2026, 10, 1), date(2026, 12, 31), "2026-Q4", "active", ("1000", "EUR", "9")
    )
    few = await statements()
    for i in range(15):
        kpi_id, target_id = await kpi_with_target(state, org.id, f"More {i}")
        await evaluations(
            state, org.id, kpi_id, target_id, {"at": utc(2026, 11, 29), "status": "on_track", "to": "on_track"}
        )
        await plan(state, org.id, f"Plan {i}", *NOVEMBER, "2026-11", "active", ("100", "EUR", "9"))
    assert await statements() == few


# ---- when digests fall due ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("at", "after", "expected"),
    [
        # 08:00 every day: 23 hours apart across the night the clocks go forward, 25 across the night they go back
        (time(8), utc(2026, 3, 28, 7), utc(2026, 3, 29, 6)),
        (time(8), utc(2026, 10, 24, 6), utc(2026, 10, 25, 7)),
        # 02:30 does not exist on 29 March: it moves forward by the gap, to 03:30 summer time
        (time(2, 30), utc(2026, 3, 28, 12), utc(2026, 3, 29, 1, 30)),
        (time(2, 30), utc(2026, 3, 29, 1, 30), utc(2026, 3, 30, 0, 30)),
        # 02:30 happens twice on 25 October: the first (summer time) only, never a second send an hour later
        (time(2, 30), utc(2026, 10, 24, 12), utc(2026, 10, 25, 0, 30)),
        (time(2, 30), utc(2026, 10, 25, 0, 30), utc(2026, 10, 26, 1, 30)),
    ],
)
def test_a_daily_digest_falls_due_at_its_local_time_across_dst_changes(at, after, expected):
    assert next_digest_at(frequency="daily", at=at, weekday=None, time_zone=BERLIN, after=after) == expected


def test_a_weekly_digest_falls_due_on_its_weekday_strictly_after():
    def monday_8(after: datetime) -> datetime:
        return next_digest_at(frequency="weekly", at=time(8), weekday=0, time_zone=BERLIN, after=after)

    # Monday 23 March 08:00 CET is 07:00 UTC: at that instant, the next is a week later, in summer time
    assert monday_8(utc(2026, 3, 23, 7)) == utc(2026, 3, 30, 6)
    assert monday_8(utc(2026, 3, 23, 6, 59)) == utc(2026, 3, 23, 7)
    assert monday_8(utc(2026, 3, 25, 12)) == utc(2026, 3, 30, 6)  # from a Wednesday
    # its window is the week of wall time before it: 167 hours across the change, so weeks meet exactly
    since, until = digest_window(frequency="weekly", at=time(8), weekday=0, time_zone=BERLIN, due=utc(2026, 3, 30, 6))
    assert (since, until) == (utc(2026, 3, 23, 7), utc(2026, 3, 30, 6))
    with pytest.raises(ValueError, match="weekday"):
        next_digest_at(frequency="weekly", at=time(8), weekday=None, time_zone=BERLIN, after=utc(2026, 3, 23))
