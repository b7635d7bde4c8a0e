"""Routes: what a KPI's data says: its value series, the target its history suggests, and objective progress."""

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Query

from services.api.deps import Reader, SessionDep
from services.api.kpis.values import service as progress_service
from services.api.kpis.values.schemas import KpiValues, ObjectiveProgress, SuggestedTarget
from services.api.schemas import Day

router = APIRouter(tags=["kpi targets"])


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
    as_of: Annotated[Day | None, Query(description="Default: the organisation's today (in its time zone)")] = None,
) -> ObjectiveProgress:
    """An objective's progress rolled up from its KPIs: each KPI's attainment against its target for the
    period containing `as_of` (capped at 100%), weighted by the link's weight. KPIs without a target or data
    for that date are listed but left out of the mean."""
    return await progress_service.objective_progress(session, objective_id=objective_id, as_of=as_of)
