"""GET /api/smartmoving/companies (and /smartmoving/companies): every company, for super admins only."""
from flask import Blueprint
from flask import current_app

from dashboard.companies import service
from dashboard.companies.views import super_admin_required
from dashboard.timeutil import as_utc_iso

bp = Blueprint("companies_api", __name__)


@bp.get("/companies")
@super_admin_required
def companies():
    """{"companies": [{"id", "name", "timezone", "mode", "plan", "lastSync", "active", "keySet"}]}; never a key."""
    return {"companies": [
        {"id": row.company.id, "name": row.company.name, "timezone": row.company.timezone, "mode": row.mode,
         "plan": row.plan, "lastSync": as_utc_iso(row.last_sync), "active": row.company.is_active,
         "keySet": row.company.key_set_at is not None and bool(row.company.api_key_encrypted)}
        for row in service.company_rows(current_app.config)
    ]}
