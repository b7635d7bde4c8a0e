"""The evaluation job: evaluate KPI targets in bulk, run each target's state machine, open/escalate/resolve
alerts and emit webhook events. Triggered by ingestion (only the KPIs a batch changed: inside the batch's merge
transaction when they are few, `evaluate_now_or_later`), by a cron (pacing and no-data change with time alone),
and from a clean state by target edits and by a KPI's new formula or dimension filter."""

import logging
import uuid
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import Select, and_, delete, func, insert, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from shared.alerts.models import Alert, AlertStatus, EvaluationTrigger, KpiEvaluation, KpiTargetState, Severity
from shared.db.base import uuid7
from shared.db.engine import driver_connection, is_postgres
from shared.db.faults import is_transient
from shared.department.models import Member, Team
from shared.jobs.context import JobContext, job_session
from shared.jobs.handles import EVALUATE_KPIS
from shared.jobs.queue import deferred_count, discard_deferred
from shared.jobs.registry import cron_job, job
from shared.kpis.compute import formulas_of, judge_targets
from shared.kpis.evaluation import Status
from shared.kpis.formula import Formula
from shared.kpis.judging import Judgement
from shared.kpis.models import Kpi, KpiMetric, KpiTarget
from shared.kpis.state_machine import Decision, TargetState
from shared.metrics.models import MetricSource
from shared.metrics.queries import recent_sources
from shared.numbers import plain_number
from shared.orgs.clock import LocalDays, earliest_today, latest_today, local_today, zones_in_use, zones_of
from shared.orgs.models import Org
from shared.settings import Settings
from shared.webhooks.events import Subscribers, emit
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
# A batch that changed at most this many KPIs has them evaluated inside its merge transaction, saving the evaluation
# job's hop (a worker's poll delay, ~0.1 s) before an alert's webhook. The evaluation is a fixed number of queries
# whatever the count (run_evaluations), so 20 KPIs add a few milliseconds to the merge, and their target states'
# row locks are held only until the merge commits. Past it (a backfill touching the whole catalogue), the merge
# stays as short as it was and the job evaluates after the commit.
INLINE_EVALUATION_KPIS = 20


@job(EVALUATE_KPIS)
async def evaluate_kpis(
    ctx: JobContext, *, org_id: str, kpi_ids: list[str], since: str | None = None, trigger: str = "ingest"
):
    """Re-evaluate the targets of these KPIs that have started and reach `since` (the first changed day)."""
    async with job_session(ctx, run_inline=True) as session:
        return await evaluate_changed(
            session, ctx["settings"], org_id=org_id, kpi_ids=kpi_ids, since=since, trigger=trigger
        )


async def evaluate_changed(
    session: AsyncSession,
    settings: Settings,
    *,
    org_id: str,
    kpi_ids: list[str],
    since: str | None,
    trigger: str,
    now: datetime | None = None,
) -> dict[str, int]:
    """Evaluate these KPIs' targets that have started and reach `since` (an ISO day; the organisation's today
    without it), in the caller's transaction."""
    now = now or datetime.now(UTC)
    # The organisation's zone comes with the targets (one statement), bounded by the dates any zone may be on;
    # its own today then picks them.
    rows = (
        await session.execute(
            select(Kpi, KpiTarget, Org.time_zone)
            .join(KpiTarget, KpiTarget.kpi_id == Kpi.id)
            .join(Org, Org.id == Kpi.org_id)
            .where(
                Kpi.org_id == uuid.UUID(org_id),
                Kpi.id.in_([uuid.UUID(k) for k in kpi_ids]),
                KpiTarget.start_date <= latest_today(now),
                KpiTarget.end_date >= (date.fromisoformat(since) if since else earliest_today(now)),
            )
        )
    ).all()
    if not rows:
        return await run_evaluations(session, settings, [], EvaluationTrigger(trigger), now=now)
    zones = {uuid.UUID(org_id): rows[0].time_zone}
    today = local_today(rows[0].time_zone, now)
    first = date.fromisoformat(since) if since else today
    pairs = [(k, t) for k, t, _ in rows if t.start_date <= today and t.end_date >= first]
    return await run_evaluations(session, settings, pairs, EvaluationTrigger(trigger), now=now, zones=zones)


