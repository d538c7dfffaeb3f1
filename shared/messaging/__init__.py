"""Outbound messages: templates and their rendering (pure)."""
