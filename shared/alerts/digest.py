"""The data of a scheduled KPI digest (daily or weekly), and when digests fall due.

The digest reads what the API already shows, the same way: a target's status is its standing
(`shared.alerts.standing`, as the scorecard reads it), a plan's pacing is `shared.plans.pacing` (as the budget
report reads it), numbers are `plain_number` and money `amount_text`. The worker builds it, so every query filters
by the organisation itself (its session may read across organisations), and the whole digest is a fixed number of
statements whatever the number of KPIs or plans.

A digest covers [since, until): from the previous due instant to this one (`digest_window`), so successive digests
meet without a gap or an overlap; "today" (current targets, plans in their period, elapsed shares) is the
organisation's local date at `until`.
"""

import uuid
from collections import defaultdict
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Literal

from sqlalchemy import and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.alerts.models import KpiEvaluation
from shared.alerts.standing import Standing, standings
from shared.kpis.evaluation import Status
from shared.kpis.models import Kpi, KpiTarget
from shared.money.currencies import amount_text
from shared.numbers import plain_number
from shared.orgs.clock import local_day, local_today, remember_zone, zone
from shared.orgs.models import Org
from shared.plans.actuals import ingested_by_lines
from shared.plans.models import Budget, BudgetLine, Plan, PlanStatus
from shared.plans.pacing import pace, total_actual
from shared.settings import Settings

Frequency = Literal["daily", "weekly"]
STATUS_CHANGES_SHOWN = 10
WORST_SHOWN = 5
PLANS_SHOWN = 5
# As the dashboard and the overspend check: a draft's allocations are still being written, a closed plan is history.
PACED_STATUSES = (PlanStatus.approved, PlanStatus.active)


# ---- when digests fall due -------------------------------------------------------------------------------------


def local_instant(day: date, at: time, time_zone: str) -> datetime:
    """The UTC instant of local wall time `at` on `day`. A wall time the clocks skip (02:30 on the night they go
    forward) moves forward by the gap, to 03:30 new time: the offset before the change is applied (PEP 495's
    fold=0). One the clocks pass twice (02:30 on the night they go back) is the first of the two. So a digest is
    never skipped and never sent twice."""
    return datetime.combine(day, at.replace(tzinfo=None, fold=0), zone(time_zone)).astimezone(UTC)


def _due_on(day: date, frequency: Frequency, weekday: int | None) -> bool:
    if frequency == "daily":
        return True
    if weekday is None or not 0 <= weekday <= 6:
        raise ValueError("a weekly digest needs a weekday from 0 (Monday) to 6 (Sunday)")
    return day.weekday() == weekday


def next_digest_at(*, frequency: Frequency, at: time, weekday: int | None, time_zone: str, after: datetime) -> datetime:
    """The first UTC instant strictly after `after` at local wall time `at` in the IANA zone `time_zone`, on every
    day (daily) or on `weekday` (weekly; 0 = Monday). Wall times across a DST change as `local_instant`: a skipped
    one moves forward by the gap, an ambiguous one is the first."""
    start = local_day(after, time_zone) - timedelta(days=1)  # a skipped time can land on the next local day
    for offset in range(9):
        day = start + timedelta(days=offset)
        if _due_on(day, frequency, weekday):
            instant = local_instant(day, at, time_zone)
            if instant > after:
                return instant
    raise AssertionError("unreachable: a week always has the weekday")


def previous_digest_at(
    *, frequency: Frequency, at: time, weekday: int | None, time_zone: str, before: datetime
) -> datetime:
    """The last scheduled instant strictly before `before` (the mirror of `next_digest_at`)."""
    start = local_day(before, time_zone) + timedelta(days=1)
    for offset in range(9):
        day = start - timedelta(days=offset)
        if _due_on(day, frequency, weekday):
            instant = local_instant(day, at, time_zone)
            if instant < before:
                return instant
    raise AssertionError("unreachable: a week always has the weekday")


def digest_window(
    *, frequency: Frequency, at: time, weekday: int | None, time_zone: str, due: datetime
) -> tuple[datetime, datetime]:
    """[since, until) a digest due at `due` covers: from the schedule's previous instant to `due`. That is a day
    (daily) or a week (weekly) of local wall time — 23 or 25 hours across a DST change, not 24 — so the
    windows of successive digests tile: every status change falls in exactly one."""
    since = previous_digest_at(frequency=frequency, at=at, weekday=weekday, time_zone=time_zone, before=due)
    return since, due


