"""The reports as CSV (RFC 4180): the writer, text cells escaped against formula injection, and each report's
columns and rows."""

import csv
import io
import re
from collections.abc import Callable, Iterable, Sequence
from decimal import Decimal
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import Response

from services.api.reports.schemas import BudgetReportOut
from shared.numbers import plain_number


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


def csv_response(
    header: Sequence[str],
    rows: Iterable[Sequence[object]],
    filename: str,
    *,
    cell: Callable[[object], str] = csv_cell,
    bom: bool = False,
) -> Response:
    """RFC 4180 CSV (quoted where needed, CRLF) with a header row; decimals with a point, no exponent; text
    cells escaped against formula injection (`csv_cell`, or a caller's `cell` built on it). `bom`: a UTF-8 byte
    order mark first, so Excel reads non-ASCII text (the dashboard's exports). A filename beyond plain ASCII (a KPI's
    name) goes as RFC 6266 `filename*`, with an ASCII stand-in."""
    buffer = io.StringIO()
    if bom:
        buffer.write("\ufeff")
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([cell(v) for v in row])
    ascii_name = re.sub(r"[^A-Za-z0-9._-]+", "-", filename).strip("-") or "export.csv"
    disposition = f'attachment; filename="{ascii_name}"'
    if ascii_name != filename:
        disposition += f"; filename*=UTF-8''{quote(filename)}"
    return Response(
        buffer.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": disposition, "X-Content-Type-Options": "nosniff"},
    )


SCORECARD_COLUMNS = [
    "category",
    "kpi_id",
    "name",
    "unit",
    "currency",
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


def scorecard_csv_rows(rows) -> list[list]:
    """One row per scorecard row, in SCORECARD_COLUMNS order (`provisional` as `true`/`false`)."""
    return [
        [getattr(r, c) if c != "provisional" else str(r.provisional).lower() for c in SCORECARD_COLUMNS] for r in rows
    ]


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
