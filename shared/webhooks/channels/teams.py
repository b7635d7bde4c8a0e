"""A notification as the body a Microsoft Teams Workflows webhook ("Post to a channel when a webhook request is
received") expects: a `message` carrying one Adaptive Card 1.4 attachment.

Teams renders a subset of Markdown in TextBlocks and FactSet values, so user text has that subset's characters
backslash-escaped: a KPI named `*CPA*` shows its stars rather than bold. Links are Markdown links in list items and
an Action.OpenUrl button for the main one.
"""

from typing import Any

from shared.webhooks.channels.model import Content, Fact, Item, ItemList
from shared.webhooks.channels.text import truncate

CARD_VERSION = "1.4"
CARD_SCHEMA = "http://adaptivecards.io/schemas/adaptive-card.json"
CARD_CONTENT_TYPE = "application/vnd.microsoft.card.adaptive"
TEXT_CHARS = 3000  # no documented limit per TextBlock; the whole card must stay under Teams' 28 KB
# Adaptive Cards' Markdown subset: **bold**, _italic_, [links](…) and lists; headings, quotes and code are not
# rendered, so only these need escaping.
_MARKDOWN = "\\*_[]"


def escape(text: str) -> str:
    """Markdown's active characters escaped, so user text shows as typed."""
    return "".join(f"\\{ch}" if ch in _MARKDOWN else ch for ch in text)


def _md_url(url: str) -> str:
    return url.replace(" ", "%20").replace("(", "%28").replace(")", "%29")


def _text(text: str, **style: Any) -> dict[str, Any]:
    return {"type": "TextBlock", "text": text, "wrap": True, **style}


def _fact(fact: Fact) -> dict[str, str]:
    value = f"{fact.status.emoji} {fact.value}" if fact.status else fact.value
    return {"title": escape(fact.title), "value": escape(truncate(value, TEXT_CHARS))}


def _item(item: Item) -> dict[str, Any]:
    label = escape(truncate(item.label, 100))
    linked = f"[{label}]({_md_url(item.url)})" if item.url else label
    mark = f"{item.status.emoji} " if item.status else "• "
    return _text(f"{mark}{linked} · {escape(truncate(item.detail, 300))}", spacing="Small")


def _list(items: ItemList) -> list[dict[str, Any]]:
    """The list's title, its items (or that there are none), and how many more the dashboard shows."""
    blocks = [_text(escape(items.title), weight="Bolder", spacing="Medium", separator=True)]
    if not items.items:
        return [*blocks, _text(escape(items.empty), isSubtle=True, spacing="Small")]
    blocks += [_item(i) for i in items.items]
    if items.more:
        blocks.append(_text(f"…and {items.more} more on the dashboard", isSubtle=True, spacing="Small"))
    return blocks


def card_body(content: Content) -> list[dict[str, Any]]:
    """Title, facts, reason, lists, context: the same order as in Slack and e-mail."""
    colour = {"color": content.status.teams_colour} if content.status else {}
    body = [_text(escape(truncate(content.title, 300)), weight="Bolder", size="Medium", **colour)]
    if content.facts:
        body.append({"type": "FactSet", "facts": [_fact(f) for f in content.facts]})
    if content.body:
        body.append(_text(escape(truncate(content.body, TEXT_CHARS))))
    for items in content.lists:
        body += _list(items)
    body += [
        _text(escape(truncate(line, 500)), isSubtle=True, size="Small", spacing="Small") for line in content.context
    ]
    return body


def teams_body(content: Content) -> dict[str, Any]:
    """The Workflows webhook's JSON body: a message with the card as its only attachment."""
    card: dict[str, Any] = {
        "$schema": CARD_SCHEMA,
        "type": "AdaptiveCard",
        "version": CARD_VERSION,
        "body": card_body(content),
        "actions": [],
        "msteams": {"width": "Full"},
    }
    if content.action:
        card["actions"].append({"type": "Action.OpenUrl", "title": content.action.label, "url": content.action.url})
    return {
        "type": "message",
        "attachments": [{"contentType": CARD_CONTENT_TYPE, "contentUrl": None, "content": card}],
    }
