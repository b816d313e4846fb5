"""The SmartMoving operator dashboard. The app factory lives in dashboard/app.py (see the README's Code map).

This file stays nearly empty: Python runs it before any dashboard module, so whatever
it imported would load with every domain module too.
"""


def create_app(test_config=None):
    """Build the app (`flask --app dashboard`, wsgi.py and the tests call it here)."""
    from dashboard import app  # here, not above: importing a domain module must not build the web layer
    return app.create_app(test_config)


def check_settings():
    """Check the settings as create_app would, building nothing else (gunicorn's master, before any worker)."""
    from dashboard import app  # as in create_app
    return app.check_settings()
