"""The route matrix (every route, its method and permission), a sync service that never syncs, and one that
records a finished run at once."""
from types import SimpleNamespace

from dashboard.models import utcnow
from dashboard.permissions import ROLE_PERMISSIONS
from dashboard.permissions import Perm
from dashboard.permissions import Role

ROUTES = [
    ("GET", "/", "login", "jobs.today"),
    ("GET", "/board/tomorrow", Perm.VIEW_JOBS, "jobs.tomorrow"),
    ("GET", "/board?date={today}", Perm.VIEW_JOBS, "jobs.board"),
    ("GET", "/board/print?date={today}", Perm.VIEW_JOBS, "jobs.print_sheet"),
    ("GET", "/board/export.csv?date={today}", Perm.VIEW_JOBS, "jobs.export_csv"),
    ("GET", "/my-jobs", Perm.VIEW_OWN_JOBS, "jobs.my_jobs"),
    ("GET", "/jobs/{job_a}", Perm.VIEW_OWN_JOBS, "jobs.detail"),
    ("GET", "/jobs/new", Perm.EDIT_JOBS, "jobs.new_job"),
    ("POST", "/jobs/new", Perm.EDIT_JOBS, "jobs.new_job"),
    ("GET", "/jobs/{job_a}/edit", Perm.EDIT_JOBS, "jobs.edit"),
    ("POST", "/jobs/{job_a}/edit", Perm.EDIT_JOBS, "jobs.edit"),
    ("GET", "/jobs/{job_a}/assign", Perm.EDIT_JOBS, "jobs.assign"),
    ("POST", "/jobs/{job_a}/assign", Perm.EDIT_JOBS, "jobs.assign"),
    ("GET", "/jobs/{job_a}/assign/preview?truck_id={truck_id}&crew=Ann", Perm.EDIT_JOBS, "jobs.assign_preview"),
    ("POST", "/board/accept-crew", Perm.EDIT_JOBS, "jobs.accept_crew"),
    ("GET", "/jobs/{manual_job}/details", Perm.EDIT_JOBS, "jobs.edit_manual"),
    ("GET", "/jobs/{manual_job}/delete", Perm.EDIT_JOBS, "jobs.delete_manual"),
    ("GET", "/sync/", Perm.VIEW_JOBS, "sync.index"),
    ("GET", "/sync/status-panel", Perm.VIEW_JOBS, "sync.status_panel"),
    ("POST", "/sync/run", Perm.SYNC_DATA, "sync.run_now"),
    ("POST", "/sync/removals/confirm", Perm.SYNC_DATA, "sync.confirm_removals"),
    ("POST", "/sync/removals/keep", Perm.SYNC_DATA, "sync.keep_removals"),
    ("GET", "/locations/", Perm.VIEW_JOBS, "locations.index"),
    ("GET", "/admin/users", Perm.MANAGE_USERS, "admin.users"),
    ("GET", "/admin/users/new", Perm.MANAGE_USERS, "admin.new_user"),
    ("GET", "/admin/users/{mover_id}/edit", Perm.MANAGE_USERS, "admin.edit_user"),
    ("POST", "/admin/users/{mover_id}/active", Perm.MANAGE_USERS, "admin.toggle_user"),
    ("GET", "/admin/trucks", Perm.MANAGE_USERS, "admin.trucks"),
    ("POST", "/admin/trucks/{truck_id}/active", Perm.MANAGE_USERS, "admin.toggle_truck"),
    ("GET", "/reports/", Perm.VIEW_REPORTS, "reports.index"),
    ("GET", "/reports/export/days.csv", Perm.VIEW_REPORTS, "reports.export_csv"),
    ("GET", "/auth/password", "login", "auth.password"),
    ("GET", "/auth/tokens", Perm.USE_API, "auth.api_tokens"),
    ("POST", "/auth/tokens/{token_id}/revoke", Perm.USE_API, "auth.revoke_token"),
    ("GET", "/audit", Perm.VIEW_AUDIT, "audit.index"),
    ("GET", "/audit/export.csv?day={today}", Perm.VIEW_AUDIT, "audit.export_csv"),
    ("GET", "/auth/login", "public", "auth.login"),
    ("POST", "/auth/logout", "public", "auth.logout"),
    ("POST", "/auth/token", "public", "auth.issue_token"),
]


def allowed(role, perm):
    """Whether role may use a route needing perm, from the one permission table."""
    if perm in ("login", "public"):
        return True
    return perm in ROLE_PERMISSIONS[Role(role)]


class FakeSyncService:
    """Stands in for dashboard.sync.service so the matrix never starts a real sync."""

    class SyncAlreadyRunning(Exception):
        pass

    @staticmethod
    def start_sync_in_background(app, company_id, trigger="manual", user_id=None):
        counters = dict.fromkeys(("pages_fetched", "jobs_seen", "opportunities_enriched", "opportunities_to_enrich",
                                  "rows_written", "created", "updated", "removed", "api_calls", "rate_limited",
                                  "opportunities_failed"), 0)
        return SimpleNamespace(id=1, status="RUNNING", phase="sweep", trigger=trigger, started_at=utcnow(),
                               finished_at=None, error=None, **counters)

    @staticmethod
    def current_run(company_id):
        return None

    @staticmethod
    def recent_runs(company_id, limit=20):
        return []

    @staticmethod
    def last_finished_run(company_id, successful_only=False):
        return None

    @staticmethod
    def monthly_call_usage(company_id, quota):
        return {"used": 0, "quota": quota, "projected": 0, "days_elapsed": 1, "days_in_month": 30}


def own_token_id(app, user):
    """An API token of user's own (every role may revoke its own)."""
    from dashboard.auth.tokens import issue_token
    from dashboard.db import db
    from dashboard.models import User
    with app.app_context():
        row, _token = issue_token(db.session.get(User, user.id), "matrix")
        db.session.commit()
        return row.id


def install_fake_sync(monkeypatch):
    """The sync views use FakeSyncService (the `fake_sync` fixture in tests/conftest.py)."""
    import dashboard.sync.views as sync_views
    monkeypatch.setattr(sync_views, "_service", lambda: FakeSyncService)
    return FakeSyncService


def install_recorded_sync(monkeypatch):
    """start_sync_in_background records a finished run instead of syncing (the `quick_syncs` fixture in
    tests/conftest.py): for tests about a request, not the sync, which has its own tests."""
    import dashboard.sync.service as service
    from dashboard.db import db
    from dashboard.models import SyncRun

    def start(flask_app, company_id, trigger="api", user_id=None, day=None):
        with db.write_transaction() as session:
            run = SyncRun(company_id=company_id, trigger=trigger, triggered_by=user_id, status="SUCCESS",
                          window_start=utcnow().date(), window_end=utcnow().date(), finished_at=utcnow())
            session.add(run)
            session.flush()
        return run
    monkeypatch.setattr(service, "start_sync_in_background", start)