# ---- what a digest says ----------------------------------------------------------------------------------------


def _text(value: Any) -> str | None:
    return None if value is None else plain_number(value)


def _status(status: Status | None) -> str | None:
    return None if status is None else status.value


def _kpi(kpi: Kpi) -> dict[str, str]:
    return {"id": str(kpi.id), "name": kpi.name, "category": kpi.category.value, "unit": kpi.unit.value}


def _kpi_url(settings: Settings, kpi_id: uuid.UUID) -> str:
    return f"{settings.public_base_url}/dashboard/kpis/{kpi_id}"


async def _current_targets(
    session: AsyncSession, org_id: uuid.UUID, today: date
) -> tuple[list[Kpi], list[tuple[Kpi, KpiTarget]]]:
    """Every KPI of the organisation, and those with a target whose period contains `today` paired with it (a
    KPI's targets never overlap, so at most one each). One statement."""
    rows = (
        await session.execute(
            select(Kpi, KpiTarget)
            .outerjoin(
                KpiTarget,
                and_(KpiTarget.kpi_id == Kpi.id, KpiTarget.start_date <= today, KpiTarget.end_date >= today),
            )
            .where(Kpi.org_id == org_id)
            .order_by(Kpi.name)
        )
    ).all()
    return [kpi for kpi, _ in rows], [(kpi, target) for kpi, target in rows if target is not None]


def _counts(kpis: list[Kpi], standing: dict[uuid.UUID, Standing]) -> dict[str, int]:
    counts = {status.value: 0 for status in Status}
    for current in standing.values():
        counts[current.status.value] += 1
    counts["no_target"] = len(kpis) - len(standing)
    return counts


def _worst(
    pairs: list[tuple[Kpi, KpiTarget]], standing: dict[uuid.UUID, Standing], settings: Settings
) -> list[dict[str, Any]]:
    """The current targets furthest below their target (lowest attainment first; a target with no attainment, for
    want of data, is in the counts as no_data instead)."""
    ranked = sorted(
        ((kpi, target, standing[target.id]) for kpi, target in pairs if standing[target.id].attainment_pct is not None),
        key=lambda row: (row[2].attainment_pct, row[0].name),
    )
    return [
        {
            "kpi": _kpi(kpi),
            "period": target.period_label,
            "value": _text(current.value),
            "target_value": _text(target.target_value),
            "attainment_pct": _text(current.attainment_pct),
            "status": current.status.value,
            "url": _kpi_url(settings, kpi.id),
        }
        for kpi, target, current in ranked[:WORST_SHOWN]
    ]


async def _status_changes(
    session: AsyncSession, org_id: uuid.UUID, since: datetime, until: datetime, settings: Settings
) -> tuple[list[dict[str, Any]], int]:
    """The confirmed status changes recorded in [since, until), newest first (at most STATUS_CHANGES_SHOWN), and
    how many there were. Two statements."""
    in_window = (
        KpiEvaluation.org_id == org_id,
        KpiEvaluation.transition_to.is_not(None),
        KpiEvaluation.evaluated_at >= since,
        KpiEvaluation.evaluated_at < until,
    )
    total = await session.scalar(select(func.count()).select_from(KpiEvaluation).where(*in_window)) or 0
    rows = (
        await session.execute(
            select(KpiEvaluation, Kpi, KpiTarget.target_value)
            .join(Kpi, Kpi.id == KpiEvaluation.kpi_id)
            .join(KpiTarget, KpiTarget.id == KpiEvaluation.target_id)
            .where(*in_window)
            .order_by(KpiEvaluation.evaluated_at.desc(), KpiEvaluation.id.desc())
            .limit(STATUS_CHANGES_SHOWN)
        )
    ).all()
    changes = [
        {
            "kpi": _kpi(kpi),
            "from": _status(ev.transition_from),
            "to": _status(ev.transition_to),  # never None here: only transitions are read
            "at": ev.evaluated_at.astimezone(UTC).isoformat(timespec="seconds"),
            "value": _text(ev.value),
            "target_value": _text(target_value),
            "url": _kpi_url(settings, kpi.id),
        }
        for ev, kpi, target_value in rows
    ]
    return changes, total


