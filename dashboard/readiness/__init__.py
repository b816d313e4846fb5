"""Readiness: what still blocks a day (issue 17 §4)."""
