"""KPI targets per period: thresholds checked against the KPI's direction, periods that never overlap, and
revisions with a reason. (Suggested targets and objective progress read the KPI's data: kpis/values/.)"""

import uuid
from datetime import date
from decimal import Decimal

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.api.crud import get_or_404
from services.api.kpis.targets.schemas import TargetCreate, TargetUpdate
from services.api.pagination import PageParams, fetch_page
from services.api.problems import Conflict, NotFound, Unprocessable
from shared.alerts.evaluate import reset_target_state
from shared.jobs.handles import EVALUATE_KPIS
from shared.kpis.compute import Window, kpi_values
from shared.kpis.evaluation import Direction, Pacing, ThresholdMode, validate_target
from shared.kpis.formula import parse_formula
from shared.kpis.judging import thresholds_of
from shared.kpis.models import Kpi, KpiTarget, KpiTargetRevision, PeriodKind
from shared.metrics.models import MetricDefinition
from shared.numbers import plain_number
from shared.orgs.clock import org_today
from shared.periods import parse_period

# Changing any of these needs a reason and writes a revision.
REVISED_FIELDS = (
    "target_value",
    "target_high",
    "threshold_mode",
    "warning",
    "critical",
    "warning_high",
    "critical_high",
)
LEVEL_FIELDS = ("target_high", "warning", "critical", "warning_high", "critical_high")


def _check_levels(kpi: Kpi, target: KpiTarget) -> None:
    problems = validate_target(kpi.direction, target.pacing, thresholds_of(kpi, target))
    if problems:
        read = (
            " (threshold_mode percent, the default: warning and critical were read as % of the target, so "
            f"{plain_number(target.warning) if target.warning is not None else '-'} means that share of "
            f"{plain_number(target.target_value)}; send threshold_mode: absolute to give the levels as values)"
            if target.threshold_mode == ThresholdMode.percent
            else " (threshold_mode absolute: the levels are values of the KPI)"
        )
        raise Unprocessable(
            f"The target's levels do not fit a {kpi.direction.value} KPI: {problems[0]}{read}",
            errors=[{"location": "body", "message": p + read, "type": "threshold_order"} for p in problems],
        )


async def default_pacing(session: AsyncSession, kpi: Kpi) -> Pacing:
    """Linear for a KPI that is one summed metric (cumulative: spend, leads); none for ratios and scores, and
    for every target range (a band is not cumulative: `validate_target` refuses it paced linearly)."""
    if kpi.direction == Direction.target_range:
        return Pacing.none
    tree = parse_formula(kpi.formula).tree
    key = getattr(tree, "key", None)
    if key is None:
        return Pacing.none
    aggregation = await session.scalar(select(MetricDefinition.aggregation).where(MetricDefinition.key == key))
    return Pacing.linear if aggregation == "sum" else Pacing.none


async def _lock_kpi_and_refuse_overlap(
    session: AsyncSession, kpi: Kpi, start: date, end: date, exclude: uuid.UUID | None
) -> None:
    """Serialise target changes of one KPI (row lock via UPDATE), then refuse a period that overlaps another."""
    await session.execute(
        update(Kpi).where(Kpi.id == kpi.id).values(version=Kpi.version + 1),
        execution_options={"synchronize_session": False},
    )
    await session.refresh(kpi)  # the KPI as of the lock (its direction may just have changed)
    stmt = select(KpiTarget).where(KpiTarget.kpi_id == kpi.id, KpiTarget.start_date <= end, KpiTarget.end_date >= start)
    if exclude is not None:
        stmt = stmt.where(KpiTarget.id != exclude)
    clash = await session.scalar(stmt.limit(1))
    if clash is not None:
        raise Conflict(
            f"KPI {kpi.name!r} already has a target for "
            f"{f'{clash.period_label} ' if clash.period_label else ''}{clash.start_date}..{clash.end_date}, which "
            f"overlaps {start}..{end}.",
            overlapping_target_id=str(clash.id),
        )


async def create_target(session: AsyncSession, *, kpi_id: uuid.UUID, body: TargetCreate) -> tuple[Kpi, KpiTarget]:
    """A target for a period of the KPI, with levels valid for its direction and no overlap."""
    kpi = await get_or_404(session, Kpi, kpi_id)
    fields = body.model_dump(exclude={"period"})
    target = KpiTarget(
        kpi_id=kpi.id,
        period_kind=PeriodKind(parse_period(body.period).kind) if body.period else PeriodKind.custom,
        period_label=body.period,
        **{**fields, "pacing": body.pacing or await default_pacing(session, kpi)},
    )
    await _lock_kpi_and_refuse_overlap(session, kpi, target.start_date, target.end_date, exclude=None)
    _check_levels(kpi, target)
    session.add(target)
    await session.flush()
    await _evaluate_if_measured(session, kpi, target)
    return kpi, target


