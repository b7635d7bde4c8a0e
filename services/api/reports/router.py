"""Routes: the scorecard, the budget report and the department report (JSON, or CSV where a spreadsheet helps:
`csv_export.py`)."""

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from services.api.deps import Reader, SessionDep
from services.api.problems import V1_ERRORS, problem_responses
from services.api.reports import budget as budget_report_service
from services.api.reports import scorecard as scorecard_service
from services.api.reports.csv_export import (
    BUDGET_COLUMNS,
    SCORECARD_COLUMNS,
    budget_csv_rows,
    csv_response,
    scorecard_csv_rows,
    wants_csv,
)
from services.api.reports.department import department_report
from services.api.reports.schemas import BudgetReportOut, DepartmentReport, Scorecard, ScorecardGroup, ScorecardRow
from services.api.schemas import Day
from shared.kpis.evaluation import Status
from shared.kpis.models import KpiCategory

router = APIRouter(prefix="/v1/reports", tags=["reports"], responses=V1_ERRORS)
CSV_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/csv": {}}, "description": "With `Accept: text/csv`"}
}


@router.get("/scorecard", response_model=Scorecard, responses=CSV_RESPONSE)
async def scorecard(
    request: Request,
    session: SessionDep,
    _: Reader,
    period: Annotated[
        str | None,
        Query(
            examples=["2026-11"],
            description="Month (2026-11), quarter (2026-Q4), half (2026-H2), year (2026), ISO week (2026-W48) or "
            "day; or leave it out and give from and to",
        ),
    ] = None,
    from_: Annotated[Day | None, Query(alias="from")] = None,
    to: Day | None = None,
    team_id: uuid.UUID | None = None,
    category: KpiCategory | None = None,
    status: Status | None = None,
    objective_id: uuid.UUID | None = None,
):
    """Every KPI with a target in the period, grouped input / output / impact: value, target, expected to
    date, forecast, attainment %, status, provisional flag, previous-period value and change, owner.

    The numbers are the latest evaluation records. `previous_value` is the KPI over the same span of the period
    before the target's (`previous_from`..`previous_to`): the previous calendar period for a month, quarter,
    year… target, the same number of days just before for a target on custom dates. `Accept: text/csv` returns
    the same rows as CSV (text cells that a spreadsheet would run as a formula start with an apostrophe).
    """
    label, start, end = scorecard_service.resolve_period(period, from_, to)
    rows = await scorecard_service.scorecard(
        session, start=start, end=end, team_id=team_id, category=category, status=status, objective_id=objective_id
    )
    if wants_csv(request):
        return csv_response(SCORECARD_COLUMNS, scorecard_csv_rows(rows), f"scorecard-{label}.csv")
    groups = [
        ScorecardGroup(category=c.value, kpis=[ScorecardRow(**r.__dict__) for r in rows if r.category == c.value])
        for c in scorecard_service.CATEGORIES
    ]
    return Scorecard(period=label, start=start, end=end, groups=groups)


@router.get("/budget", response_model=BudgetReportOut, responses=CSV_RESPONSE)
async def budget_report(request: Request, session: SessionDep, _: Reader, plan_id: uuid.UUID):
    """Planned vs actual (manual + ingested spend) vs variance per line, per channel and in total, with
    utilisation and pacing: the share of the budget spent against the share of the period elapsed.

    `Accept: text/csv` returns the same numbers as rows: `row_type` `line` (one per budget line), `channel`
    (one per channel; empty channel: lines without one) and `total` (which alone carries the budget total,
    unallocated, elapsed_share, spent_share and pacing)."""
    report = await budget_report_service.budget_report(session, plan_id=plan_id)
    if wants_csv(request):
        return csv_response(BUDGET_COLUMNS, budget_csv_rows(report), f"budget-{plan_id}.csv")
    return report


@router.get(
    "/department",
    response_model=DepartmentReport,
    summary="Department report",
    responses=problem_responses(401, 403, 422),
)
async def department(
    session: SessionDep,
    _: Reader,
    as_of: Annotated[
        Day | None,
        Query(
            examples=["2026-11-20"],
            description="The day KPI progress is judged on; default the organisation's today (in its time zone)",
        ),
    ] = None,
) -> DepartmentReport:
    """The department on one page: its structure type and mission, the team tree with filled and open
    positions, every objective with its business goal, SMART check and progress rolled up from its KPIs, the
    open (and acknowledged) alerts, and counts of each.

    Progress is computed as `GET /v1/objectives/{id}/progress` does, for the period containing `as_of`; the
    SMART check is judged as of today, as the objective endpoints do. Alerts are those unresolved now, newest
    first, at most 100 (`open_alerts_total` counts them all).
    """
    return await department_report(session, as_of=as_of)