async def evaluate_now_or_later(
    session: AsyncSession, settings: Settings, *, org_id: str, changed_kpis: dict[str, list[str]], job_id: str
) -> bool:
    """Evaluate the KPIs a batch changed ({kpi_id: [first_day, last_day]}) inside the batch's merge transaction,
    when they are few; else, or when that evaluation fails, defer the evaluation job (`job_id`) to run after the
    commit. True if evaluated here.

    In a savepoint: an evaluation that fails for a reason that is not transient (a defect) is rolled back alone, and
    the merge still commits; its job then tries again on its own (and fails on its own, as before). A transient fault
    propagates: the whole batch is retried, its evaluation with it."""
    kpi_ids = sorted(changed_kpis)
    since = min(days[0] for days in changed_kpis.values())
    if len(kpi_ids) <= INLINE_EVALUATION_KPIS:
        kept = deferred_count(session)
        try:
            async with session.begin_nested():
                await evaluate_changed(session, settings, org_id=org_id, kpi_ids=kpi_ids, since=since, trigger="ingest")
            return True
        except Exception as exc:
            if is_transient(exc):
                raise
            log.exception("evaluation of %d KPI(s) in the merge failed; deferred to its own job", len(kpi_ids))
            discard_deferred(session, keep=kept)  # what the rolled-back evaluation asked for (its deliveries)
    EVALUATE_KPIS.defer(session, job_id=job_id, org_id=org_id, kpi_ids=kpi_ids, since=since)
    return False


# The scheduled evaluation judges the active targets of whole organisations at a time, up to about this many
# targets per transaction: a fixed number of statements per chunk (pairs, states, the metric reads, alerts, the
# evaluations written) however many organisations it holds, and target states locked only for one chunk.
SCHEDULE_CHUNK_TARGETS = 2000


def schedule_chunks(counts: Mapping[uuid.UUID, int], limit: int = SCHEDULE_CHUNK_TARGETS) -> list[list[uuid.UUID]]:
    """The organisations (sorted) in consecutive chunks of at most `limit` active targets; an organisation is never
    split (its targets are judged together), so one with more than `limit` is a chunk of its own."""
    chunks: list[list[uuid.UUID]] = []
    size = 0
    for org_id in sorted(counts):
        if not chunks or size + counts[org_id] > limit:
            chunks.append([])
            size = 0
        chunks[-1].append(org_id)
        size += counts[org_id]
    return chunks


@cron_job(name="kpis.evaluate_active", every_s=300)
async def evaluate_active(ctx: JobContext, *, now: datetime | None = None) -> int:
    """Every target whose period includes its organisation's today and whose judgement may have changed since it was
    last judged, and every period that ended yesterday there, for its close (`_due_targets`), a chunk of
    organisations per transaction (`schedule_chunks`). `now`: the instant the run judges at (tests travel in time).
    When a chunk fails for a reason that is not transient, its organisations are tried again one per transaction:
    an organisation whose evaluation fails is logged and skipped until the next tick, and never holds up the others.
    A transient fault (the database away) ends the run; the next tick tries again."""
    now = now or datetime.now(UTC)
    async with job_session(ctx) as session:
        # Each organisation's today and the instant it began, by zone: a new local day starts at a different UTC
        # time in each, and the 5-minute tick after it judges that organisation's targets again.
        days = LocalDays.at(now, await zones_in_use(session))
        counts = {
            org_id: n
            for org_id, n in await session.execute(
                _due_targets(ctx["settings"], days, KpiTarget.org_id, func.count()).group_by(KpiTarget.org_id)
            )
        }
    failed: list[uuid.UUID] = []
    evaluated = 0
    for chunk in schedule_chunks(counts):
        evaluated += await _evaluate_isolated(ctx, chunk, days, failed)
    if failed:
        log.warning("scheduled evaluation: %d organisation(s) failed, %d target(s) evaluated", len(failed), evaluated)
    return evaluated