async def _budget_pacing(
    session: AsyncSession, org_id: uuid.UUID, today: date, settings: Settings
) -> list[dict[str, Any]]:
    """The pacing of each approved or active plan whose period contains `today` and whose budget is above 0 (a
    plan with no money has no pace), most over pace first. Plans with their budgets (1), their lines (1), the
    lines' ingested spend (a fixed few, `ingested_by_lines`)."""
    plans = (
        await session.execute(
            select(Plan, Budget)
            .join(Budget, Budget.plan_id == Plan.id)
            .where(
                Plan.org_id == org_id,
                Plan.status.in_(PACED_STATUSES),
                Plan.start_date <= today,
                Plan.end_date >= today,
                Budget.total > 0,
            )
        )
    ).all()
    if not plans:
        return []
    lines = (
        await session.scalars(
            select(BudgetLine).where(
                BudgetLine.org_id == org_id, BudgetLine.budget_id.in_([budget.id for _, budget in plans])
            )
        )
    ).all()
    plan_of = {budget.id: plan for plan, budget in plans}
    ingested = await ingested_by_lines(session, [(plan_of[line.budget_id], line) for line in lines])
    lines_of: dict[uuid.UUID, list[BudgetLine]] = defaultdict(list)
    for line in lines:
        lines_of[line.budget_id].append(line)
    rows = []
    for plan, budget in plans:
        actual = total_actual(lines_of[budget.id], ingested)
        paced = pace(total=budget.total, actual=actual, start=plan.start_date, end=plan.end_date, today=today)
        rows.append((plan, budget, paced, actual))
    # Most ahead of time first; a plan whose spend cannot be converted last (nothing is known of its pace).
    rows.sort(key=lambda r: (r[2].pacing is None, -(r[2].pacing or 0), r[0].name))
    return [
        {
            "plan": {"id": str(plan.id), "name": plan.name, "period": plan.period_label},
            "currency": budget.currency,
            "planned": amount_text(budget.total, budget.currency),  # the budget's total: what spent_share divides by
            "actual": None if actual is None else amount_text(actual, budget.currency),
            "elapsed_share": _text(paced.elapsed_share),
            "spent_share": _text(paced.spent_share),
            "pacing": _text(paced.pacing),
            "status": paced.status.value,
            "url": _plan_url(settings, plan),
        }
        for plan, budget, paced, actual in rows[:PLANS_SHOWN]
    ]


def _plan_url(settings: Settings, plan: Plan) -> str:
    """The dashboard's overview of the plan's period (where its budget bars are); the plain overview for a plan
    with custom dates."""
    base = f"{settings.public_base_url}/dashboard"
    return f"{base}?period={plan.period_label}" if plan.period_label else base


async def digest_data(
    session: AsyncSession,
    *,
    org: Org,
    frequency: Frequency,
    since: datetime,
    until: datetime,
    settings: Settings,
) -> dict[str, Any]:
    """What a digest of [since, until) says about an organisation: its targets' statuses now, the status changes
    in the window, the targets furthest behind, and its plans' budget pacing, with links to the dashboard. Reads
    only; the caller owns the transaction."""
    remember_zone(session, org.id, org.time_zone)  # the standings need the zone; it came with the org
    today = local_today(org.time_zone, until)
    kpis, pairs = await _current_targets(session, org.id, today)
    standing = await standings(session, pairs, as_of=today, now=until)
    changes, changes_total = await _status_changes(session, org.id, since, until, settings)
    return {
        "org": {"name": org.name, "time_zone": org.time_zone, "reporting_currency": org.reporting_currency},
        "frequency": frequency,
        "from": local_day(since, org.time_zone).isoformat(),
        "to": local_day(until - timedelta(microseconds=1), org.time_zone).isoformat(),
        "counts": _counts(kpis, standing),
        "status_changes": changes,
        "status_changes_total": changes_total,
        "worst_attainment": _worst(pairs, standing, settings),
        "budget_pacing": await _budget_pacing(session, org.id, today, settings),
        "dashboard_url": f"{settings.public_base_url}/dashboard",
    }
