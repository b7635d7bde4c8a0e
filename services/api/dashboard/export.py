"""The current view as CSV: what the overview or a KPI's drill-down shows, for a spreadsheet.

Headers and words (status, verdict) are in the reader's language; numbers are plain decimals with a dot and dates
ISO 8601, so every spreadsheet reads them as numbers and dates whatever its locale; a UTF-8 byte order mark lets
Excel read Vietnamese names. A cell that a spreadsheet would run as a formula (starting with = + - @, a tab or a
carriage return) is prefixed with an apostrophe (OWASP's advice against CSV injection).
"""

import re
from collections.abc import Iterable, Sequence
from decimal import ROUND_HALF_UP, Decimal

from fastapi.responses import Response

from services.api.dashboard import formatting
from services.api.dashboard.drill import Breakdown
from services.api.dashboard.i18n import gettext as _
from services.api.dashboard.ranges import View
from services.api.dashboard.views import CATEGORY_NAMES, Card, words
from services.api.reports.csv_export import csv_cell
from services.api.reports.csv_export import csv_response as reports_csv

SIX_PLACES = Decimal("0.000001")
NUMBER = re.compile(r"[-+]?\d+(\.\d+)?")


def cell(value: object) -> str:
    """One cell: the reports' rule (`csv_cell`: numbers plain, text safe from formula injection), with numbers to at
    most six decimals (a ratio's 1.3333…) and text that is a plain number (a campaign named -2) left a number."""
    if isinstance(value, Decimal) and value.as_tuple().exponent < -6:  # type: ignore[operator]
        value = value.quantize(SIX_PLACES, rounding=ROUND_HALF_UP)
    if isinstance(value, str) and NUMBER.fullmatch(value):
        return value
    return csv_cell(value)


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
    """The view's rows (the first the header) as the reports' CSV, with a byte order mark for Excel; not cached,
    like the pages."""
    response = reports_csv([str(h) for h in rows[0]], rows[1:], name, cell=cell, bom=True)
    response.headers["Cache-Control"] = "no-store"
    return response
