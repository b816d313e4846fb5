"""Readiness gains the upstream-change blocker: a day's dispatched jobs with unacknowledged SmartMoving changes.

Registered with readiness.blockers on import (the changes views import this module).
"""
from dashboard.changes.service import readiness_blockers
from dashboard.readiness import blockers


def upstream_changes(view):
    """upstream-change blockers of a readiness DayView (one query for the day's jobs)."""
    return readiness_blockers(view.company_id, view.day, view.jobs)


blockers.register(upstream_changes, kinds=["upstream-change"])