async def _evaluate_isolated(ctx: JobContext, org_ids: list[uuid.UUID], days: LocalDays, failed: list) -> int:
    """`_evaluate_organisations`, and if it fails for a reason that is not transient, each organisation again on its
    own; one that fails alone is logged and added to `failed`. The targets evaluated."""
    try:
        return await _evaluate_organisations(ctx, org_ids, days)
    except Exception as exc:
        if is_transient(exc):
            raise
        if len(org_ids) == 1:
            log.exception("scheduled evaluation of organisation %s failed; the next tick tries again", org_ids[0])
            failed.append(org_ids[0])
            return 0
        log.exception("scheduled evaluation of %d organisations failed; trying them one by one", len(org_ids))
    return sum([await _evaluate_isolated(ctx, [org_id], days, failed) for org_id in org_ids])


def _due_targets(settings: Settings, days: LocalDays, *columns: Any) -> Select:
    """SELECT `columns` FROM the targets whose period includes today and whose judgement may differ from the last
    one, and those closing (below), joined with their KPI, state and organisation. "Today" is each organisation's
    own, in its time zone (`days`, at one instant): the day, and the instant it began, are read per zone in SQL.

    A judgement is a function of the KPI's data in the window, the day it is judged as of, the target and the state
    machine's memory (`shared.kpis.judging.judge`; the time only stamps a transition). So a target needs judging
    again only when one of those may have moved: never judged (no state: new, or reset by an edit of its thresholds,
    formula or filter), last judged before today (pacing and a no-data window change with the day), a different
    status still being confirmed (each evaluation counts), its KPI's data merged since (metric_sources.updated_at;
    the merge's own evaluation usually came first, this catches one that failed), or an open alert due for its
    reminder. The others are left as they are: judging them again would write the same numbers and state.

    The close: a period that ended yesterday and was last judged before today began (or never) is judged once more,
    as of its last day, so the data of that day (pushed until its midnight, and after) makes its final status."""
    now = days.now
    today = days.today_in_sql(Org.time_zone)
    yesterday = days.today_in_sql(Org.time_zone, offset_days=-1)
    day_start = days.day_start_in_sql(Org.time_zone)
    data_changed = (
        select(MetricSource.org_id)
        .join(KpiMetric, KpiMetric.metric_key == MetricSource.metric_key)
        .where(
            KpiMetric.kpi_id == KpiTarget.kpi_id,
            MetricSource.org_id == KpiTarget.org_id,
            MetricSource.updated_at > KpiTargetState.last_evaluated_at,
        )
        .exists()
    )
    reminder_due = (
        select(Alert.id)
        .where(
            Alert.target_id == KpiTarget.id,
            Alert.status == AlertStatus.open,
            func.coalesce(Alert.last_notified_at, Alert.opened_at)
            <= now - timedelta(hours=settings.alert_renotify_hours),
        )
        .exists()
    )
    not_judged_today = or_(KpiTargetState.last_evaluated_at.is_(None), KpiTargetState.last_evaluated_at < day_start)
    return (
        select(*columns)
        .select_from(KpiTarget)
        .join(Kpi, Kpi.id == KpiTarget.kpi_id)
        .join(Org, Org.id == KpiTarget.org_id)
        .outerjoin(KpiTargetState, KpiTargetState.target_id == KpiTarget.id)
        .where(
            # Plain bounds first (any zone's today is within a day of UTC's), so the dates' index still narrows.
            KpiTarget.start_date <= latest_today(now),
            KpiTarget.end_date >= earliest_today(now) - timedelta(days=1),
            KpiTarget.start_date <= today,
            or_(
                and_(
                    KpiTarget.end_date >= today,
                    or_(not_judged_today, KpiTargetState.candidate.is_not(None), data_changed, reminder_due),
                ),
                and_(KpiTarget.end_date == yesterday, not_judged_today),
            ),
        )
    )


