"""`flask sync --company X` on a disabled company refuses (exit 2), like the scheduler and "Sync now" (issue 21)."""
import sqlalchemy as sa

from dashboard.db import db
from dashboard.models import Company
from dashboard.models import SyncRun
from dashboard.scheduler import companies_to_sync


def _disable(app, company_id):
    with app.app_context():
        db.session.get(Company, company_id).is_active = False
        db.session.commit()


def test_sync_of_a_disabled_company_exits_2_and_says_why(app, runner, make_company):
    rival = make_company("Rival Movers")
    _disable(app, rival.id)
    for args in (["sync", "--company", "Rival Movers"],
                 ["sync", "--company", "Rival Movers", "--date", "2026-11-26"],
                 ["sync", "--company", "Rival Movers", "--from", "2026-11-01", "--to", "2026-11-02", "--yes"]):
        result = runner.invoke(args=args)
        assert result.exit_code == 2, result.output
        assert "Rival Movers is disabled" in result.output
        assert "Companies page" in result.output
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(SyncRun.id))) == 0      # no run was even started


def test_the_scheduler_skips_the_disabled_company_too(app, make_company):
    rival = make_company("Rival Movers")
    _disable(app, rival.id)
    with app.app_context():
        assert rival.id not in companies_to_sync()
