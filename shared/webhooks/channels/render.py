"""Rendering a stored event for each notification channel: pure functions from the event (`{type, version,
timestamp, data}`, exactly as sent to webhooks) and channel-only `extra` facts to a Slack body, a Teams body or
an e-mail. All three read one `Content` (shared/webhooks/channels/content.py), so they cannot disagree.

`extra` is `{"owner": {"name": str | None, "team": str | None} | None, "note": str | None, "org_name": str | None}`;
every key may be missing. Event types: the webhook ones (`kpi.*`, `budget.overspend`, `ingest.batch_failed`,
`webhook.test`) and two for channels only, `notification.test` and `notification.digest`; an unknown type still
renders (its name and a link), so a new event cannot break a channel's delivery.
"""

from collections.abc import Mapping
from email.message import EmailMessage
from typing import Any

from shared.webhooks.channels.content import content
from shared.webhooks.channels.mail import mail
from shared.webhooks.channels.slack import slack_body
from shared.webhooks.channels.teams import teams_body


def slack_message(payload: Mapping[str, Any], extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The JSON body for a Slack incoming webhook: `text` (the notification) and Block Kit `blocks`."""
    return slack_body(content(payload, extra))


def teams_card(payload: Mapping[str, Any], extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The JSON body for a Teams Workflows webhook: a message with one Adaptive Card 1.4."""
    return teams_body(content(payload, extra))


def email_message(
    payload: Mapping[str, Any], extra: Mapping[str, Any] | None = None, *, sender: str, recipients: list[str]
) -> EmailMessage:
    """A multipart/alternative e-mail (plain text, then HTML) from `sender` to `recipients` (all in To:, so a team
    sees who else was told); its Message-ID is new on every call."""
    return mail(content(payload, extra), sender=sender, recipients=recipients)