async def _evaluate_organisations(ctx: JobContext, org_ids: list[uuid.UUID], days: LocalDays) -> int:
    """The due targets of these organisations, judged and acted on in one transaction, each as of its
    organisation's today."""
    async with job_session(ctx) as session:
        rows = (
            await session.execute(
                _due_targets(ctx["settings"], days, Kpi, KpiTarget, Org.time_zone).where(KpiTarget.org_id.in_(org_ids))
            )
        ).all()
        result = await run_evaluations(
            session,
            ctx["settings"],
            [(k, t) for k, t, _ in rows],
            EvaluationTrigger.schedule,
            now=days.now,
            zones={k.org_id: tz for k, _, tz in rows},
        )
    return result["evaluated"]


async def _locked_states(session: AsyncSession, pairs) -> dict[uuid.UUID, TargetState]:
    """The targets' states, created if missing, locked for this transaction: two workers evaluating the same
    target take turns, and the second sees the first's transition (no double firing). Read as rows, not ORM
    objects: the new states are written back in one executemany (`_keep_states`)."""
    rows = [{"target_id": t.id, "org_id": t.org_id, "candidate_count": 0} for _, t in pairs]
    upsert = pg_insert if is_postgres(session) else sqlite_insert
    await session.execute(upsert(KpiTargetState).on_conflict_do_nothing(index_elements=["target_id"]), rows)
    states = await session.execute(
        select(
            KpiTargetState.target_id,
            KpiTargetState.status,
            KpiTargetState.candidate,
            KpiTargetState.candidate_count,
            KpiTargetState.since,
        )
        .where(KpiTargetState.target_id.in_([t.id for _, t in pairs]))
        .order_by(KpiTargetState.target_id)
        .with_for_update()
    )
    return {row.target_id: TargetState(row.status, row.candidate, row.candidate_count, row.since) for row in states}


async def _keep_states(
    session: AsyncSession, before: Mapping[uuid.UUID, TargetState], after: Mapping[uuid.UUID, TargetState], at: datetime
) -> None:
    """Write the state machines' new states: the time of evaluation for every target in one UPDATE, and the states
    that moved (few, on a scheduled run) in one executemany (an ORM bulk update by primary key)."""
    await session.execute(
        update(KpiTargetState).where(KpiTargetState.target_id.in_(list(after))).values(last_evaluated_at=at)
    )
    moved = [
        {
            "target_id": target_id,
            "status": state.status,
            "candidate": state.candidate,
            "candidate_count": state.candidate_count,
            "since": state.since,
        }
        for target_id, state in after.items()
        if state != before.get(target_id)
    ]
    if moved:
        await session.execute(update(KpiTargetState), moved)


_EVALUATION_COLUMNS = ["id", *(column.name for column in KpiEvaluation.__table__.columns if column.name != "id")]


async def _record_evaluations(session: AsyncSession, rows: list[dict]) -> None:
    """Insert the evaluations: on Postgres by COPY (a few microseconds a row, where an INSERT's parameters cost a
    hundred), on SQLite in one executemany."""
    if not rows:
        return
    if not is_postgres(session):
        await session.execute(insert(KpiEvaluation), rows)
        return
    # The id first; statuses and triggers are StrEnums, which asyncpg writes as the strings they are.
    columns = _EVALUATION_COLUMNS[1:]
    records = [(uuid7(), *(row[name] for name in columns)) for row in rows]
    await (await driver_connection(session)).copy_records_to_table(
        KpiEvaluation.__tablename__, records=records, columns=_EVALUATION_COLUMNS
    )


