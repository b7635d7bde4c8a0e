"""Routes: a KPI's targets and their revisions."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from services.api.deps import Editor, Reader, SessionDep
from services.api.kpis.targets import service
from services.api.kpis.targets.schemas import RevisionOut, TargetCreate, TargetOut, TargetUpdate
from services.api.pagination import PageDep
from services.api.problems import problem_responses
from services.api.schemas import Day, Page
from shared.kpis.models import Kpi, KpiTarget, PeriodKind

router = APIRouter(tags=["kpi targets"])
CONFLICT = problem_responses(409)


def _out(kpi: Kpi, target: KpiTarget) -> TargetOut:
    fields = {name: getattr(target, name) for name in TargetOut.model_fields if name != "resolved"}
    return TargetOut.model_validate({**fields, "resolved": service.resolved_levels(kpi, target)})


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
