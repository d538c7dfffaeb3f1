"""Cross-cutting pieces every handler uses: powertools logger/metrics/tracer, error responses."""
