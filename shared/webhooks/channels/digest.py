"""A digest's content: how the organisation stands (counts per status), what changed, the KPIs furthest from their
targets and how budgets pace, over the local days covered (`from`…`to`, the organisation's own dates).

Each list keeps its first LIST_LIMIT items (the sender orders them: most recent changes, worst attainment first)
and says how many more the dashboard shows, so a busy week cannot outgrow a Slack message or a Teams card.
"""

from collections.abc import Callable, Mapping
from typing import Any

from shared.webhooks.channels.model import (
    AT_RISK,
    NO_DATA,
    OFF_TRACK,
    ON_TRACK,
    Content,
    Extra,
    Fact,
    Item,
    ItemList,
    link,
    note_lines,
    status_of,
    status_word,
)
from shared.webhooks.channels.text import day_range, moment, number, one_line, safe_url, share, words

LIST_LIMIT = 10


def _versus(value: str | None, target_value: str | None, unit: str | None) -> str:
    return f"{number(value, unit)} vs target {number(target_value, unit)}"


def _change(entry: Mapping[str, Any], time_zone: str | None) -> Item:
    kpi = entry.get("kpi") or {}
    detail = " · ".join(
        (
            f"{status_word(entry.get('from'))} → {status_word(entry.get('to'))}",
            _versus(entry.get("value"), entry.get("target_value"), kpi.get("unit")),
            moment(entry.get("at"), time_zone),
        )
    )
    return Item(one_line(kpi.get("name")) or "KPI", safe_url(entry.get("url")), detail, status_of(entry.get("to")))


def _attainment(entry: Mapping[str, Any]) -> Item:
    kpi = entry.get("kpi") or {}
    parts = [
        f"{number(entry['attainment_pct'], 'percent')} of target" if entry.get("attainment_pct") else "no attainment",
        _versus(entry.get("value"), entry.get("target_value"), kpi.get("unit")),
    ]
    if entry.get("period"):
        parts.append(one_line(entry["period"]))
    parts.append(status_word(entry.get("status")))
    return Item(
        one_line(kpi.get("name")) or "KPI",
        safe_url(entry.get("url")),
        " · ".join(parts),
        status_of(entry.get("status")),
    )


def _pace(pacing: object) -> str | None:
    """Pacing as words: -0.0523 → "5 points behind the calendar" (above 0 spends ahead of time)."""
    if pacing is None:
        return None
    text = one_line(pacing)
    points = (share(text.lstrip("+-")) or "").removesuffix(" %")
    if points == "0":
        return "on pace"
    return f"{points} points {'behind' if text.startswith('-') else 'ahead of'} the calendar"


def _budget(entry: Mapping[str, Any]) -> Item:
    plan, currency = entry.get("plan") or {}, one_line(entry.get("currency"))
    label = one_line(plan.get("name")) or "Plan"
    if plan.get("period"):
        label += f" ({one_line(plan['period'])})"
    parts = [f"{number(entry.get('actual'))} of {number(entry.get('planned'))} {currency} spent"]
    spent, elapsed = share(entry.get("spent_share")), share(entry.get("elapsed_share"))
    if spent and elapsed:
        parts.append(f"{spent} spent, {elapsed} of the period elapsed")
    if pace := _pace(entry.get("pacing")):
        parts.append(pace)
    parts.append(status_word(entry.get("status")))
    return Item(label, safe_url(entry.get("url")), " · ".join(parts), status_of(entry.get("status")))


def _list(
    title: str, entries: object, empty: str, item: Callable[[Mapping[str, Any]], Item], total: object = None
) -> ItemList:
    """At most LIST_LIMIT items, and how many more there are: of the list, or of `total` when the data was
    already cut short (the digest data lists 10 status changes and gives their total)."""
    rows = list(entries) if isinstance(entries, list) else []
    whole = total if isinstance(total, int) and total >= len(rows) else len(rows)
    return ItemList(title, tuple(item(e) for e in rows[:LIST_LIMIT]), empty, max(whole - min(len(rows), LIST_LIMIT), 0))


def _counts(counts: Mapping[str, Any]) -> tuple[Fact, ...]:
    return tuple(
        Fact(status.word, one_line(counts.get(key, 0)), status)
        for key, status in (
            ("off_track", OFF_TRACK),
            ("at_risk", AT_RISK),
            ("on_track", ON_TRACK),
            ("no_data", NO_DATA),
        )
    )


def digest_content(payload: Mapping[str, Any], extra: Extra | None) -> Content:
    """Counts as facts, then three lists; the org and its time zone as context (times are shown in it)."""
    data = payload.get("data") or {}
    org = data.get("org") or {}
    zone = org.get("time_zone")
    covered = day_range(data.get("from"), data.get("to"))
    name = f"{words(data.get('frequency') or 'periodic')} KPI digest"
    lists = (
        _list(
            "Status changes",
            data.get("status_changes"),
            "No status changes",
            lambda e: _change(e, zone),
            data.get("status_changes_total"),
        ),
        _list("Worst attainment", data.get("worst_attainment"), "No KPI targets to rank", _attainment),
        _list("Budget pacing", data.get("budget_pacing"), "No budgets to pace", _budget),
    )
    org_name = one_line(org.get("name") or (extra or {}).get("org_name"))
    org_line = " · ".join(p for p in (org_name, f"times in {zone}" if zone else "") if p)
    return Content(
        title=f"{name} · {covered}",
        subject=f"{name}: {covered}",
        status=None,
        facts=_counts(data.get("counts") or {}),
        context=(*note_lines(extra), *([org_line] if org_line else [])),
        lists=lists,
        action=link("Open dashboard", data.get("dashboard_url")),
    )
