"""CDK constructs, one per concern: data, bus, functions, api, aggregation, scoring, campaigns, exports,
observability. ``infra.stack`` wires them together."""
