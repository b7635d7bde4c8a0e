"""A notification as an e-mail: a short plain-text part first, then HTML (multipart/alternative), so any client
shows something readable. The HTML has inline styles only (mail clients drop style sheets), says every status in
words beside its colour, and escapes all user text. Marked as automatic (RFC 3834 `Auto-Submitted`) so
out-of-office replies do not answer it.
"""

import html
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr

from shared.webhooks.channels.model import Content, Fact, Item, ItemList
from shared.webhooks.channels.text import one_line, truncate

SUBJECT_CHARS = 200
_FONT = "font-family:-apple-system,'Segoe UI',Roboto,Helvetica,Arial,sans-serif;color:#1f2328"
_SUBTLE = "color:#59636e;font-size:13px"


def _fact_text(fact: Fact) -> str:
    return f"{fact.title}: {fact.value}"


def _item_text(item: Item) -> str:
    line = f"- {item.label}: {item.detail}"
    return f"{line}\n  {item.url}" if item.url else line


def _list_text(items: ItemList) -> list[str]:
    lines = [items.title, *(_item_text(i) for i in items.items)] if items.items else [items.title, items.empty]
    if items.more:
        lines.append(f"…and {items.more} more on the dashboard")
    return [*lines, ""]


def plain_text(content: Content) -> str:
    """Title, facts one per line, the reason, lists, the link, then context: readable in any client."""
    lines = [content.title, "", *(_fact_text(f) for f in content.facts), ""]
    if content.body:
        lines += [content.body, ""]
    for items in content.lists:
        lines += _list_text(items)
    if content.action:
        lines += [f"{content.action.label}: {content.action.url}", ""]
    lines += list(content.context)
    return "\n".join(lines).rstrip() + "\n"


def _e(text: str) -> str:
    return html.escape(text, quote=True)


def _badge(fact: Fact) -> str:
    if not fact.status:
        return _e(fact.value)
    style = f"background:{fact.status.colour};color:#ffffff;padding:2px 8px;border-radius:10px;font-weight:600"
    return f'<span style="{style}">{_e(fact.value)}</span>'


def _facts_html(facts: tuple[Fact, ...]) -> str:
    rows = "".join(
        f'<tr><th align="left" style="padding:4px 16px 4px 0;{_SUBTLE};font-weight:normal">{_e(f.title)}</th>'
        f'<td style="padding:4px 0">{_badge(f)}</td></tr>'
        for f in facts
    )
    return f'<table role="presentation" cellspacing="0" cellpadding="0" style="margin:12px 0">{rows}</table>'


def _item_html(item: Item) -> str:
    label = f'<a href="{_e(item.url)}">{_e(item.label)}</a>' if item.url else _e(item.label)
    return f'<li style="margin:4px 0">{label}: {_e(item.detail)}</li>'


def _list_html(items: ItemList) -> str:
    head = f'<h3 style="margin:20px 0 6px;font-size:15px">{_e(items.title)}</h3>'
    if not items.items:
        return f'{head}<p style="margin:0;{_SUBTLE}">{_e(items.empty)}</p>'
    more = f'<p style="margin:4px 0;{_SUBTLE}">…and {items.more} more on the dashboard</p>' if items.more else ""
    return f'{head}<ul style="margin:0;padding-left:20px">{"".join(_item_html(i) for i in items.items)}</ul>{more}'


def html_text(content: Content) -> str:
    """The same content as `plain_text`, as a simple HTML page."""
    parts = [f'<h2 style="margin:0 0 4px;font-size:18px">{_e(content.title)}</h2>', _facts_html(content.facts)]
    if content.body:
        parts.append(f'<p style="margin:12px 0;white-space:pre-line">{_e(content.body)}</p>')
    parts += [_list_html(items) for items in content.lists]
    if content.action:
        style = "display:inline-block;background:#0969da;color:#ffffff;padding:8px 14px;border-radius:6px"
        parts.append(
            f'<p style="margin:20px 0"><a href="{_e(content.action.url)}" style="{style};text-decoration:none">'
            f"{_e(content.action.label)}</a></p>"
        )
    parts += [f'<p style="margin:4px 0;{_SUBTLE}">{_e(line)}</p>' for line in content.context]
    body = "\n".join(parts)  # a line per part: readable in the raw message, and no long quoted-printable runs
    return (
        '<!DOCTYPE html>\n<html><head><meta charset="utf-8"></head>\n'
        f'<body style="{_FONT};font-size:14px;line-height:1.45">\n{body}\n</body></html>\n'
    )


def _domain(sender: str) -> str | None:
    """The sender's domain, for a Message-ID that is unique to us (None: the local host name)."""
    return parseaddr(sender)[1].rpartition("@")[2] or None


def mail(content: Content, *, sender: str, recipients: list[str]) -> EmailMessage:
    """Headers (Subject, From, To, Date, Message-ID) and the two alternatives; raises ValueError for an address
    the e-mail package cannot write (a caller's configuration error, not the event's)."""
    if not recipients:
        raise ValueError("an e-mail needs at least one recipient")
    message = EmailMessage()
    message["Subject"] = truncate(one_line(content.subject), SUBJECT_CHARS)
    message["From"] = sender
    message["To"] = ", ".join(recipients)
    message["Date"] = format_datetime(datetime.now(UTC))
    message["Message-ID"] = make_msgid(domain=_domain(sender))
    message["Auto-Submitted"] = "auto-generated"
    message["X-Auto-Response-Suppress"] = "All"  # Outlook's own way of saying the same
    message.set_content(plain_text(content))
    message.add_alternative(html_text(content), subtype="html")
    return message
