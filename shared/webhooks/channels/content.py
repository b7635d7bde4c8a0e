"""What a notification says, once, whatever the channel: a title, facts, a reason, context lines, lists (a digest's)
and one link. Slack, Teams and e-mail each only dress this `Content` up, so the three formats cannot disagree about
a KPI's status, its value or where the link goes.

Input is the event exactly as stored and sent to webhooks (`{type, version, timestamp, data}`, see
services/api/webhooks/payloads.py) plus the channel-only `extra` facts: `{"owner": {"name", "team"} | None,
"note": str | None, "org_name": str | None}`. Missing fields render as "no value" rather than failing: a
notification about a slightly odd event is better than none.
"""

from collections.abc import Callable, Mapping
from typing import Any

from shared.webhooks.channels.digest import digest_content
from shared.webhooks.channels.model import (
    CHANNEL_KINDS,
    EVENT_STATUSES,
    FAILED,
    NO_DATA,
    OVERSPENT,
    TEST,
    Content,
    Extra,
    Fact,
    link,
    note_lines,
    owner_text,
    status_of,
    status_word,
    where_when,
)
from shared.webhooks.channels.text import clean, moment, number, one_line, words


def kpi_period(target: Mapping[str, Any]) -> str:
    """The target's period ("2026-11"), or its dates for a custom one."""
    if target.get("period"):
        return one_line(target["period"])
    return f"{one_line(target.get('start_date'))} – {one_line(target.get('end_date'))}"


def _kpi(payload: Mapping[str, Any], extra: Extra | None) -> Content:
    data = payload.get("data") or {}
    kpi, target, evaluation = data.get("kpi") or {}, data.get("target") or {}, data.get("evaluation") or {}
    status = EVENT_STATUSES.get(payload.get("type", "")) or status_of(evaluation.get("status")) or NO_DATA
    name, unit, period = one_line(kpi.get("name")) or "KPI", kpi.get("unit"), kpi_period(target)
    versus = f"{number(evaluation.get('value'), unit)} vs target {number(target.get('target_value'), unit)}"
    facts = [Fact("Status", status.word, status), Fact("Value vs target", versus)]
    if evaluation.get("attainment_pct") is not None:
        facts.append(Fact("Attainment", number(evaluation["attainment_pct"], "percent")))
    if evaluation.get("forecast") is not None:
        facts.append(Fact("Forecast to period end", number(evaluation["forecast"], unit)))
    facts += [Fact("Period", period), Fact("Owner", owner_text(extra))]
    context = note_lines(extra)
    if evaluation.get("provisional"):
        context.append("Provisional: the period reaches days its sources may still restate")
    if evaluation.get("previous_status"):
        context.append(f"Previously: {status_word(evaluation['previous_status'])}")
    return Content(
        title=f"{name} · {status.word}",
        subject=f"[{status.word}] {name}: {versus} ({period})",
        status=status,
        facts=tuple(facts),
        body=clean(evaluation.get("reason")) or None,
        context=(*context, *where_when(payload, extra)),
        action=link("Open KPI", data.get("dashboard_url")),
    )


def _budget(payload: Mapping[str, Any], extra: Extra | None) -> Content:
    data = payload.get("data") or {}
    plan, line, currency = data.get("plan") or {}, data.get("line") or {}, one_line(data.get("currency"))
    where = one_line(line.get("name")) or words(line.get("channel")) or "Budget line"
    plan_name = one_line(plan.get("name")) or "Plan"
    spent = f"{number(data.get('actual'))} vs planned {number(data.get('planned'))} {currency}".rstrip()
    facts = (
        Fact("Status", OVERSPENT.word, OVERSPENT),
        Fact("Spent vs planned", spent),
        Fact("Over by", f"{number(data.get('overspend'))} {currency}".rstrip()),
        Fact("Plan", f"{plan_name} ({one_line(plan['period'])})" if plan.get("period") else plan_name),
        Fact("Line", where),
        Fact("Alert threshold", f"{one_line(data.get('threshold_pct'))} % of planned"),
        Fact("Owner", owner_text(extra)),
    )
    return Content(
        title=f"Budget overspend · {plan_name} · {where}",
        subject=f"[{OVERSPENT.word}] {plan_name} · {where}: {spent}",
        status=OVERSPENT,
        facts=facts,
        context=(*note_lines(extra), *where_when(payload, extra)),
        action=link("Open budget", data.get("dashboard_url")),
    )