def _queue_evaluation(session: AsyncSession, kpi: Kpi, target: KpiTarget) -> None:
    """The KPI evaluated again from the target's start, after the commit."""
    EVALUATE_KPIS.defer(
        session,
        org_id=str(kpi.org_id),
        kpi_ids=[str(kpi.id)],
        since=target.start_date.isoformat(),
        trigger="target_change",
    )


async def _evaluate_if_measured(session: AsyncSession, kpi: Kpi, target: KpiTarget) -> None:
    """Ask for the new target's first evaluation after the commit when its period has started and already
    has a value: data ingested before the target (or a period that has ended, which no cron re-evaluates) is
    judged at once. Without data there is nothing to judge yet: the first ingested data evaluates it (and
    the cron records no_data for a current period), so a target waiting for data alerts nobody."""
    today = await org_today(session, kpi.org_id)
    if target.start_date > today:
        return
    if await kpi_value_between(session, kpi, target.start_date, min(today, target.end_date)) is None:
        return
    _queue_evaluation(session, kpi, target)


async def get_target(session: AsyncSession, *, kpi_id: uuid.UUID, target_id: uuid.UUID) -> tuple[Kpi, KpiTarget]:
    kpi = await get_or_404(session, Kpi, kpi_id)
    target = await get_or_404(session, KpiTarget, target_id)
    if target.kpi_id != kpi.id:
        raise NotFound(f"No target {target_id} for KPI {kpi_id}.")
    return kpi, target


async def list_targets(
    session: AsyncSession, *, kpi_id: uuid.UUID, page: PageParams, active_on: date | None, period_kind
):
    """The KPI's targets, oldest first."""
    kpi = await get_or_404(session, Kpi, kpi_id)
    stmt = select(KpiTarget).where(KpiTarget.kpi_id == kpi.id)
    if active_on is not None:
        stmt = stmt.where(KpiTarget.start_date <= active_on, KpiTarget.end_date >= active_on)
    if period_kind is not None:
        stmt = stmt.where(KpiTarget.period_kind == period_kind)
    targets, cursor = await fetch_page(session, stmt, KpiTarget.id, page)
    return kpi, targets, cursor


def _plain(value) -> object:
    return plain_number(value) if isinstance(value, Decimal) else getattr(value, "value", value)


async def update_target(
    session: AsyncSession, *, kpi_id: uuid.UUID, target_id: uuid.UUID, body: TargetUpdate, by_key_id: uuid.UUID
) -> tuple[Kpi, KpiTarget]:
    """Change a target. A new value or thresholds need a reason and are recorded as a revision."""
    kpi, target = await get_target(session, kpi_id=kpi_id, target_id=target_id)
    changes = body.changes()
    changes.pop("reason", None)
    revised = {f: v for f, v in changes.items() if f in REVISED_FIELDS and v != getattr(target, f)}
    if revised and not body.reason:
        raise Unprocessable(
            "Changing a target's value or thresholds needs a `reason`; it is kept in the target's revisions.",
            errors=[{"location": "body.reason", "message": "required when the value or thresholds change"}],
        )
    old = {f: _plain(getattr(target, f)) for f in revised}
    for field, value in changes.items():
        setattr(target, field, value)
    _check_levels(kpi, target)
    if revised:
        # New levels: the state machine starts again from a clean state, and the target is re-evaluated.
        await reset_target_state(session, target.id)
        _queue_evaluation(session, kpi, target)
        session.add(
            KpiTargetRevision(
                target_id=target.id,
                reason=body.reason,
                old=old,
                new={f: _plain(v) for f, v in revised.items()},
                by_key_id=by_key_id,
            )
        )
    await session.flush()
    return kpi, target


async def delete_target(session: AsyncSession, *, kpi_id: uuid.UUID, target_id: uuid.UUID) -> None:
    """Delete a target and its revisions."""
    _, target = await get_target(session, kpi_id=kpi_id, target_id=target_id)
    await session.delete(target)
    await session.flush()


async def list_revisions(session: AsyncSession, *, kpi_id: uuid.UUID, target_id: uuid.UUID, page: PageParams):
    """A target's revisions, oldest first."""
    await get_target(session, kpi_id=kpi_id, target_id=target_id)
    stmt = select(KpiTargetRevision).where(KpiTargetRevision.target_id == target_id)
    return await fetch_page(session, stmt, KpiTargetRevision.id, page)


async def kpi_value_between(session: AsyncSession, kpi: Kpi, start: date, end: date) -> Decimal | None:
    window = Window(kpi.id, start, end)
    return (await kpi_values(session, [kpi], [window]))[window]


def resolved_levels(kpi: Kpi, target: KpiTarget) -> dict:
    levels = thresholds_of(kpi, target)
    return {
        "target": levels.target,
        "target_high": levels.target_high,
        "warning": levels.warning,
        "critical": levels.critical,
        "warning_high": levels.warning_high,
        "critical_high": levels.critical_high,
    }
