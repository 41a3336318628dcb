"""Offline evaluation: Ray Data pipeline, row scorers, aggregate metrics, report, LLM engines."""
