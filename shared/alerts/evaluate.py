"""The evaluation job: evaluate KPI targets in bulk, run each target's state machine, open/escalate/resolve
alerts and emit webhook events. Triggered by ingestion (only the KPIs a batch changed), by a cron (pacing
and no-data change with time alone), and from a clean state by target edits and by a KPI's new formula or
dimension filter."""

import logging
import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from shared.alerts.models import Alert, AlertStatus, EvaluationTrigger, KpiEvaluation, KpiTargetState, Severity
from shared.alerts.state_machine import TargetState, decide
from shared.ingest.models import MetricPoint
from shared.jobs.context import job_session
from shared.jobs.handles import EVALUATE_KPIS
from shared.jobs.registry import cron_job, job
from shared.kpis.compute import Window, thresholds_of, window_aggregates, with_zeros
from shared.kpis.evaluation import Status, elapsed_fraction
from shared.kpis.formula import parse_formula
from shared.kpis.models import Kpi, KpiTarget, NoDataPolicy
from shared.webhooks.events import emit
from shared.webhooks.models import EventType

log = logging.getLogger(__name__)
EVENT_FOR = {
    Status.at_risk: EventType.kpi_at_risk,
    Status.off_track: EventType.kpi_off_track,
    Status.no_data: EventType.kpi_no_data,
}
SEVERITY_FOR = {Status.at_risk: Severity.warning, Status.off_track: Severity.critical, Status.no_data: Severity.no_data}
# An acknowledged alert whose severity rises is open again: what was acknowledged is no longer the state.
_RANK = {Severity.no_data: 0, Severity.warning: 1, Severity.critical: 2}
# The evaluation columns are Numeric(24, 8): 16 digits before the point, 8 after (rounded by the database).
_STORABLE_LIMIT, _EIGHT_PLACES = Decimal("1e16"), Decimal("1e-8")
_STORED_NUMBERS = ("value", "expected_to_date", "forecast", "attainment_pct")


@job(EVALUATE_KPIS)
async def evaluate_kpis(ctx, *, org_id: str, kpi_ids: list[str], since: str | None = None, trigger: str = "ingest"):
    """Re-evaluate the targets of these KPIs that have started and reach `since` (the first changed day)."""
    today = datetime.now(UTC).date()
    first = date.fromisoformat(since) if since else today
    async with job_session(ctx) as session:
        pairs = (
            await session.execute(
                select(Kpi, KpiTarget)
                .join(KpiTarget, KpiTarget.kpi_id == Kpi.id)
                .where(
                    Kpi.org_id == uuid.UUID(org_id),
                    Kpi.id.in_([uuid.UUID(k) for k in kpi_ids]),
                    KpiTarget.start_date <= today,
                    KpiTarget.end_date >= first,
                )
            )
        ).all()
        return await run_evaluations(session, ctx["settings"], [(k, t) for k, t in pairs], EvaluationTrigger(trigger))


@cron_job(name="kpis.evaluate_active", every_s=300)
async def evaluate_active(ctx) -> int:
    """Every target whose period includes today, one organisation per transaction: an organisation whose
    evaluation fails is logged and skipped until the next tick, and never holds up the others (nor keeps every
    organisation's target states locked for the whole run)."""
    today = datetime.now(UTC).date()
    active = (KpiTarget.start_date <= today, KpiTarget.end_date >= today)
    async with job_session(ctx) as session:
        org_ids = (
            await session.scalars(
                select(Kpi.org_id).join(KpiTarget, KpiTarget.kpi_id == Kpi.id).where(*active).distinct()
            )
        ).all()
    evaluated, failed = 0, []
    for org_id in sorted(org_ids):
        try:
            async with job_session(ctx) as session:
                pairs = (
                    await session.execute(
                        select(Kpi, KpiTarget)
                        .join(KpiTarget, KpiTarget.kpi_id == Kpi.id)
                        .where(Kpi.org_id == org_id, *active)
                    )
                ).all()
                result = await run_evaluations(
                    session, ctx["settings"], [(k, t) for k, t in pairs], EvaluationTrigger.schedule
                )
            evaluated += result["evaluated"]
        except Exception:
            log.exception("scheduled evaluation of organisation %s failed; the next tick tries again", org_id)
            failed.append(org_id)
    if failed:
        log.warning("scheduled evaluation: %d organisation(s) failed, %d target(s) evaluated", len(failed), evaluated)
    return evaluated


