"""Server-side SVG charts for the dashboard: no JavaScript, no CDN, nothing to load but the page itself.

Colours come from CSS classes (the page's stylesheet), so the charts follow the page's theme and the strict
Content-Security-Policy; every chart has a text alternative (`<title>` + aria-label).
"""

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from markupsafe import Markup, escape

from shared.numbers import show_number


@dataclass(frozen=True)
class Level:
    """A horizontal (or paced) reference line: the target, a warning or critical level."""

    name: str  # css class suffix and legend text: target, warning, critical
    values: list[tuple[date, Decimal]]


def _fmt(x: float) -> str:
    return f"{x:.1f}"


def line_chart(
    series: list[tuple[date, Decimal | None]],
    start: date,
    end: date,
    levels: list[Level],
    *,
    label: str,
    width: int = 240,
    height: int = 64,
    pad: int = 4,
    annotate: bool = False,
) -> Markup:
    """The KPI's value over the period (to date) with its reference lines; the x axis spans the whole period."""
    days = max((end - start).days, 1)
    numbers = [v for _, v in series if v is not None] + [v for level in levels for _, v in level.values]
    low = min([Decimal(0), *numbers])
    high = max([Decimal(0), *numbers])
    if high == low:
        high = low + 1
    span = high - low
    high += span * Decimal("0.08")
    span = high - low

    right = 96 if annotate else pad  # room for the level names at the right-hand end

    def x(day: date) -> float:
        return pad + (width - pad - right) * (day - start).days / days

    def y(value: Decimal) -> float:
        return pad + (height - 2 * pad) * float((high - value) / span)

    parts = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        f'role="img" aria-label="{escape(label)}" xmlns="http://www.w3.org/2000/svg">',
        f"<title>{escape(label)}</title>",
        f'<line class="axis" x1="{pad}" y1="{_fmt(y(low))}" x2="{width - right}" y2="{_fmt(y(low))}"/>',
    ]
    for level in levels:
        if level.values:
            points = " ".join(f"{_fmt(x(d))},{_fmt(y(v))}" for d, v in level.values)
            parts.append(f'<polyline class="level level-{level.name}" points="{points}"/>')
            if annotate:
                end_day, end_value = level.values[-1]
                parts.append(
                    f'<text class="tick tick-{level.name}" x="{_fmt(x(end_day) + 6)}" y="{_fmt(y(end_value) + 4)}">'
                    f"{escape(level.name)} {escape(show_number(end_value))}</text>"
                )
    segments: list[list[str]] = [[]]
    for day, value in series:
        if value is None:
            if segments[-1]:
                segments.append([])
            continue
        segments[-1].append(f"{_fmt(x(day))},{_fmt(y(value))}")
    for segment in segments:
        if len(segment) > 1:
            parts.append(f'<polyline class="series" points="{" ".join(segment)}"/>')
    last = next(((d, v) for d, v in reversed(series) if v is not None), None)
    if last is not None:
        parts.append(f'<circle class="series-end" cx="{_fmt(x(last[0]))}" cy="{_fmt(y(last[1]))}" r="2.5"/>')
        if annotate:
            parts.append(
                f'<text class="tick" x="{_fmt(x(last[0]))}" y="{_fmt(y(last[1]) - 8)}" text-anchor="middle">'
                f"{escape(show_number(last[1]))}</text>"
            )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - built from numbers and escaped text only


def paced(value: Decimal, start: date, end: date, linear: bool) -> list[tuple[date, Decimal]]:
    """A level over the period: flat, or growing from its first-day share to the full value (linear pacing)."""
    days = (end - start).days + 1
    if not linear:
        return [(start, value), (end, value)]
    return [(start + timedelta(days=i), value * (i + 1) / days) for i in (0, days - 1)]


def budget_bar(planned: Decimal, actual: Decimal, *, label: str, width: int = 240, height: int = 14) -> Markup:
    """Planned as the track, actual as the fill; the part beyond the plan in the overspend colour."""
    scale_to = max(planned, actual, Decimal(1))

    def w(amount: Decimal) -> str:
        return _fmt(float(amount / scale_to) * width)

    within = min(actual, planned)
    parts = [
        f'<svg class="bar" viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" '
        f'aria-label="{escape(label)}" xmlns="http://www.w3.org/2000/svg"><title>{escape(label)}</title>',
        f'<rect class="bar-planned" x="0" y="0" width="{w(planned)}" height="{height}" rx="3"/>',
        f'<rect class="bar-actual" x="0" y="2" width="{w(within)}" height="{height - 4}" rx="2"/>',
    ]
    if actual > planned:
        over = w(actual - planned)
        parts.append(f'<rect class="bar-over" x="{w(planned)}" y="2" width="{over}" height="{height - 4}" rx="2"/>')
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - built from numbers and escaped text only


def number(value: Decimal | None, unit: str | None = None) -> str:
    """A value for a card: the evaluation's number style, with % or the currency left to the caller."""
    if value is None:
        return "—"
    text = show_number(value)
    return f"{text} %" if unit == "percent" else text
