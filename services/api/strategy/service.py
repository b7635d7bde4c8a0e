"""Business goals, objectives with their SMART check, segments and competitors: reads, writes, guards."""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import Select, case, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload

from services.api.crud import apply_changes, get_or_404, refuse_if_referenced, require_refs
from services.api.pagination import PageParams, encode_cursor, fetch_page
from services.api.problems import Conflict, NotFound, Unprocessable
from shared.department.models import Team
from shared.kpis.models import Kpi, ObjectiveKpi
from shared.orgs.clock import local_day, session_today, session_zone
from shared.plans.models import Campaign
from shared.strategy.models import (
    BusinessGoal,
    Competitor,
    GoalStatus,
    Objective,
    ObjectiveStatus,
    Priority,
    Segment,
)
from shared.strategy.smart import ObjectiveFacts, SmartCheck, Verdict, check_smart

# Filtering by SMART verdict scans objectives in chunks of this many (one query each) until a page is full.
SMART_SCAN_CHUNK = 500
MARKET_ANALYSIS_LIMIT = 200
# How many referencing objectives a refused goal deletion names.
NAMED_IN_CONFLICT = 5

ObjectiveWithCheck = tuple[Objective, SmartCheck]


@dataclass(frozen=True)
class KpiLink:
    """A KPI measuring an objective (links are made on the KPI: `objectives` on POST/PATCH /v1/kpis)."""

    kpi_id: uuid.UUID
    name: str
    weight: Decimal


CheckedObjective = tuple[Objective, SmartCheck, list[KpiLink]]


async def today(session: AsyncSession) -> date:
    """The date SMART checks are judged on: the organisation's today, in its time zone."""
    return await session_today(session)


# ---------------------------------------------------------------- business goals


async def create_goal(session: AsyncSession, *, fields: dict[str, Any]) -> BusinessGoal:
    """A new business goal."""
    goal = BusinessGoal(**fields)
    session.add(goal)
    await session.flush()
    return goal


async def list_goals(
    session: AsyncSession, *, page: PageParams, status: GoalStatus | None
) -> tuple[list[BusinessGoal], str | None]:
    """The organisation's business goals, oldest first."""
    stmt = select(BusinessGoal)
    if status is not None:
        stmt = stmt.where(BusinessGoal.status == status)
    return await fetch_page(session, stmt, BusinessGoal.id, page)


async def get_goal(session: AsyncSession, *, goal_id: uuid.UUID) -> BusinessGoal:
    """One business goal, or 404."""
    return await get_or_404(session, BusinessGoal, goal_id)


async def update_goal(session: AsyncSession, *, goal_id: uuid.UUID, changes: dict[str, Any]) -> BusinessGoal:
    """Change the fields a PATCH carried."""
    goal = await get_goal(session, goal_id=goal_id)
    apply_changes(goal, changes)
    await session.flush()
    return goal


async def delete_goal(session: AsyncSession, *, goal_id: uuid.UUID) -> None:
    """Delete a business goal no objective serves; otherwise 409 naming the objectives."""
    goal = await get_goal(session, goal_id=goal_id)
    try:
        await refuse_if_referenced(session, goal, [(Objective.business_goal_id, "objectives")])
    except Conflict as exc:
        named = (
            await session.execute(
                select(Objective.id, Objective.statement)
                .where(Objective.business_goal_id == goal.id)
                .order_by(Objective.id)
                .limit(NAMED_IN_CONFLICT)
            )
        ).all()
        listed = "; ".join(f'"{statement}" ({oid})' for oid, statement in named)
        more = exc.extra["referenced_by"]["objectives"] - len(named)
        raise Conflict(
            f"{exc.detail} Objectives: {listed}{f' and {more} more' if more > 0 else ''}.",
            referenced_by=exc.extra["referenced_by"],
            objectives=[{"id": str(oid), "statement": statement} for oid, statement in named],
        ) from exc
    await session.delete(goal)
    await session.flush()


# ---------------------------------------------------------------- objectives