async def _provisional_from(
    session: AsyncSession,
    settings: Settings,
    kpis: list[Kpi],
    formulas: Mapping[uuid.UUID, Formula],
    today_of: Mapping[uuid.UUID, date],
) -> dict[uuid.UUID, date]:
    """For each KPI, the first day its sources may still restate (a window reaching it is provisional), counted back
    from its organisation's today (`today_of`). One query, for these KPIs' organisations and metrics only."""
    longest = max(settings.restatement_days.values(), default=0)
    reported = await recent_sources(
        session,
        {(kpi.org_id, m) for kpi in kpis for m in formulas[kpi.id].metrics},
        min(today_of.values()) - timedelta(days=longest),
    )
    default = settings.restatement_days.get("default", 0)
    out = {}
    for kpi in kpis:
        days = max(
            (
                settings.restatement_days.get(source, default)
                for m in formulas[kpi.id].metrics
                for source in reported.get((kpi.org_id, m), ())
            ),
            default=0,
        )
        today = today_of[kpi.org_id]
        out[kpi.id] = today - timedelta(days=days) if days else today + timedelta(days=1)
    return out


async def run_evaluations(
    session: AsyncSession,
    settings: Settings,
    pairs: list[tuple[Kpi, KpiTarget]],
    trigger: EvaluationTrigger,
    *,
    now: datetime | None = None,
    zones: Mapping[uuid.UUID, str] | None = None,
) -> dict[str, int]:
    """Judge the targets in bulk (a fixed number of queries; `shared.kpis.judging.judge`, the function every read
    of a status calls too) and act on every transition. Each target is judged as of its organisation's today, in
    its time zone (`zones`: org id -> zone, read here when not given) at `now` (default: the present)."""
    if not pairs:
        return {"evaluated": 0, "transitions": 0}
    now = now or datetime.now(UTC)
    org_ids = {k.org_id for k, _ in pairs}
    if zones is None or not org_ids <= zones.keys():
        zones = await zones_of(session, org_ids)
    today_of = {org_id: local_today(zones.get(org_id, "UTC"), now) for org_id in org_ids}
    states = await _locked_states(session, pairs)
    kpis = list({k.id: k for k, _ in pairs}.values())
    formulas = formulas_of(kpis)
    # One judgement per local date in the run: at any instant the zones are on at most three dates, so the reads
    # stay a fixed number however many organisations and zones the run holds.
    by_day: dict[date, list[tuple[Kpi, KpiTarget]]] = defaultdict(list)
    for kpi, target in pairs:
        by_day[today_of[kpi.org_id]].append((kpi, target))
    judgements: dict[uuid.UUID, Judgement] = {}
    for as_of, judged in sorted(by_day.items()):
        judgements |= await judge_targets(session, judged, as_of=as_of, now=now, states=states, formulas=formulas)
    provisional_from = await _provisional_from(session, settings, kpis, formulas, today_of)
    alerts: dict[uuid.UUID, Alert | None] = {
        a.target_id: a
        for a in await session.scalars(
            select(Alert).where(Alert.target_id.in_([t.id for _, t in pairs]), Alert.status != AlertStatus.resolved)
        )
    }
    subscribers = Subscribers(session)
    transitions = 0
    evaluations, kept = [], {}
    for kpi, target in pairs:
        judgement = judgements[target.id]
        decision = judgement.decision
        new = kept[target.id] = decision.state
        ev = decision.evaluation
        change = decision.transition
        provisional = judgement.end >= provisional_from[kpi.id]
        numbers, reason = _storable(ev)
        evaluations.append(
            {
                "org_id": kpi.org_id,
                "kpi_id": kpi.id,
                "target_id": target.id,
                "evaluated_at": now,
                "as_of": judgement.end,
                "window_start": judgement.start,
                "window_end": judgement.end,
                **numbers,
                "observed_status": decision.observed,
                "status": new.status,
                "provisional": provisional,
                "reason": reason,
                "trigger": trigger,
                "transition_from": change.from_status if change else None,
                "transition_to": change.to_status if change else None,
                "transition_reason": change.reason if change else None,
            }
        )
        alert = alerts.get(target.id)
        notice = Notice(kpi, target, decision, provisional, subscribers)
        if change is not None:
            transitions += 1
            alerts[target.id] = await _act_on_transition(session, settings, notice, alert, now)
        elif alert is not None and alert.status == AlertStatus.open and _renotify_due(alert, settings, now):
            await _notify(session, settings, notice, alert, EVENT_FOR.get(new.status) if new.status else None)
            alert.last_notified_at = now
    await _keep_states(session, states, kept, now)
    await _record_evaluations(session, evaluations)
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


