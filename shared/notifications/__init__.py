"""Notifications: channels (Slack, Teams, e-mail), routing, silences, quiet hours and digests."""
