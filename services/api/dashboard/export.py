"""The current view as CSV: what the overview or a KPI's drill-down shows, for a spreadsheet.

Headers and words (status, verdict) are in the reader's language; numbers are plain decimals with a dot and dates
ISO 8601, so every spreadsheet reads them as numbers and dates whatever its locale; a UTF-8 byte order mark lets
Excel read Vietnamese names. A cell that a spreadsheet would run as a formula (starting with = + - @, a tab or a
carriage return) is prefixed with an apostrophe (OWASP's advice against CSV injection).
"""

import csv
import io
import re
from collections.abc import Iterable, Sequence
from decimal import ROUND_HALF_UP, Decimal
from urllib.parse import quote

from fastapi.responses import Response

from services.api.dashboard import formatting
from services.api.dashboard.drill import Breakdown
from services.api.dashboard.i18n import gettext as _
from services.api.dashboard.ranges import View
from services.api.dashboard.views import CATEGORY_NAMES, Card, words

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def cell(value: object) -> str:
    """One cell's text: numbers plain, None empty, text safe from formula injection."""
    if value is None:
        return ""
    if isinstance(value, Decimal):
        # At most six decimals (a ratio's 1.3333…), trailing zeros dropped: 100, 33.333333, 80.65.
        if value.as_tuple().exponent < -6:  # type: ignore[operator]
            value = value.quantize(Decimal("0.000001"), rounding=ROUND_HALF_UP)
        return format(value.normalize(), "f")
    text = str(value)
    if text.startswith(FORMULA_START) and not _is_number(text):
        return "'" + text
    return text


def _is_number(text: str) -> bool:
    return re.fullmatch(r"[-+]?\d+(\.\d+)?", text) is not None


def _verdict(card: Card) -> str:
    found = formatting.change(card.change_pct, card.kpi.direction.value)
    return found.verdict if found else ""


def overview_rows(cards: Iterable[Card], view: View) -> list[Sequence[object]]:
    header = [
        _("Category"),
        _("KPI"),
        _("Unit"),
        _("Currency"),
        _("From"),
        _("To"),
        _("Value"),
        _("Compared from"),
        _("Compared to"),
        _("Compared value"),
        _("Change %"),
        _("Verdict"),
        _("Target period"),
        _("Target"),
        _("Attainment %"),
        _("Status"),
        _("Owner team"),
    ]
    rows: list[Sequence[object]] = [header]
    for c in cards:
        row = c.row
        rows.append(
            [
                words(CATEGORY_NAMES, c.kpi.category.value),
                c.kpi.name,
                c.unit,
                c.currency,
                view.start,
                view.through if view.started else None,
                c.value,
                view.compare_start,
                view.compare_end,
                c.compared,
                c.change_pct,
                _verdict(c),
                row.period if row else None,
                row.target_value if row else None,
                row.attainment_pct if row else None,
                c.status.text,
                c.team,
            ]
        )
    return rows


def drill_rows(card: Card, breakdowns: list[Breakdown], view: View, filters: dict[str, str]) -> list[Sequence[object]]:
    where = "; ".join(f"{k} = {v}" for k, v in sorted(filters.items()))
    header = [
        _("KPI"),
        _("From"),
        _("To"),
        _("Filters"),
        _("Dimension"),
        _("Dimension value"),
        _("Value"),
        _("Share %"),
    ]
    rows: list[Sequence[object]] = [header]
    through = view.through if view.started else None
    rows.append([card.kpi.name, view.start, through, where, "", _("All"), card.value, None])
    for breakdown in breakdowns:
        for piece in breakdown.slices:
            share = None if piece.share is None else (piece.share * 100).quantize(Decimal("0.01"))
            rows.append(
                [card.kpi.name, view.start, through, where, breakdown.dimension, piece.value, piece.kpi_value, share]
            )
    return rows


def filename(name: str, view: View) -> str:
    through = view.through if view.started else view.end
    return f"{name}-{view.start.isoformat()}-{through.isoformat()}.csv"


def csv_response(rows: list[Sequence[object]], name: str) -> Response:
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out, lineterminator="\r\n")
    for row in rows:
        writer.writerow([cell(v) for v in row])
    safe = re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-") or "export.csv"
    return Response(
        out.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f"attachment; filename=\"{safe}\"; filename*=UTF-8''{quote(name)}",
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
        },
    )
