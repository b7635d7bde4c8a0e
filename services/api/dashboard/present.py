"""What the templates call to show things in the reader's language: names of views, periods, states and
dimensions, the trend charts, drill-down bars and filter links. Registered as Jinja globals by the router."""

from decimal import Decimal
from urllib.parse import urlencode

from jinja2 import Environment
from markupsafe import Markup

from services.api.dashboard import formatting, ranges, views
from services.api.dashboard.charts import TrendWords, share_bar, trend_chart
from services.api.dashboard.drill import Breakdown, Slice
from services.api.dashboard.i18n import gettext as _
from services.api.dashboard.views import N_, Card
from services.api.reports.scorecard import Row
from shared.periods import calendar_period_of

ALERT_STATES = {"open": N_("Open"), "acknowledged": N_("Acknowledged"), "resolved": N_("Resolved")}
SMART_WORDS = {
    "specific": N_("specific"),
    "measurable": N_("measurable"),
    "achievable": N_("achievable"),
    "relevant": N_("relevant"),
    "time_bound": N_("time-bound"),
    "pass": N_("pass"),
    "warn": N_("warn"),
    "fail": N_("fail"),
}
ROLE_NAMES = {"admin": N_("admin"), "editor": N_("editor"), "viewer": N_("viewer")}
FREQUENCY_NAMES = {
    "daily": N_("daily"),
    "weekly": N_("weekly"),
    "monthly": N_("monthly"),
    "quarterly": N_("quarterly"),
}
PACING_NAMES = {
    "linear": N_("linear: expected to grow evenly over the period"),
    "none": N_("none: the same level all period"),
}
DIMENSION_NAMES = {"channel": N_("channel"), "campaign": N_("campaign"), "country": N_("country")}


def view_name(view: ranges.View) -> str:
    """The view's heading: its preset ("This month"), its period ("November 2026") or its days."""
    if view.preset is not None:
        return views.words(views.PRESET_NAMES, view.preset)
    if view.period is not None:
        return formatting.period_name(view.period)
    return formatting.days(view.start, view.end)


def target_period(row: Row | None) -> str:
    """A target's period in words ("November 2026"), or its dates."""
    if row is None:
        return ""
    period = calendar_period_of(row.target_start, row.target_end)
    return formatting.period_name(period) if period is not None else formatting.days(row.target_start, row.target_end)


def dimension_name(dimension: str) -> str:
    return views.words(DIMENSION_NAMES, dimension).replace("_", " ")


def trend(card: Card, large: bool = False) -> Markup:
    """The card's trend over the last twelve periods, with its target band; larger on the KPI page."""
    points = card.trend
    if not points:
        return Markup("")
    label = _("%(name)s over the last %(n)s periods, with its target") % {"name": card.kpi.name, "n": len(points)}
    return trend_chart(
        points,
        label=label,
        fmt=lambda v: formatting.value(v, card.unit, card.currency),
        tick_fmt=lambda v: formatting.short(v, card.unit, card.currency),
        period_name=lambda p: formatting.period_name(p, short=True),
        words=TrendWords(
            target=_("target"),
            to_date=_("to date"),
            no_data=_("no data"),
            no_target=_("no target"),
            off_target=_("off target"),
            from_to=_("{first} to {last}"),
        ),
        width=720 if large else 260,
        height=220 if large else 110,
        large=large,
        id_prefix=f"t{card.kpi.id.hex[:12]}{'L' if large else ''}",
    )


def drill_top(breakdown: Breakdown) -> Decimal:
    """What a slice's bar is measured against: the largest absolute value among the slices (for ratios)."""
    values = [abs(s.kpi_value) for s in breakdown.slices if s.kpi_value is not None]
    return max(values, default=Decimal(0))


def drill_bar(piece: Slice, top: Decimal, dimension: str) -> Markup:
    """A slice's bar: its share of the total for additive KPIs, its size against the largest slice for ratios."""
    if piece.share is not None:
        fraction = float(piece.share)
        label = _("%(slice)s: %(share)s of the total") % {
            "slice": piece.value,
            "share": formatting.percent(piece.share * 100),
        }
    else:
        fraction = float(abs(piece.kpi_value) / top) if piece.kpi_value is not None and top else 0.0
        label = _("%(slice)s compared with the largest %(dimension)s") % {
            "slice": piece.value,
            "dimension": dimension_name(dimension),
        }
    return share_bar(max(0.0, min(1.0, fraction)), label=label)


def filter_query(filters: dict[str, str], add: tuple[str, str] | None = None, remove: str | None = None) -> str:
    """The `filter=` part of a KPI page's URL, with one filter added or removed."""
    wanted = {k: v for k, v in filters.items() if k != remove}
    if add is not None:
        wanted[add[0]] = add[1]
    return urlencode([("filter", f"{k}:{v}") for k, v in wanted.items()])


def code(text: str) -> Markup:
    """An API call or other code inside a translated sentence (a placeholder's value, escaped)."""
    return Markup("<code>{}</code>").format(text)


def install(env: Environment) -> None:
    env.globals.update(
        code=code,
        fmt=formatting,
        look=views.look,
        severity_look=views.severity_look,
        words=views.words,
        view_name=view_name,
        target_period=target_period,
        dimension_name=dimension_name,
        alert_state=lambda state: views.words(ALERT_STATES, state),
        smart_word=lambda word: views.words(SMART_WORDS, word),
        role_name=lambda role: views.words(ROLE_NAMES, role),
        frequency_name=lambda f: views.words(FREQUENCY_NAMES, f),
        pacing_name=lambda p: views.words(PACING_NAMES, p),
        trend=trend,
        drill_top=drill_top,
        drill_bar=drill_bar,
        filter_query=filter_query,
        presets=ranges.PRESETS,
        compares=ranges.COMPARISONS,
        preset_names=views.PRESET_NAMES,
        compare_names=views.COMPARE_NAMES,
        category_headings=views.CATEGORY_HEADINGS,
        category_names=views.CATEGORY_NAMES,
        direction_names=views.DIRECTION_NAMES,
    )
