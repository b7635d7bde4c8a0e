"""Notifications to where people read (Slack, Microsoft Teams, e-mail): rendering an event for each channel, and
sending e-mail over SMTP. Routing, silences, digests' scheduling and delivery live beside this."""
