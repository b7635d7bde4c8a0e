"""A notification channel's message for one event, and its sending: the channel-side step 2 of a delivery attempt.

The message is rendered when the attempt is claimed (`shared.webhooks.delivery`), from the stored event: every
attempt of a delivery renders the same event, so retries and replays send the same message. Slack and Teams get a
JSON POST to their incoming-webhook URL through the same SSRF guard and HTTP sender as webhooks (no signature: those
URLs are the credential); e-mail goes over SMTP.
"""

import json
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import parseaddr

from shared.settings import Settings
from shared.webhooks.channels.models import ChannelKind, NotificationChannel
from shared.webhooks.channels.render import email_message, slack_message, teams_card
from shared.webhooks.channels.smtp import SmtpSettings, send_email
from shared.webhooks.models import WebhookEvent
from shared.webhooks.sender import Attempt, post_safely

JSON_HEADERS = {"content-type": "application/json; charset=utf-8"}


@dataclass(frozen=True)
class Outbound:
    """What one attempt sends: a JSON body to a URL (Slack, Teams), or an e-mail to an SMTP server."""

    kind: ChannelKind
    url: str | None = None
    body: bytes = b""
    smtp: SmtpSettings | None = None
    message: EmailMessage | None = None
    error: str | None = None  # the message could not be built: the attempt fails without sending (and is logged)


def smtp_settings(channel: NotificationChannel) -> SmtpSettings:
    config = channel.config
    return SmtpSettings(
        host=config["host"],
        port=int(config["port"]),
        security=config["security"],
        username=config.get("username"),
        password=channel.secret,
        sender=parseaddr(config["sender"])[1],  # the envelope sender: the address alone
    )


def outbound(channel: NotificationChannel, event: WebhookEvent) -> Outbound:
    """The message for this channel; one that cannot be built (settings the e-mail package refuses) is an attempt
    that fails and is logged, retried on the schedule like any other, never a job that crashes unlogged."""
    try:
        return _outbound(channel, event)
    except (ValueError, TypeError, KeyError) as exc:
        return Outbound(channel.kind, error=f"the message could not be built: {type(exc).__name__}: {exc}"[:500])


def _outbound(channel: NotificationChannel, event: WebhookEvent) -> Outbound:
    extra = dict(event.extra or {})
    if channel.kind == ChannelKind.email:
        smtp = smtp_settings(channel)
        message = email_message(
            event.payload, extra, sender=channel.config["sender"], recipients=channel.config["recipients"]
        )
        # One Message-ID per event: a retry after an answer that never came is the same message to a mail client.
        del message["Message-ID"]
        message["Message-ID"] = f"<{event.id}.{channel.id}@{smtp.sender.rpartition('@')[2] or 'kpi.invalid'}>"
        return Outbound(ChannelKind.email, smtp=smtp, message=message)
    render = slack_message if channel.kind == ChannelKind.slack else teams_card
    body = json.dumps(render(event.payload, extra), separators=(",", ":"), ensure_ascii=False).encode()
    return Outbound(channel.kind, url=channel.secret, body=body)


async def send_outbound(out: Outbound, settings: Settings) -> tuple[Attempt, bool]:
    """Send it; True when nothing was sent: the SSRF guard refused the address, or the message could not be built."""
    if out.error is not None:
        return Attempt(None, 0, None, out.error, None, "retry"), True
    if out.kind == ChannelKind.email:
        assert out.smtp is not None and out.message is not None
        sent = await send_email(
            out.smtp, out.message, timeout_s=settings.webhook_timeout_s, allowed_cidrs=settings.webhook_allowed_cidrs
        )
        return sent, sent.refused
    assert out.url is not None
    return await post_safely(out.url, JSON_HEADERS, out.body, settings)
