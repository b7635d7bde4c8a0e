"""Notification channels, routing and silences."""
