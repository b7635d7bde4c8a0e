"""A target's standing as the alerting sees it, for every read that shows a status (the scorecard, objective
progress): the latest evaluation the job recorded, or where there is none yet, the job's own judgement
(`shared.kpis.judging.judge`) made now from the target's stored state. So no read decides a status its own way."""

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from shared.alerts.models import KpiEvaluation, KpiTargetState
from shared.kpis.compute import judge_targets
from shared.kpis.evaluation import Status
from shared.kpis.judging import Judgement, target_window
from shared.kpis.models import Kpi, KpiTarget
from shared.kpis.state_machine import TargetState
from shared.orgs.clock import org_today


@dataclass(frozen=True)
class Standing:
    """One target's numbers and status as of a day, and where they come from."""

    value: Decimal | None
    expected_to_date: Decimal | None
    forecast: Decimal | None
    attainment_pct: Decimal | None
    status: Status
    provisional: bool
    window_start: date
    window_end: date
    evaluated_at: datetime | None  # the record's time; None: judged on reading (the job has not recorded one)
    reason: str = ""  # the evaluation's one sentence (e.g. which exchange rate is missing)

    @classmethod
    def recorded(cls, rec: KpiEvaluation) -> "Standing":
        return cls(
            value=rec.value,
            expected_to_date=rec.expected_to_date,
            forecast=rec.forecast,
            attainment_pct=rec.attainment_pct,
            status=Status(rec.status or rec.observed_status),  # as `Judgement.status`
            provisional=rec.provisional,
            window_start=rec.window_start,
            window_end=rec.window_end,
            evaluated_at=rec.evaluated_at,
            reason=rec.reason,
        )

    @classmethod
    def judged(cls, judgement: Judgement) -> "Standing":
        ev = judgement.evaluation
        return cls(
            value=ev.value,
            expected_to_date=ev.expected_to_date,
            forecast=ev.forecast,
            attainment_pct=ev.attainment_pct,
            status=judgement.status,
            provisional=False,
            window_start=judgement.start,
            window_end=judgement.end,
            evaluated_at=None,
            reason=ev.reason,
        )


async def _records(session: AsyncSession, targets: list[KpiTarget], as_of: date, today: date) -> dict:
    """Each target's latest record: any, for today (what alerts act on now); for another day, one the job made as
    of that day."""
    keyed: list[InstrumentedAttribute[Any]] = [KpiEvaluation.target_id]
    where = [KpiEvaluation.target_id.in_([t.id for t in targets])]
    ends: dict[uuid.UUID, date] | None = None
    if as_of != today:
        ends = {t.id: target_window(t, as_of)[1] for t in targets}
        keyed.append(KpiEvaluation.as_of)
        where.append(KpiEvaluation.as_of.in_(set(ends.values())))
    latest = select(*keyed, func.max(KpiEvaluation.evaluated_at).label("at")).where(*where).group_by(*keyed).subquery()
    join = and_(*(latest.c[column.key] == column for column in keyed), latest.c.at == KpiEvaluation.evaluated_at)
    records = await session.scalars(select(KpiEvaluation).join(latest, join))
    return {r.target_id: r for r in records if ends is None or r.as_of == ends[r.target_id]}


async def standings(
    session: AsyncSession,
    pairs: Iterable[tuple[Kpi, KpiTarget]],
    *,
    as_of: date | None = None,
    now: datetime | None = None,
) -> dict[uuid.UUID, Standing]:
    """Each target's standing (the targets of one organisation), by id, as of a day (default the organisation's
    today, in its time zone, at `now`). Four statements whatever the number of targets: the records, the stored
    states of the targets without one, and the two reads of their metrics (a request's session knows the zone)."""
    pairs = list(pairs)
    if not pairs:
        return {}
    now = now or datetime.now(UTC)
    today = await org_today(session, pairs[0][0].org_id, now)
    as_of = as_of or today
    records = await _records(session, [t for _, t in pairs], as_of, today)
    missing = [(k, t) for k, t in pairs if t.id not in records]
    states: dict[uuid.UUID, TargetState] = {}
    if missing and as_of == today:  # another day is judged from scratch: the state then is not kept
        states = {
            s.target_id: s.remembered()
            for s in await session.scalars(
                select(KpiTargetState).where(KpiTargetState.target_id.in_([t.id for _, t in missing]))
            )
        }
    judged = await judge_targets(session, missing, as_of=as_of, now=now, states=states) if missing else {}
    out = {target_id: Standing.recorded(rec) for target_id, rec in records.items()}
    out.update({target_id: Standing.judged(j) for target_id, j in judged.items()})
    return out