async def _locked_states(session, pairs) -> dict[uuid.UUID, KpiTargetState]:
    """The targets' states, created if missing, locked for this transaction: two workers evaluating the same
    target take turns, and the second sees the first's transition (no double firing)."""
    rows = [{"target_id": t.id, "org_id": t.org_id, "candidate_count": 0} for _, t in pairs]
    postgres = session.bind.dialect.name == "postgresql"
    insert = pg_insert if postgres else sqlite_insert
    await session.execute(insert(KpiTargetState).values(rows).on_conflict_do_nothing(index_elements=["target_id"]))
    states = await session.scalars(
        select(KpiTargetState)
        .where(KpiTargetState.target_id.in_([t.id for _, t in pairs]))
        .order_by(KpiTargetState.target_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return {s.target_id: s for s in states}


async def _provisional_kpis(session, settings, kpis: list[Kpi], today: date) -> dict[uuid.UUID, date]:
    """For each KPI, the first day its sources may still restate (a window reaching it is provisional)."""
    metrics_of = {kpi.id: parse_formula(kpi.formula).metrics for kpi in kpis}
    wanted = set().union(*metrics_of.values()) if metrics_of else set()
    longest = max(settings.restatement_days.values(), default=0)
    rows = (
        (
            await session.execute(
                select(MetricPoint.org_id, MetricPoint.metric_key, MetricPoint.source)
                .where(MetricPoint.metric_key.in_(wanted), MetricPoint.day >= today - timedelta(days=longest))
                .distinct()
            )
        ).all()
        if wanted
        else []
    )
    default = settings.restatement_days.get("default", 0)
    days_for: dict[tuple, int] = {}
    for org_id, metric, source in rows:
        days = settings.restatement_days.get(source, default)
        days_for[(org_id, metric)] = max(days_for.get((org_id, metric), 0), days)
    out = {}
    for kpi in kpis:
        days = max((days_for.get((kpi.org_id, m), 0) for m in metrics_of[kpi.id]), default=0)
        out[kpi.id] = today - timedelta(days=days) if days else today + timedelta(days=1)
    return out


async def run_evaluations(session, settings, pairs: list[tuple[Kpi, KpiTarget]], trigger: EvaluationTrigger) -> dict:
    """Evaluate the targets in bulk (a fixed number of queries) and act on every transition."""
    if not pairs:
        return {"evaluated": 0, "transitions": 0}
    now = datetime.now(UTC)
    today = now.date()
    states = await _locked_states(session, pairs)
    kpis = list({k.id: k for k, _ in pairs}.values())
    windows = {t.id: Window(k.id, t.start_date, max(t.start_date, min(today, t.end_date))) for k, t in pairs}
    aggregates = await window_aggregates(session, kpis, windows.values())
    formulas = {kpi.id: parse_formula(kpi.formula) for kpi in kpis}
    provisional_from = await _provisional_kpis(session, settings, kpis, today)
    alerts = {
        a.target_id: a
        for a in await session.scalars(
            select(Alert).where(Alert.target_id.in_([t.id for _, t in pairs]), Alert.status != AlertStatus.resolved)
        )
    }
    transitions = 0
    for kpi, target in pairs:
        state = states[target.id]
        window = windows[target.id]
        value, zero_filled = formulas[kpi.id].evaluate(aggregates[window]), False
        if target.no_data_policy == NoDataPolicy.zero:
            # Metrics without data count as 0, before the formula; say so when that is what gave a value.
            filled = formulas[kpi.id].evaluate(with_zeros(aggregates[window]))
            value, zero_filled = filled, value is None and filled is not None
        decision = decide(
            TargetState(state.status, state.candidate, state.candidate_count, state.since),
            value=value,
            direction=kpi.direction,
            thresholds=thresholds_of(kpi, target),
            pacing=target.pacing,
            elapsed=elapsed_fraction(target.start_date, target.end_date, window.end),
            pending_evaluations=target.pending_evaluations,
            recovery_margin_pct=target.recovery_margin_pct,
            no_data_policy=target.no_data_policy,
            zero_filled=zero_filled,
            name=kpi.name,
            now=now,
        )
        new = decision.state
        state.status, state.candidate, state.candidate_count, state.since = (
            new.status,
            new.candidate,
            new.candidate_count,
            new.since,
        )
        state.last_evaluated_at = now
        ev = decision.evaluation
        change = decision.transition
        provisional = window.end >= provisional_from[kpi.id]
        numbers, reason = _storable(ev)
        session.add(
            KpiEvaluation(
                org_id=kpi.org_id,
                kpi_id=kpi.id,
                target_id=target.id,
                evaluated_at=now,
                as_of=window.end,
                window_start=window.start,
                window_end=window.end,
                **numbers,
                observed_status=decision.observed,
                status=new.status,
                provisional=provisional,
                reason=reason,
                trigger=trigger,
                transition_from=change.from_status if change else None,
                transition_to=change.to_status if change else None,
                transition_reason=change.reason if change else None,
            )
        )
        alert = alerts.get(target.id)
        if change is not None:
            transitions += 1
            alerts[target.id] = await _act_on_transition(
                session, settings, kpi, target, decision, alert, provisional, now
            )
        elif alert is not None and alert.status == AlertStatus.open and _renotify_due(alert, settings, now):
            await _notify(session, settings, kpi, target, decision, alert, provisional, EVENT_FOR.get(new.status))
            alert.last_notified_at = now
    await session.flush()
    return {"evaluated": len(pairs), "transitions": transitions}


def _as_stored(number: Decimal | None) -> Decimal | None:
    """The number if a Numeric(24, 8) column can hold it (after the database rounds it to 8 places), else None."""
    if number is None or not number.is_finite() or abs(number) >= _STORABLE_LIMIT:
        return None
    rounded = number.quantize(_EIGHT_PLACES, rounding=ROUND_HALF_UP)  # at most 24 digits: exact
    return number if abs(rounded) < _STORABLE_LIMIT else None


def _storable(ev) -> tuple[dict[str, Decimal | None], str]:
    """The evaluation's numbers as stored, and its reason. A number out of the columns' range (a value of 1e18,
    an attainment against a tiny target) is stored as None and the reason says so: one such KPI must not fail
    the whole evaluation run. The status was decided on the real numbers, before this."""
    numbers = {name: getattr(ev, name) for name in _STORED_NUMBERS}
    dropped = [name for name, number in numbers.items() if number is not None and _as_stored(number) is None]
    if not dropped:
        return numbers, ev.reason
    numbers.update(dict.fromkeys(dropped, None))
    return numbers, f"{ev.reason}; {', '.join(dropped)} out of the storable range (±1e16), not stored"


def _renotify_due(alert: Alert, settings, now: datetime) -> bool:
    last = alert.last_notified_at or alert.opened_at
    return now - last >= timedelta(hours=settings.alert_renotify_hours)


async def _act_on_transition(session, settings, kpi, target, decision, alert, provisional, now):
    """Open, escalate or resolve the target's one alert, and tell the subscribers."""
    to = decision.transition.to_status
    if to == Status.no_data and decision.transition.from_status is None:
        return alert  # a new target whose data has not come yet: recorded as no_data, nobody alerted
    if to == Status.on_track:
        if alert is None:
            return None  # a first evaluation on track, or a recovery before any alert: nothing to say
        alert.status, alert.resolved_at = AlertStatus.resolved, now
        alert.reason, alert.last_value = decision.transition.reason, _as_stored(decision.evaluation.value)
        await _notify(session, settings, kpi, target, decision, alert, provisional, EventType.kpi_recovered)
        return None
    if alert is None:
        alert = Alert(
            org_id=kpi.org_id,
            kpi_id=kpi.id,
            target_id=target.id,
            status=AlertStatus.open,
            severity=SEVERITY_FOR[to],
            reason=decision.transition.reason,
            last_value=_as_stored(decision.evaluation.value),
            opened_at=now,
            period_label=target.period_label or f"{target.start_date}..{target.end_date}",
        )
        session.add(alert)
        await session.flush()
    else:
        # Escalation (or de-escalation) updates the one alert; it does not open a second.
        if alert.status == AlertStatus.acknowledged and _RANK[SEVERITY_FOR[to]] > _RANK[alert.severity]:
            # What was acknowledged is no longer the state: open again, so the alert is worked on (and
            # re-notified) anew. The acknowledgement was of the milder state, so it is cleared with it.
            alert.status, alert.acknowledged_at, alert.acknowledged_by_key_id = AlertStatus.open, None, None
        alert.severity, alert.escalated_at = SEVERITY_FOR[to], now
        alert.reason, alert.last_value = decision.transition.reason, _as_stored(decision.evaluation.value)
    alert.last_notified_at = now
    await _notify(session, settings, kpi, target, decision, alert, provisional, EVENT_FOR[to])
    return alert


def _text(value) -> str | None:
    return None if value is None else format(value, "f")


async def _notify(session, settings, kpi, target, decision, alert, provisional, event_type) -> None:
    if event_type is None:
        return
    ev, change = decision.evaluation, decision.transition
    await emit(
        session,
        org_id=kpi.org_id,
        type_=event_type,
        kpi_id=kpi.id,
        category=kpi.category.value,
        data={
            "kpi": {
                "id": str(kpi.id),
                "name": kpi.name,
                "category": kpi.category.value,
                "unit": kpi.unit.value,
                "direction": kpi.direction.value,
            },
            "target": {
                "id": str(target.id),
                "period": target.period_label,
                "start_date": target.start_date.isoformat(),
                "end_date": target.end_date.isoformat(),
                "target_value": _text(target.target_value),
            },
            "evaluation": {
                "value": _text(ev.value),
                "expected_to_date": _text(ev.expected_to_date),
                "forecast": _text(ev.forecast),
                "attainment_pct": _text(ev.attainment_pct),
                "status": decision.state.status.value if decision.state.status else None,
                "previous_status": change.from_status.value if change and change.from_status else None,
                "provisional": provisional,
                "reason": change.reason if change else ev.reason,
            },
            "alert": {"id": str(alert.id), "status": alert.status.value, "severity": alert.severity.value},
            "dashboard_url": f"{settings.public_base_url}/dashboard/kpis/{kpi.id}",
        },
    )


async def reset_target_state(session, *target_ids: uuid.UUID) -> None:
    """Forget these targets' state machines: after a target's thresholds, or its KPI's formula or dimension
    filter, change, it is re-evaluated from a clean state."""
    if target_ids:
        await session.execute(delete(KpiTargetState).where(KpiTargetState.target_id.in_(target_ids)))