async def _linked_kpis(session: AsyncSession, objective_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, list[KpiLink]]:
    """The KPIs that measure each objective, by name, with their weights: one query (the link table joined to the
    KPIs) for the whole page. Their number is what the SMART check's *measurable* counts."""
    if not objective_ids:
        return {}
    stmt = (
        select(ObjectiveKpi.objective_id, Kpi.id, Kpi.name, ObjectiveKpi.weight)
        .join(Kpi, Kpi.id == ObjectiveKpi.kpi_id)
        .where(ObjectiveKpi.objective_id.in_(objective_ids))
        .order_by(ObjectiveKpi.objective_id, Kpi.name, Kpi.id)
    )
    links: dict[uuid.UUID, list[KpiLink]] = {}
    for objective_id, kpi_id, name, weight in await session.execute(stmt):
        links.setdefault(objective_id, []).append(KpiLink(kpi_id=kpi_id, name=name, weight=weight))
    return links


def _facts(objective: Objective, tz: str) -> ObjectiveFacts:
    return ObjectiveFacts(
        statement=objective.statement,
        status=objective.status,
        created_on=local_day(objective.created_at, tz),
        unit=objective.unit,
        baseline_value=objective.baseline_value,
        target_value=objective.target_value,
        start_date=objective.start_date,
        deadline=objective.deadline,
    )


async def _with_checks(session: AsyncSession, objectives: Sequence[Objective]) -> list[CheckedObjective]:
    """Each objective with its SMART check and linked KPIs; their goals must already be loaded (joinedload)."""
    links = await _linked_kpis(session, [o.id for o in objectives])
    on = await today(session)
    tz = await session_zone(session)
    return [
        (
            o,
            check_smart(
                _facts(o, tz),
                linked_kpis=len(links.get(o.id, [])),
                goal_status=o.business_goal.status if o.business_goal is not None else None,
                today=on,
            ),
            links.get(o.id, []),
        )
        for o in objectives
    ]


def _objectives() -> Select:
    return select(Objective).options(joinedload(Objective.business_goal))


async def _load_objective(session: AsyncSession, objective_id: uuid.UUID) -> Objective:
    stmt = _objectives().where(Objective.id == objective_id).execution_options(populate_existing=True)
    objective = await session.scalar(stmt)
    if objective is None:
        raise NotFound(f"No objective {objective_id}.")
    return objective


async def get_objective(session: AsyncSession, *, objective_id: uuid.UUID) -> CheckedObjective:
    """One objective with its SMART check and linked KPIs, or 404."""
    objective = await _load_objective(session, objective_id)
    [result] = await _with_checks(session, [objective])
    return result


async def all_objectives(session: AsyncSession) -> list[ObjectiveWithCheck]:
    """Every objective of the organisation with its SMART check, oldest first: two queries for any number."""
    objectives = (await session.scalars(_objectives().order_by(Objective.id))).all()
    return [(o, smart) for o, smart, _ in await _with_checks(session, objectives)]


async def _require_objective_refs(session: AsyncSession, fields: dict[str, Any]) -> None:
    refs = {
        name: (model, fields[name])
        for name, model in (("business_goal_id", BusinessGoal), ("owner_team_id", Team))
        if name in fields
    }
    await require_refs(session, refs)


async def create_objective(session: AsyncSession, *, fields: dict[str, Any]) -> CheckedObjective:
    """A new objective; its business goal and owner team must exist in this organisation."""
    await _require_objective_refs(session, fields)
    objective = Objective(**fields)
    session.add(objective)
    await session.flush()
    return await get_objective(session, objective_id=objective.id)


async def update_objective(
    session: AsyncSession, *, objective_id: uuid.UUID, changes: dict[str, Any]
) -> CheckedObjective:
    """Change the fields a PATCH carried; the merged start/deadline must still be in order."""
    objective = await _load_objective(session, objective_id)
    start = changes.get("start_date", objective.start_date)
    deadline = changes.get("deadline", objective.deadline)
    if start is not None and deadline is not None and deadline < start:
        field = "deadline" if "deadline" in changes else "start_date"
        message = f"deadline ({deadline}) is before start_date ({start})"
        raise Unprocessable(
            f"body.{field}: {message}", errors=[{"location": f"body.{field}", "message": message, "type": "date_order"}]
        )
    await _require_objective_refs(session, changes)
    apply_changes(objective, changes)
    await session.flush()
    return await get_objective(session, objective_id=objective.id)


