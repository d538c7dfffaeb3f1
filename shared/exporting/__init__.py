"""Segment exports as pure logic: the filter language and the CSV rows (no I/O)."""
