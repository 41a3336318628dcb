"""Telemetry shared by every stage: PII detection and redaction (tracing and metrics follow)."""