async def delete_objective(session: AsyncSession, *, objective_id: uuid.UUID) -> None:
    """Delete an objective no campaign works towards; otherwise 409."""
    objective = await get_or_404(session, Objective, objective_id)
    await refuse_if_referenced(session, objective, [(Campaign.objective_id, "campaigns")])
    await session.delete(objective)
    await session.flush()


async def list_objectives(
    session: AsyncSession,
    *,
    page: PageParams,
    business_goal_id: uuid.UUID | None,
    status: ObjectiveStatus | None,
    owner_team_id: uuid.UUID | None,
    smart: Verdict | None,
) -> tuple[list[CheckedObjective], str | None]:
    """The organisation's objectives with their SMART checks and linked KPIs, oldest first; goals load in the
    same query, the KPI links of the whole page in one more."""
    stmt = _objectives()
    if business_goal_id is not None:
        stmt = stmt.where(Objective.business_goal_id == business_goal_id)
    if status is not None:
        stmt = stmt.where(Objective.status == status)
    if owner_team_id is not None:
        stmt = stmt.where(Objective.owner_team_id == owner_team_id)
    if smart is None:
        objectives, next_cursor = await fetch_page(session, stmt, Objective.id, page)
        return await _with_checks(session, objectives), next_cursor
    return await _page_by_verdict(session, stmt, page, smart)


async def _page_by_verdict(
    session: AsyncSession, stmt: Select, page: PageParams, verdict: Verdict
) -> tuple[list[CheckedObjective], str | None]:
    """A full page of objectives whose overall verdict is `verdict`.

    The verdict depends on today's date and on rules SQL cannot express, so it is computed here: scan
    in id order, SMART_SCAN_CHUNK rows per query, until the page is full. The cursor is the last
    objective returned, so pages neither skip nor repeat rows, exactly like unfiltered pages.
    """
    matched: list[CheckedObjective] = []
    after = page.after
    while len(matched) <= page.limit:
        chunk_stmt = stmt if after is None else stmt.where(Objective.id > after)
        chunk = list((await session.scalars(chunk_stmt.order_by(Objective.id).limit(SMART_SCAN_CHUNK))).all())
        matched += [row for row in await _with_checks(session, chunk) if row[1].overall == verdict]
        if len(chunk) < SMART_SCAN_CHUNK:
            break
        after = chunk[-1].id
    if len(matched) > page.limit:
        matched = matched[: page.limit]
        return matched, encode_cursor(matched[-1][0].id)
    return matched, None


# ---------------------------------------------------------------- segments and competitors


async def _refuse_duplicate_name(
    session: AsyncSession, model: type[Segment] | type[Competitor], name: str, *, except_id: uuid.UUID | None = None
) -> None:
    stmt = select(model.id).where(func.lower(model.name) == name.lower())
    if except_id is not None:
        stmt = stmt.where(model.id != except_id)
    existing = await session.scalar(stmt.limit(1))
    if existing is not None:
        noun = "segment" if model is Segment else "competitor"
        raise Conflict(f"A {noun} named {name!r} already exists ({existing}).", existing_id=str(existing))


async def create_segment(session: AsyncSession, *, fields: dict[str, Any]) -> Segment:
    """A new target segment; its name must be new in the organisation."""
    await _refuse_duplicate_name(session, Segment, fields["name"])
    segment = Segment(**fields)
    session.add(segment)
    await session.flush()
    return segment


def _name_contains(model: type[Segment] | type[Competitor], q: str):
    """Case-insensitive "name contains q"; `%` and `_` in q are literal characters, not wildcards."""
    return func.lower(model.name).contains(q.lower(), autoescape=True)


async def list_segments(
    session: AsyncSession, *, page: PageParams, priority: Priority | None, q: str | None = None
) -> tuple[list[Segment], str | None]:
    """The organisation's target segments, oldest first."""
    stmt = select(Segment)
    if priority is not None:
        stmt = stmt.where(Segment.priority == priority)
    if q:
        stmt = stmt.where(_name_contains(Segment, q))
    return await fetch_page(session, stmt, Segment.id, page)


