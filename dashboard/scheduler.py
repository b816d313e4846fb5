"""The in-process scheduler (filled in by the scheduler issue)."""


def start_scheduler_if_serving(app):
    """Start the background sync scheduler when this process serves the app."""
    return None