def _renotify_due(alert: Alert, settings: Settings, now: datetime) -> bool:
    last = alert.last_notified_at or alert.opened_at
    return now - last >= timedelta(hours=settings.alert_renotify_hours)


@dataclass(frozen=True)
class Notice:
    """What an event about one target's evaluation says, and to whom it may go."""

    kpi: Kpi
    target: KpiTarget
    decision: Decision
    provisional: bool
    subscribers: Subscribers


async def _act_on_transition(
    session: AsyncSession, settings: Settings, notice: Notice, alert: Alert | None, now: datetime
) -> Alert | None:
    """Open, escalate or resolve the target's one alert, and tell the subscribers."""
    kpi, target, decision = notice.kpi, notice.target, notice.decision
    assert decision.transition is not None
    to = decision.transition.to_status
    if to == Status.no_data and decision.transition.from_status is None:
        return alert  # a new target whose data has not come yet: recorded as no_data, nobody alerted
    if to == Status.on_track:
        if alert is None:
            return None  # a first evaluation on track, or a recovery before any alert: nothing to say
        alert.status, alert.resolved_at = AlertStatus.resolved, now
        alert.reason, alert.last_value = decision.transition.reason, _as_stored(decision.evaluation.value)
        await _notify(session, settings, notice, alert, EventType.kpi_recovered)
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
    await _notify(session, settings, notice, alert, EVENT_FOR[to])
    return alert


def _text(value: Decimal | None) -> str | None:
    return None if value is None else plain_number(value)


async def _owner(session: AsyncSession, kpi: Kpi) -> dict[str, str | None] | None:
    """The KPI owner's names, for notification channels (the session's identity map serves repeats)."""
    if kpi.owner_team_id is None and kpi.owner_member_id is None:
        return None
    team = await session.get(Team, kpi.owner_team_id) if kpi.owner_team_id else None
    member = await session.get(Member, kpi.owner_member_id) if kpi.owner_member_id else None
    return {"name": member.name if member else None, "team": team.name if team else None}


async def _notify(
    session: AsyncSession, settings: Settings, notice: Notice, alert: Alert, event_type: EventType | None
) -> None:
    if event_type is None:
        return
    kpi, target, decision = notice.kpi, notice.target, notice.decision
    ev, change = decision.evaluation, decision.transition
    await emit(
        session,
        org_id=kpi.org_id,
        type_=event_type,
        kpi_id=kpi.id,
        category=kpi.category.value,
        team_id=kpi.owner_team_id,
        subject=f"target:{target.id}",
        # The owner's names are for channels only: read when the organisation has some.
        extra={"owner": await _owner(session, kpi)} if await notice.subscribers.has_channels(kpi.org_id) else None,
        subscribers=notice.subscribers,
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
                "provisional": notice.provisional,
                "reason": change.reason if change else ev.reason,
            },
            "alert": {"id": str(alert.id), "status": alert.status.value, "severity": alert.severity.value},
            "dashboard_url": f"{settings.public_base_url}/dashboard/kpis/{kpi.id}",
        },
    )


async def reset_target_state(session: AsyncSession, *target_ids: uuid.UUID) -> None:
    """Forget these targets' state machines: after a target's thresholds, or its KPI's formula or dimension
    filter, change, it is re-evaluated from a clean state."""
    if target_ids:
        await session.execute(delete(KpiTargetState).where(KpiTargetState.target_id.in_(target_ids)))