async def get_segment(session: AsyncSession, *, segment_id: uuid.UUID) -> Segment:
    """One segment, or 404."""
    return await get_or_404(session, Segment, segment_id)


async def update_segment(session: AsyncSession, *, segment_id: uuid.UUID, changes: dict[str, Any]) -> Segment:
    """Change the fields a PATCH carried; a new name must not be taken."""
    segment = await get_segment(session, segment_id=segment_id)
    if "name" in changes:
        await _refuse_duplicate_name(session, Segment, changes["name"], except_id=segment.id)
    apply_changes(segment, changes)
    await session.flush()
    return segment


async def delete_segment(session: AsyncSession, *, segment_id: uuid.UUID) -> None:
    """Delete a segment (nothing references segments)."""
    segment = await get_segment(session, segment_id=segment_id)
    await session.delete(segment)
    await session.flush()


async def create_competitor(session: AsyncSession, *, fields: dict[str, Any]) -> Competitor:
    """A new competitor; its name must be new in the organisation."""
    await _refuse_duplicate_name(session, Competitor, fields["name"])
    competitor = Competitor(**fields)
    session.add(competitor)
    await session.flush()
    return competitor


async def list_competitors(
    session: AsyncSession, *, page: PageParams, q: str | None = None, min_share: Decimal | None = None
) -> tuple[list[Competitor], str | None]:
    """The organisation's competitors, oldest first; `min_share` leaves out those without an estimate."""
    stmt = select(Competitor)
    if q:
        stmt = stmt.where(_name_contains(Competitor, q))
    if min_share is not None:
        stmt = stmt.where(Competitor.estimated_share_pct >= min_share)
    return await fetch_page(session, stmt, Competitor.id, page)


async def get_competitor(session: AsyncSession, *, competitor_id: uuid.UUID) -> Competitor:
    """One competitor, or 404."""
    return await get_or_404(session, Competitor, competitor_id)


async def update_competitor(session: AsyncSession, *, competitor_id: uuid.UUID, changes: dict[str, Any]) -> Competitor:
    """Change the fields a PATCH carried; a new name must not be taken."""
    competitor = await get_competitor(session, competitor_id=competitor_id)
    if "name" in changes:
        await _refuse_duplicate_name(session, Competitor, changes["name"], except_id=competitor.id)
    apply_changes(competitor, changes)
    await session.flush()
    return competitor


async def delete_competitor(session: AsyncSession, *, competitor_id: uuid.UUID) -> None:
    """Delete a competitor (nothing references competitors)."""
    competitor = await get_competitor(session, competitor_id=competitor_id)
    await session.delete(competitor)
    await session.flush()


async def market_analysis(session: AsyncSession) -> dict[str, Any]:
    """Segments and competitors on one page, their counts, and the competitors' total estimated share."""
    by_priority = case((Segment.priority == Priority.high, 0), (Segment.priority == Priority.medium, 1), else_=2)
    segments = (
        await session.scalars(select(Segment).order_by(by_priority, Segment.name).limit(MARKET_ANALYSIS_LIMIT))
    ).all()
    competitors = (
        await session.scalars(
            select(Competitor)
            .order_by(Competitor.estimated_share_pct.desc().nulls_last(), Competitor.name)
            .limit(MARKET_ANALYSIS_LIMIT)
        )
    ).all()
    segment_count = await session.scalar(select(func.count(Segment.id)))
    competitor_count, share_sum = (
        await session.execute(select(func.count(Competitor.id), func.sum(Competitor.estimated_share_pct)))
    ).one()
    total_share = Decimal(share_sum or 0).quantize(Decimal("0.01"))
    warnings = []
    if total_share > 100:
        warnings.append(f"Competitors' estimated shares add up to {total_share}%, more than 100%.")
    return {
        "segments": list(segments),
        "competitors": list(competitors),
        "segment_count": segment_count,
        "competitor_count": competitor_count,
        "total_estimated_share_pct": total_share,
        "warnings": warnings,
    }
