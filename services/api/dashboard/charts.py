"""Server-side SVG charts for the dashboard: no JavaScript, no CDN, nothing to load but the page itself.

Colours come from CSS classes (the page's stylesheet), so the charts follow the page's theme and the strict
Content-Security-Policy; every chart has a text alternative (`<title>` + aria-label).
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from markupsafe import Markup, escape

from services.api.dashboard.trends import TrendPoint
from shared.numbers import show_number
from shared.periods import Period


@dataclass(frozen=True)
class Level:
    """A horizontal (or paced) reference line: the target, a warning or critical level."""

    name: str  # css class suffix and legend text: target, warning, critical
    values: list[tuple[date, Decimal]]


def _fmt(x: float) -> str:
    return f"{x:.1f}"


def _value_range(numbers: list[Decimal]) -> tuple[Decimal, Decimal]:
    """The y axis's bottom and top: from zero (or below it) to the largest number, with 8 % of headroom."""
    low = min([Decimal(0), *numbers])
    high = max([Decimal(0), *numbers])
    if high == low:
        high = low + 1
    return low, high + (high - low) * Decimal("0.08")


def _series_lines(points: list[tuple[float, float] | None]) -> list[str]:
    """The value's line through the points, broken where one is missing (None: no data that day or period)."""
    segments: list[list[str]] = [[]]
    for point in points:
        if point is None:
            if segments[-1]:
                segments.append([])
            continue
        segments[-1].append(f"{_fmt(point[0])},{_fmt(point[1])}")
    return [
        f'<polyline class="series" fill="none" points="{" ".join(segment)}"/>'
        for segment in segments
        if len(segment) > 1
    ]


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
    fmt: Callable[[Decimal], str] = show_number,
    names: Mapping[str, str] | None = None,
) -> Markup:
    """The KPI's value over the period (to date) with its reference lines; the x axis spans the whole period.
    `annotate` writes each level's name (`names`: in the reader's language) and the last value (`fmt`)."""
    days = max((end - start).days, 1)
    numbers = [v for _, v in series if v is not None] + [v for level in levels for _, v in level.values]
    low, high = _value_range(numbers)
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
                    f"{escape((names or {}).get(level.name, level.name))} {escape(fmt(end_value))}</text>"
                )
    parts.extend(_series_lines([None if v is None else (x(d), y(v)) for d, v in series]))
    last = next(((d, v) for d, v in reversed(series) if v is not None), None)
    if last is not None:
        parts.append(f'<circle class="series-end" cx="{_fmt(x(last[0]))}" cy="{_fmt(y(last[1]))}" r="2.5"/>')
        if annotate:
            # Near the left edge (the period's first days) the label starts at the point rather than centring on it.
            anchor = "start" if x(last[0]) < width / 8 else "middle"
            parts.append(
                f'<text class="tick" x="{_fmt(x(last[0]))}" y="{_fmt(y(last[1]) - 8)}" text-anchor="{anchor}">'
                f"{escape(fmt(last[1]))}</text>"
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


# --- trends and drill-down --------------------------------------------------------------------------------


@dataclass(frozen=True)
class TrendWords:
    """The words a trend chart writes (its titles and summary), so a page in another language passes its own."""

    target: str = "target"
    to_date: str = "to date"
    no_data: str = "no data"
    no_target: str = "no target"
    off_target: str = "off target"
    from_to: str = "{first} to {last}"


def _safe_id(text: str) -> str:
    """An id for url(#…) references: letters, digits, - and _ only."""
    return "".join(c for c in text if c.isascii() and (c.isalnum() or c in "-_")) or "chart"


def _point_title(point: TrendPoint, fmt: Callable[[Decimal], str], name: str, words: TrendWords) -> str:
    parts = [f"{name}: {words.no_data if point.value is None else fmt(point.value)}"]
    parts.append(words.no_target if point.target is None else f"{words.target} {fmt(point.target)}")
    if point.off_target:
        parts.append(words.off_target)
    if point.to_date:
        parts.append(words.to_date)
    return " · ".join(parts)


def trend_chart(
    points: list[TrendPoint],
    *,
    label: str,
    fmt: Callable[[Decimal], str],
    period_name: Callable[[Period], str],
    words: TrendWords = TrendWords(),
    id_prefix: str = "trend",
    width: int = 240,
    height: int = 120,
    large: bool = False,
    tick_fmt: Callable[[Decimal], str] | None = None,
) -> Markup:
    """A KPI period by period (`services.api.dashboard.trends`): the value as a line broken where a period has no
    data, each period's acceptable band (hatched) and target (dashed), a y axis of three ticks and the periods
    below (every one on the large chart, the first and last on the small one). Each point is focusable with its
    own title; one off target is a square rather than a circle, one to date is hollow, so neither relies on
    colour. `id_prefix` must be unique on the page (it names the hatch pattern); `tick_fmt` writes the axis's
    numbers (short ones: 4.6K), `fmt` the points' titles."""
    hatch = f"{_safe_id(id_prefix)}-hatch"
    left, right, top, bottom = (56 if large else 40), 6, 6, 18
    plot_w, plot_h = width - left - right, height - top - bottom
    numbers = [p.value for p in points if p.value is not None]
    numbers += [p.target for p in points if p.target is not None]
    numbers += [edge for p in points if p.band is not None for edge in p.band]
    low, high = _value_range(numbers)
    span = high - low
    slot = plot_w / max(len(points), 1)

    def x(i: int) -> float:
        return left + slot * (i + 0.5)

    def y(value: Decimal) -> float:
        return top + plot_h * float((high - value) / span)

    summary = label
    if points:
        summary += ", " + words.from_to.format(first=period_name(points[0].period), last=period_name(points[-1].period))
        latest = next((p for p in reversed(points) if p.value is not None), points[-1])
        summary += f"; {_point_title(latest, fmt, period_name(latest.period), words)}"
    parts = [
        f'<svg class="chart chart-trend{" chart-trend-large" if large else ""}" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" role="group" aria-label="{escape(summary)}" '
        'xmlns="http://www.w3.org/2000/svg">',
        f"<title>{escape(summary)}</title>",
        f'<defs><pattern id="{hatch}" patternUnits="userSpaceOnUse" width="6" height="6" '
        'patternTransform="rotate(45)"><line class="hatch" x1="0" y1="0" x2="0" y2="6" stroke="currentColor" '
        'stroke-width="2"/></pattern></defs>',
    ]
    for value in (low, (low + high) / 2, high):
        parts.append(
            f'<line class="grid" x1="{left}" y1="{_fmt(y(value))}" x2="{width - right}" y2="{_fmt(y(value))}"/>'
        )
        parts.append(
            f'<text class="tick tick-y" x="{left - 4}" y="{_fmt(y(value) + 4)}" text-anchor="end">'
            f"{escape((tick_fmt or fmt)(value))}</text>"
        )
    parts.append(f'<line class="axis" x1="{left}" y1="{top}" x2="{left}" y2="{_fmt(y(low))}"/>')
    parts.append(f'<line class="axis" x1="{left}" y1="{_fmt(y(low))}" x2="{width - right}" y2="{_fmt(y(low))}"/>')
    for i, p in enumerate(points):
        if large or i in (0, len(points) - 1):
            # On the small chart the first and last labels start and end at the plot's edges, so a long one
            # ("thg 12 2026") is not cut off; on the large one each is centred under its period.
            at, anchor = x(i), "middle"
            if not large and len(points) > 1:
                at, anchor = (left, "start") if i == 0 else (width - right, "end")
            parts.append(
                f'<text class="tick tick-x" x="{_fmt(at)}" y="{height - 4}" text-anchor="{anchor}">'
                f"{escape(period_name(p.period))}</text>"
            )
    half = slot * 0.35
    for i, p in enumerate(points):
        if p.band is not None:
            band_low, band_high = p.band
            box = (
                f'x="{_fmt(x(i) - half)}" y="{_fmt(y(band_high))}" width="{_fmt(2 * half)}" '
                f'height="{_fmt(y(band_low) - y(band_high))}"'
            )
            parts.append(f'<rect class="band" fill="none" {box}/><rect class="band-hatch" fill="url(#{hatch})" {box}/>')
        if p.target is not None:
            parts.append(
                f'<line class="level level-target" x1="{_fmt(x(i) - half)}" y1="{_fmt(y(p.target))}" '
                f'x2="{_fmt(x(i) + half)}" y2="{_fmt(y(p.target))}" stroke-dasharray="4 2"/>'
            )
    parts.extend(_series_lines([None if p.value is None else (x(i), y(p.value)) for i, p in enumerate(points)]))
    r = 4 if large else 3
    for i, p in enumerate(points):
        if p.value is None:
            continue
        css = "point" + (" point-off" if p.off_target else "") + (" point-to-date" if p.to_date else "")
        hollow = ' fill-opacity="0"' if p.to_date else ""
        cx, cy = x(i), y(p.value)
        if p.off_target:
            marker = (
                f'<rect class="marker" x="{_fmt(cx - r)}" y="{_fmt(cy - r)}" width="{2 * r}" height="{2 * r}"{hollow}/>'
            )
        else:
            marker = f'<circle class="marker" cx="{_fmt(cx)}" cy="{_fmt(cy)}" r="{r}"{hollow}/>'
        title = _point_title(p, fmt, period_name(p.period), words)
        # The value written beside the point, shown by the stylesheet while the point has focus or the pointer (a
        # `<title>` shows on hover only): above it, kept inside the chart at either end.
        anchor = "end" if i == len(points) - 1 and len(points) > 1 else "start" if i == 0 else "middle"
        above = cy - r - 4 if cy - r - 4 > top + 10 else cy + r + 12
        shown = (
            f'<text class="point-label" x="{_fmt(cx)}" y="{_fmt(above)}" text-anchor="{anchor}">'
            f"{escape(fmt(p.value))}</text>"
        )
        parts.append(f'<g class="{css}" tabindex="0"><title>{escape(title)}</title>{marker}{shown}</g>')
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - built from numbers and escaped text only


def share_bar(share: float, *, label: str, width: int = 160, height: int = 12) -> Markup:
    """A value's share of the whole (0 to 1) as a filled part of a track, for the drill-down table."""
    share = min(max(share, 0.0), 1.0)
    return Markup(  # noqa: S704 - built from numbers and escaped text only
        f'<svg class="bar share-bar" viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" '
        f'aria-label="{escape(label)}" xmlns="http://www.w3.org/2000/svg"><title>{escape(label)}</title>'
        f'<rect class="share-track" x="0" y="0" width="{width}" height="{height}" rx="3"/>'
        f'<rect class="share-fill" x="0" y="0" width="{_fmt(share * width)}" height="{height}" rx="3"/></svg>'
    )
