"""Tracking domain: inbound payloads (Segment spec, HTML forms), identity, consent, engagement."""
