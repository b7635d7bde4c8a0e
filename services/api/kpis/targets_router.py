"""Routes: a KPI's targets, their revisions, the suggested target, and objective progress."""

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response, status

from services.api.deps import Editor, Reader, SessionDep
from services.api.kpis import progress as progress_service
from services.api.kpis import targets as service
from services.api.kpis.target_schemas import (
    KpiValues,
    ObjectiveProgress,
    RevisionOut,
    SuggestedTarget,
    TargetCreate,
    TargetOut,
    TargetUpdate,
)
from services.api.pagination import PageDep
from services.api.problems import problem_responses
from services.api.schemas import Day, Page
from shared.kpis.models import PeriodKind

router = APIRouter(tags=["KPI targets"])
CONFLICT = problem_responses(409)


def _out(kpi, target) -> TargetOut:
    fields = {name: getattr(target, name) for name in TargetOut.model_fields if name != "resolved"}
    return TargetOut(**fields, resolved=service.resolved_levels(kpi, target))


@router.post(
    "/kpis/{kpi_id}/targets", status_code=status.HTTP_201_CREATED, response_model=TargetOut, responses=CONFLICT
)
async def create_target(kpi_id: uuid.UUID, body: TargetCreate, session: SessionDep, _: Editor) -> TargetOut:
    """Set a target for one period of a KPI, with warning and critical thresholds.

    Thresholds are absolute values or, with `threshold_mode: percent` (the default), % of the target, and
    must fit the KPI's direction: for `higher_is_better` critical ≤ warning ≤ target, for `lower_is_better`
    critical ≥ warning ≥ target (422 otherwise). Left out, warning is the target itself and critical 10% of
    the target beyond it. Periods of one KPI may not overlap (409 naming the other target).

    Give `period`, or `start_date` and `end_date`; with both, the dates must be the period's (422 naming them).
    `pacing` defaults to `linear` for a KPI that is one summed metric, else `none`; always `none` for a
    `target_range` KPI. A target whose period has started and already has data is evaluated right after it
    is created (see `GET /v1/kpis/{id}/evaluations`), without waiting for new data or the periodic run.
    """
    kpi, target = await service.create_target(session, kpi_id=kpi_id, body=body)
    return _out(kpi, target)


@router.get("/kpis/{kpi_id}/targets", response_model=Page[TargetOut])
async def list_targets(
    kpi_id: uuid.UUID,
    session: SessionDep,
    _: Reader,
    page: PageDep,
    active_on: Annotated[Day | None, Query(description="Only the target whose period includes this date")] = None,
    period_kind: PeriodKind | None = None,
) -> Page[TargetOut]:
    """A KPI's targets, oldest first, each with its thresholds resolved to absolute values."""
    kpi, targets, cursor = await service.list_targets(
        session, kpi_id=kpi_id, page=page, active_on=active_on, period_kind=period_kind
    )
    return Page[TargetOut](items=[_out(kpi, t) for t in targets], next_cursor=cursor)


@router.get("/kpis/{kpi_id}/targets/{target_id}", response_model=TargetOut)
async def get_target(kpi_id: uuid.UUID, target_id: uuid.UUID, session: SessionDep, _: Reader) -> TargetOut:
    """One target of a KPI with its thresholds resolved to absolute values."""
    kpi, target = await service.get_target(session, kpi_id=kpi_id, target_id=target_id)
    return _out(kpi, target)


@router.patch("/kpis/{kpi_id}/targets/{target_id}", response_model=TargetOut)
async def update_target(
    kpi_id: uuid.UUID, target_id: uuid.UUID, body: TargetUpdate, session: SessionDep, caller: Editor
) -> TargetOut:
    """Review and adjust a target. Changing its value or thresholds needs a `reason` (422 without one);
    each such change is kept as a revision (old, new, who, when, why). Evaluation options change freely."""
    kpi, target = await service.update_target(
        session, kpi_id=kpi_id, target_id=target_id, body=body, by_key_id=caller.key_id
    )
    return _out(kpi, target)


@router.delete("/kpis/{kpi_id}/targets/{target_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_target(kpi_id: uuid.UUID, target_id: uuid.UUID, session: SessionDep, _: Editor) -> Response:
    """Delete a target together with its revisions."""
    await service.delete_target(session, kpi_id=kpi_id, target_id=target_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/kpis/{kpi_id}/targets/{target_id}/revisions", response_model=Page[RevisionOut])
async def list_revisions(
    kpi_id: uuid.UUID, target_id: uuid.UUID, session: SessionDep, _: Reader, page: PageDep
) -> Page[RevisionOut]:
    """The history of a target's value and thresholds, oldest first: old, new, who, when and why."""
    revisions, cursor = await service.list_revisions(session, kpi_id=kpi_id, target_id=target_id, page=page)
    return Page[RevisionOut](items=[RevisionOut.model_validate(r) for r in revisions], next_cursor=cursor)


@router.get("/kpis/{kpi_id}/suggested-target", response_model=SuggestedTarget)
async def suggested_target(
    kpi_id: uuid.UUID,
    session: SessionDep,
    _: Reader,
    period: Annotated[str, Query(examples=["2027-Q1"], description="The period to suggest a target for")],
) -> SuggestedTarget:
    """A proposed target and thresholds for a period, from the KPI's own history, with the method and the
    numbers behind it: the least-squares trend over the six trailing periods of the same length (a period
    without data is a gap, not squeezed out), projected one period ahead, then scaled by the seasonal factor
    when the same period a year ago is known: its value ÷ the mean of the periods centred on it (a steady
    trend alone gives 1). Warning and critical lie one and two standard deviations of the history on the
    worse side; a `target_range` KPI gets a band (`target_value`..`target_high`) and pacing `none`. The
    levels can be sent back as the target. With fewer than three periods of data, or values too large for a
    target, `enough_history` is false, the explanation says why and nothing is suggested."""
    return await progress_service.suggest(session, kpi_id=kpi_id, period_label=period)


@router.get("/kpis/{kpi_id}/values", response_model=KpiValues)
async def kpi_values(
    kpi_id: uuid.UUID,
    session: SessionDep,
    _: Reader,
    from_: Annotated[Day, Query(alias="from", examples=["2026-11-01"])],
    to: Annotated[Day, Query(examples=["2026-11-30"])],
    grain: Annotated[Literal["day", "week", "month"], Query()] = "day",
) -> KpiValues:
    """The KPI's series at a grain between two dates (inclusive), from the ingested daily roll-ups.

    Each value aggregates every metric over its bucket first and then applies the formula (a month's CPC is
    the month's spend ÷ the month's clicks), with the KPI's dimension filter. No data gives null.
    """
    return await progress_service.values(session, kpi_id=kpi_id, start=from_, end=to, grain=grain)


@router.get("/objectives/{objective_id}/progress", response_model=ObjectiveProgress, tags=["strategy"])
async def objective_progress(
    objective_id: uuid.UUID,
    session: SessionDep,
    _: Reader,
    as_of: Annotated[Day | None, Query(description="Default: today (UTC)")] = None,
) -> ObjectiveProgress:
    """An objective's progress rolled up from its KPIs: each KPI's attainment against its target for the
    period containing `as_of` (capped at 100%), weighted by the link's weight. KPIs without a target or data
    for that date are listed but left out of the mean."""
    return await progress_service.objective_progress(session, objective_id=objective_id, as_of=as_of)
