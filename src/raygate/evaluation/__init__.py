"""Offline evaluation: per-row scorers now; the Ray Data pipeline and report come next."""
