"""A notification as a Slack incoming-webhook body: `text` (the push notification and the fallback) and Block Kit
`blocks` (header, facts as section fields, the reason, lists, context, a link button).

User text (KPI names, reasons, notes) is escaped as Slack asks (`&` `<` `>` as entities) so a name cannot open a
link or mention `<!channel>`. Block Kit's limits hold whatever the input (Slack refuses the whole message
otherwise): long text ends in "…", lists stop before their section's limit and say how many more there are.
"""

from typing import Any

from shared.webhooks.channels.model import Content, Fact, Item, ItemList
from shared.webhooks.channels.text import ELLIPSIS, one_line, truncate

HEADER_CHARS = 150
SECTION_CHARS = 3000
FIELD_CHARS = 2000
MAX_FIELDS = 10
CONTEXT_ELEMENTS = 10
CONTEXT_CHARS = 2000  # per element
BUTTON_CHARS = 75
URL_CHARS = 3000
TEXT_CHARS = 3000  # the top-level text may be longer; a notification need not be
MAX_BLOCKS = 50
# One list line: a long name, detail or link cannot crowd out the rest (escaping at most 5× longer).
LABEL_CHARS = 100
DETAIL_CHARS = 200
LINK_URL_CHARS = 500
_TAIL_CHARS = 60


def escape(text: str) -> str:
    """Slack's three control characters as entities, `&` first (so the others' entities survive)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def mrkdwn_truncate(text: str, limit: int) -> str:
    """Escaped text cut to `limit` characters without splitting an entity such as `&amp;`."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    amp = cut.rfind("&")
    if amp != -1 and ";" not in cut[amp:]:
        cut = cut[:amp]
    return cut.rstrip() + ELLIPSIS


def _link(label: str, url: str | None) -> str:
    """`<url|label>`, or the label alone when the URL is missing or too long to link."""
    shown = escape(label).replace("|", "¦")  # the first "|" ends the URL; one in the label would be lost
    if not url or len(url) > LINK_URL_CHARS:
        return shown
    safe = url.replace("&", "&amp;").replace("<", "%3C").replace(">", "%3E").replace("|", "%7C")
    return f"<{safe}|{shown}>"


def _field(fact: Fact) -> dict[str, str]:
    value = f"{fact.status.shortcode} {fact.value}" if fact.status else fact.value
    return {"type": "mrkdwn", "text": mrkdwn_truncate(f"*{escape(fact.title)}*\n{escape(value)}", FIELD_CHARS)}


def _line(item: Item) -> str:
    """One list line, at most about 1,600 characters: the label and detail are cut before they are escaped, so a
    cut never splits an entity or a link."""
    mark = f"{item.status.shortcode} " if item.status else "• "
    return f"{mark}{_link(truncate(item.label, LABEL_CHARS), item.url)} · {escape(truncate(item.detail, DETAIL_CHARS))}"


def _list_text(items: ItemList) -> str:
    """The list's title and as many lines as fit its section, then how many more the dashboard shows."""
    head = f"*{escape(items.title)}*"
    if not items.items:
        return f"{head}\n_{escape(items.empty)}_"
    budget, shown = SECTION_CHARS - _TAIL_CHARS - len(head), []
    for item in items.items:
        line = _line(item)
        if len(line) + 1 > budget:
            break
        shown.append(line)
        budget -= len(line) + 1
    hidden = len(items.items) - len(shown) + items.more
    tail = [f"_…and {hidden} more on the dashboard_"] if hidden else []
    return "\n".join([head, *shown, *tail])


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": mrkdwn_truncate(text, SECTION_CHARS)}}


def blocks(content: Content) -> list[dict[str, Any]]:
    """Header, facts, reason, lists (after a divider), context, then the button; never more than 50 blocks."""
    result: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": truncate(content.title, HEADER_CHARS), "emoji": True}}
    ]
    if content.facts:
        result.append({"type": "section", "fields": [_field(f) for f in content.facts[:MAX_FIELDS]]})
    if content.body:
        result.append(_section(escape(content.body)))
    if content.lists:
        result.append({"type": "divider"})
        result += [_section(_list_text(items)) for items in content.lists]
    if content.context:
        elements = [
            {"type": "mrkdwn", "text": mrkdwn_truncate(escape(line), CONTEXT_CHARS)}
            for line in content.context[:CONTEXT_ELEMENTS]
        ]
        result.append({"type": "context", "elements": elements})
    if content.action and len(content.action.url) <= URL_CHARS:
        button = {
            "type": "button",
            "text": {"type": "plain_text", "text": truncate(content.action.label, BUTTON_CHARS)},
            "url": content.action.url,
            "action_id": "open",
        }
        result.append({"type": "actions", "elements": [button]})
    return result[:MAX_BLOCKS]


def slack_body(content: Content) -> dict[str, Any]:
    """The incoming webhook's JSON body."""
    text = one_line(content.subject)
    if content.status:
        text = f"{content.status.shortcode} {text}"
    return {"text": mrkdwn_truncate(escape(text), TEXT_CHARS), "blocks": blocks(content)}
