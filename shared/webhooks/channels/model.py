"""The words every channel uses: the one table of statuses (word, emoji, Slack shortcode, colours) and the neutral
shape of a notification (`Content`) that Slack, Teams and e-mail each only dress up."""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from shared.webhooks.channels.text import clean, moment, one_line, safe_url, words


@dataclass(frozen=True)
class Status:
    """How one status looks everywhere: a word (never colour alone), an emoji, Slack's shortcode, colours."""

    word: str
    emoji: str
    shortcode: str
    colour: str  # for the e-mail's badge
    teams_colour: str  # an Adaptive Card TextBlock colour


OFF_TRACK = Status("Off track", "🔴", ":red_circle:", "#cf222e", "Attention")
AT_RISK = Status("At risk", "🟠", ":large_orange_circle:", "#bc4c00", "Warning")
ON_TRACK = Status("On track", "🟢", ":large_green_circle:", "#1a7f37", "Good")
RECOVERED = Status("Back on track", "🟢", ":large_green_circle:", "#1a7f37", "Good")
NO_DATA = Status("No data", "⚪", ":white_circle:", "#6e7781", "Default")
OVERSPENT = Status("Overspent", "🔴", ":red_circle:", "#cf222e", "Attention")
FAILED = Status("Failed", "❌", ":x:", "#cf222e", "Attention")
TEST = Status("Test", "🔔", ":bell:", "#0969da", "Accent")

# Statuses as KPIs and budgets report them (evaluations, digests) and as event types announce them.
STATUSES: dict[str, Status] = {"off_track": OFF_TRACK, "at_risk": AT_RISK, "on_track": ON_TRACK, "no_data": NO_DATA}
EVENT_STATUSES: dict[str, Status] = {
    "kpi.off_track": OFF_TRACK,
    "kpi.at_risk": AT_RISK,
    "kpi.recovered": RECOVERED,
    "kpi.no_data": NO_DATA,
    "budget.overspend": OVERSPENT,
    "ingest.batch_failed": FAILED,
    "webhook.test": TEST,
    "notification.test": TEST,
}
CHANNEL_KINDS = {"slack": "Slack", "teams": "Microsoft Teams", "email": "E-mail"}


@dataclass(frozen=True)
class Fact:
    """A labelled value; with a status, every format shows its emoji (or badge) before the value, and the word."""

    title: str
    value: str
    status: Status | None = None


@dataclass(frozen=True)
class Link:
    label: str
    url: str  # http(s) only (text.safe_url)


@dataclass(frozen=True)
class Item:
    """One line of a digest's list: a linked name and what happened to it."""

    label: str
    url: str | None
    detail: str
    status: Status | None = None


@dataclass(frozen=True)
class ItemList:
    title: str
    items: tuple[Item, ...]
    empty: str  # said instead of an empty list
    more: int = 0  # items left off (see the dashboard)


@dataclass(frozen=True)
class Content:
    title: str  # one line: Slack's header, the card's title, the e-mail's heading
    subject: str  # one line: the e-mail subject and the chat notification's text
    status: Status | None
    facts: tuple[Fact, ...]
    body: str | None = None  # the reason, the error or the test message (may hold newlines)
    context: tuple[str, ...] = ()
    lists: tuple[ItemList, ...] = ()
    action: Link | None = None


Extra = Mapping[str, Any]


def owner_text(extra: Extra | None) -> str:
    """The owner as people say it: name · team, either alone, or "No owner"."""
    owner = (extra or {}).get("owner") or {}
    parts = [one_line(owner.get(k)) for k in ("name", "team") if owner.get(k)]
    return " · ".join(parts) if parts else "No owner"


def status_of(key: str | None) -> Status | None:
    return STATUSES.get(key or "")


def status_word(key: str | None) -> str:
    """The word for a KPI or budget status; unknown keys as words, None as "No status"."""
    if key is None:
        return "No status"
    status = status_of(key)
    return status.word if status else words(key)


def link(label: str, url: object) -> Link | None:
    """A link only to an http(s) page; otherwise none (the message still says everything else)."""
    checked = safe_url(url)
    return Link(label, checked) if checked else None


def note_lines(extra: Extra | None) -> list[str]:
    """The channel-only note (e.g. why this arrives now: a silence ended), first of the context."""
    return [clean(extra["note"])] if extra and extra.get("note") else []


def where_when(payload: Mapping[str, Any], extra: Extra | None) -> list[str]:
    """Whose organisation and when the event happened: "Acme · 20 Nov 2026 05:00 UTC"."""
    org = one_line((extra or {}).get("org_name"))
    when = moment(payload["timestamp"]) if payload.get("timestamp") else ""
    shown = " · ".join(p for p in (org, when) if p)
    return [shown] if shown else []