def _ingest(payload: Mapping[str, Any], extra: Extra | None) -> Content:
    batch = (payload.get("data") or {}).get("batch") or {}
    source = one_line(batch.get("source")) or "unknown source"
    facts = (
        Fact("Status", FAILED.word, FAILED),
        Fact("Source", source),
        Fact("Points", one_line(batch.get("points"))),
        Fact("Error code", one_line(batch.get("error_code"))),
        Fact("Received", moment(batch.get("received_at"))),
        Fact("Batch", one_line(batch.get("id"))),
    )
    return Content(
        title=f"Ingest batch failed · {source}",
        subject=f"[{FAILED.word}] A batch from {source} failed: {one_line(batch.get('error_code'))}",
        status=FAILED,
        facts=facts,
        body=clean(batch.get("error")) or None,
        context=(*note_lines(extra), *where_when(payload, extra)),
    )


def _webhook_test(payload: Mapping[str, Any], extra: Extra | None) -> Content:
    data = payload.get("data") or {}
    return Content(
        title="Test notification",
        subject=f"[{TEST.word}] Test event for webhook endpoint {one_line(data.get('endpoint_id'))}",
        status=TEST,
        facts=(Fact("Status", TEST.word, TEST), Fact("Endpoint", one_line(data.get("endpoint_id")))),
        body=clean(data.get("message")) or None,
        context=(*note_lines(extra), *where_when(payload, extra)),
        action=link("Open dashboard", data.get("dashboard_url")),
    )


def _channel_test(payload: Mapping[str, Any], extra: Extra | None) -> Content:
    data = payload.get("data") or {}
    channel = data.get("channel") or {}
    name = one_line(channel.get("name")) or "this channel"
    kind = CHANNEL_KINDS.get(channel.get("kind", ""), words(channel.get("kind")))
    return Content(
        title=f"Test notification · {name}",
        subject=f"[{TEST.word}] Test message for {name} ({kind})",
        status=TEST,
        facts=(Fact("Status", TEST.word, TEST), Fact("Channel", name), Fact("Kind", kind)),
        body=clean(data.get("message")) or None,
        context=(*note_lines(extra), *where_when(payload, extra)),
        action=link("Open dashboard", data.get("dashboard_url")),
    )


def _other(payload: Mapping[str, Any], extra: Extra | None) -> Content:
    """An event type this module does not know yet: its name and a link, rather than nothing."""
    data = payload.get("data") or {}
    kind = one_line(payload.get("type")) or "event"
    return Content(
        title=f"Event {kind}",
        subject=f"Event {kind}",
        status=None,
        facts=(Fact("Event", kind),),
        context=(*note_lines(extra), *where_when(payload, extra)),
        action=link("Open dashboard", data.get("dashboard_url")) if isinstance(data, Mapping) else None,
    )


_KPI_TYPES = ("kpi.at_risk", "kpi.off_track", "kpi.recovered", "kpi.no_data")
_BUILDERS: dict[str, Callable[[Mapping[str, Any], Extra | None], Content]] = {
    **dict.fromkeys(_KPI_TYPES, _kpi),
    "budget.overspend": _budget,
    "ingest.batch_failed": _ingest,
    "webhook.test": _webhook_test,
    "notification.test": _channel_test,
    "notification.digest": digest_content,
}


def content(payload: Mapping[str, Any], extra: Extra | None = None) -> Content:
    """What to say about this event, for every channel: the one place facts, words and links are decided."""
    builder = _BUILDERS.get(str(payload.get("type")), _other)
    return builder(payload, extra)


def facts(payload: Mapping[str, Any], extra: Extra | None = None) -> tuple[Fact, ...]:
    """The facts every format shows (status, value vs target, period, owner…): Slack's fields, the card's FactSet
    and the e-mail's table are each made from exactly these."""
    return content(payload, extra).facts
