"""Routes: the scorecard, the budget report and the department report (JSON, or CSV where a spreadsheet helps)."""

import csv
import io
import uuid
from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from services.api.deps import Reader, SessionDep
from services.api.problems import V1_ERRORS, problem_responses
from services.api.reports import budget as budget_report_service
from services.api.reports import scorecard as scorecard_service
from services.api.reports.department import department_report
from services.api.reports.schemas import BudgetReportOut, DepartmentReport, Scorecard, ScorecardGroup, ScorecardRow
from services.api.schemas import Day
from shared.kpis.evaluation import Status
from shared.kpis.models import KpiCategory
from shared.numbers import plain_number

router = APIRouter(prefix="/v1/reports", tags=["reports"], responses=V1_ERRORS)
CSV_RESPONSE = {200: {"content": {"text/csv": {}}, "description": "With `Accept: text/csv`"}}


def wants_csv(request: Request) -> bool:
    return "text/csv" in request.headers.get("accept", "")


# A spreadsheet runs a cell starting with one of these as a formula (OWASP "CSV injection").
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value) -> str:
    """One cell: numbers as plain decimals; text that a spreadsheet would run as a formula (a KPI named
    `=HYPERLINK(…)`) behind an apostrophe, so it shows as the text it is. Only `str` values are text from
    users (names, labels); numbers are Decimals, so -12.5 stays a number."""
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return plain_number(value)
    if isinstance(value, str):
        return "'" + value if value.startswith(FORMULA_STARTS) else value
    return str(value)


def csv_response(header: list[str], rows: list[list], filename: str) -> Response:
    """RFC 4180 CSV (quoted where needed, CRLF) with a header row; decimals with a point, no exponent; text
    cells escaped against formula injection (`csv_cell`)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([csv_cell(v) for v in row])
    return Response(
        buffer.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


SCORECARD_COLUMNS = [
    "category",
    "kpi_id",
    "name",
    "unit",
    "owner_team",
    "period",
    "target_value",
    "value",
    "expected_to_date",
    "forecast",
    "attainment_pct",
    "status",
    "provisional",
    "previous_value",
    "change_pct",
    "previous_from",
    "previous_to",
]


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
        return csv_response(
            SCORECARD_COLUMNS,
            [
                [getattr(r, c) if c != "provisional" else str(r.provisional).lower() for c in SCORECARD_COLUMNS]
                for r in rows
            ],
            f"scorecard-{label}.csv",
        )
    groups = [
        ScorecardGroup(category=c.value, kpis=[ScorecardRow(**r.__dict__) for r in rows if r.category == c.value])
        for c in scorecard_service.CATEGORIES
    ]
    return Scorecard(period=label, start=start, end=end, groups=groups)


BUDGET_COLUMNS = [
    "row_type",
    "line_id",
    "name",
    "channel",
    "team_id",
    "campaign_id",
    "currency",
    "planned",
    "actual",
    "manual_actual",
    "ingested_spend",
    "variance",
    "utilisation",
    "budget_total",
    "unallocated",
    "elapsed_share",
    "spent_share",
    "pacing",
]


def budget_csv_rows(report: BudgetReportOut) -> list[list]:
    """One `line` row per budget line, one `channel` row per channel (an empty channel: the lines without one),
    then one `total` row with the plan's budget and pacing: the JSON report's numbers, row by row."""
    figures = ("planned", "actual", "variance", "utilisation")
    rows = [
        {"row_type": "line", **line.model_dump(include={"line_id", "name", "channel", "team_id", "campaign_id"})}
        | line.model_dump(include={*figures, "manual_actual", "ingested_spend"})
        for line in report.lines
    ]
    rows += [
        {"row_type": "channel", "channel": c.channel, **c.model_dump(include=set(figures))} for c in report.by_channel
    ]
    rows.append(
        {"row_type": "total", **report.totals.model_dump(include=set(figures))}
        | {"budget_total": report.total, "unallocated": report.unallocated, "elapsed_share": report.elapsed_share}
        | {"spent_share": report.spent_share, "pacing": report.pacing}
    )
    return [[row.get(c, report.currency if c == "currency" else None) for c in BUDGET_COLUMNS] for row in rows]


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
        Query(examples=["2026-11-20"], description="The day KPI progress is judged on; default today (UTC)"),
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
