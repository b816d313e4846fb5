"""The one permission table, and the checks every route and query goes through.

The role table (README, "Roles") lives here and nowhere else; pages, partials, the JSON API
and queries all ask `can()` and `visible_location_ids()`.
"""
import enum
import functools

import sqlalchemy as sa
from flask import abort
from flask import g
from flask import has_request_context
from flask_login import current_user

from dashboard.extensions import login_manager


class Role(str, enum.Enum):
    SUPER_ADMIN = "SUPER_ADMIN"
    ADMIN = "ADMIN"
    DISPATCHER = "DISPATCHER"
    MANAGER = "MANAGER"
    AUDITOR = "AUDITOR"
    DRIVER = "DRIVER"
    MOVER = "MOVER"


class Perm(str, enum.Enum):
    VIEW_JOBS = "view_jobs"              # the boards, every job in the locations one sees
    VIEW_OWN_JOBS = "view_own_jobs"      # "My jobs": only jobs whose crew holds the user's linked crew member
    EDIT_JOBS = "edit_jobs"
    SYNC_DATA = "sync_data"
    VIEW_FINANCIAL = "view_financial"
    MANAGE_USERS = "manage_users"
    USE_API = "use_api"                  # API tokens: own ones on the token page; admins see their scope's
    VIEW_AUDIT = "view_audit"            # the audit trail of the companies in scope
    VIEW_REPORTS = "view_reports"        # /reports and the summary API; money still needs VIEW_FINANCIAL


class Scope(str, enum.Enum):
    ALL_COMPANIES = "all_companies"
    OWN_COMPANY = "own_company"
    ASSIGNED_LOCATIONS = "assigned_locations"
    NONE = "none"


# Every role may use the API: it answers each role with exactly what its pages show
# (drivers and movers: their own jobs), so a token grants nothing a browser would not.
ROLE_PERMISSIONS = {
    Role.SUPER_ADMIN: frozenset({Perm.VIEW_JOBS, Perm.VIEW_OWN_JOBS, Perm.EDIT_JOBS, Perm.SYNC_DATA,
                                 Perm.VIEW_FINANCIAL, Perm.MANAGE_USERS, Perm.USE_API, Perm.VIEW_AUDIT,
                                 Perm.VIEW_REPORTS}),
    # ADMIN may sync: the product's users asked for admins clicking "sync now".
    Role.ADMIN: frozenset({Perm.VIEW_JOBS, Perm.VIEW_OWN_JOBS, Perm.EDIT_JOBS, Perm.SYNC_DATA,
                           Perm.VIEW_FINANCIAL, Perm.MANAGE_USERS, Perm.USE_API, Perm.VIEW_AUDIT,
                           Perm.VIEW_REPORTS}),
    # Dispatchers see the reports' counts and dispatch health, never their money.
    Role.DISPATCHER: frozenset({Perm.VIEW_JOBS, Perm.VIEW_OWN_JOBS, Perm.EDIT_JOBS, Perm.USE_API,
                                Perm.VIEW_REPORTS}),
    Role.MANAGER: frozenset({Perm.VIEW_JOBS, Perm.VIEW_OWN_JOBS, Perm.EDIT_JOBS, Perm.VIEW_FINANCIAL, Perm.USE_API,
                             Perm.VIEW_REPORTS}),
    Role.AUDITOR: frozenset({Perm.VIEW_JOBS, Perm.VIEW_OWN_JOBS, Perm.VIEW_FINANCIAL, Perm.USE_API,
                             Perm.VIEW_AUDIT, Perm.VIEW_REPORTS}),
    Role.DRIVER: frozenset({Perm.VIEW_OWN_JOBS, Perm.USE_API}),
    Role.MOVER: frozenset({Perm.VIEW_OWN_JOBS, Perm.USE_API}),
}

ROLE_SCOPE = {
    Role.SUPER_ADMIN: Scope.ALL_COMPANIES,
    Role.ADMIN: Scope.OWN_COMPANY,
    Role.DISPATCHER: Scope.ASSIGNED_LOCATIONS,
    Role.MANAGER: Scope.ASSIGNED_LOCATIONS,
    Role.AUDITOR: Scope.OWN_COMPANY,
    Role.DRIVER: Scope.NONE,
    Role.MOVER: Scope.NONE,
}


def parse_role(text):
    """Return the Role named by text (case-insensitive) or None."""
    try:
        return Role(str(text).strip().upper())
    except ValueError:
        return None


def can(user, perm):
    """True when user (anything with .role, possibly anonymous) holds perm."""
    if user is None or not getattr(user, "is_authenticated", False):
        return False
    role = parse_role(getattr(user, "role", None))
    return role is not None and perm in ROLE_PERMISSIONS[role]


def scope_of(user):
    """Which locations the user's role may see (README, "Roles": locations seen)."""
    role = parse_role(getattr(user, "role", None))
    return ROLE_SCOPE.get(role, Scope.NONE)


def visible_location_ids(user):
    """Location ids the user may see, or None meaning every location of the scope's companies."""
    scope = scope_of(user)
    if scope in (Scope.ALL_COMPANIES, Scope.OWN_COMPANY):
        return None
    if scope is Scope.ASSIGNED_LOCATIONS:
        return {location.id for location in user.locations}
    return set()


# flask.g key: the one company a super admin picked for this request (dashboard/companies/views.py sets it).
CHOSEN_COMPANY = "chosen_company_id"


def chosen_company_id():
    """The company a super admin picked for this request (?company=ID, else the header's switcher), or None
    (every company). Always None for other roles: their company is their own."""
    return g.get(CHOSEN_COMPANY) if has_request_context() else None


def company_in_view(user):
    """The company a one-company page or answer (sync status, "sync now", the board's header) is about:
    a super admin's pick, else the user's own company."""
    return chosen_company_id() or user.company_id


def within_chosen_company(stmt, company_column):
    """A super admin's select narrowed to the company they picked, if any."""
    chosen = chosen_company_id()
    return stmt if chosen is None else stmt.where(company_column == chosen)


def scope_query(stmt, user, company_column, location_column):
    """Restrict a select to what user may see: their company, and their locations when assigned
    (a super admin: every company, or the one picked for this request)."""
    scope = scope_of(user)
    if scope is Scope.ALL_COMPANIES:
        return within_chosen_company(stmt, company_column)
    if scope is Scope.NONE:
        return stmt.where(sa.false())
    stmt = stmt.where(company_column == user.company_id)
    if scope is Scope.ASSIGNED_LOCATIONS:
        ids = visible_location_ids(user)
        stmt = stmt.where(location_column.in_(ids) if ids else sa.false())
    return stmt


def can_see_location(user, location):
    """True when location falls inside the user's scope."""
    scope = scope_of(user)
    if scope is Scope.ALL_COMPANIES:
        return True
    if scope is Scope.NONE or location.company_id != user.company_id:
        return False
    if scope is Scope.OWN_COMPANY:
        return True
    return location.id in visible_location_ids(user)


def can_see_journey(user, journey):
    """True when user may open this job: in scope for board roles, in its crew for drivers and movers."""
    if can(user, Perm.VIEW_JOBS):
        scope = scope_of(user)
        if scope is Scope.ALL_COMPANIES:
            return True
        if journey.company_id != user.company_id:
            return False
        if scope is Scope.OWN_COMPANY:
            return True
        return journey.location_id in visible_location_ids(user)
    if can(user, Perm.VIEW_OWN_JOBS):
        return journey.company_id == user.company_id and is_assigned_to(user, journey)
    return False


def crew_name_of(user):
    """The name a user goes by in crew lists."""
    return (user.crew_name or user.full_name or "").strip()


def is_on_crew(crew_member_id, journey):
    """True when this crew member is on the job's effective crew (by id: names never match people)."""
    return crew_member_id is not None and crew_member_id in journey.effective_crew_ids


def is_assigned_to(user, journey):
    """True when the user's linked crew member is on the job's crew; an unlinked user is on none."""
    return is_on_crew(getattr(user, "crew_member_id", None), journey)


def crew_key(name):
    """How crew names compare, for My jobs and for double bookings alike: case and spacing ignored."""
    return " ".join(str(name).split()).casefold()


def require(perm):
    """View decorator: 401 for anonymous (via Flask-Login), 403 without perm."""
    def decorator(view):
        @functools.wraps(view)
        def wrapper(*args, **kwargs):
            if not current_user.is_authenticated:
                return login_manager.unauthorized()
            if not can(current_user, perm):
                abort(403)
            return view(*args, **kwargs)
        wrapper.required_permission = perm
        return wrapper
    return decorator


def require_login(view):
    """View decorator for pages every signed-in role may open."""
    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        if not current_user.is_authenticated:
            return login_manager.unauthorized()
        return view(*args, **kwargs)
    wrapper.required_permission = "login"
    return wrapper


def public(view):
    """Mark a view as deliberately open to anonymous callers (checked by the route audit test)."""
    view.required_permission = "public"
    return view


__all__ = ["Role", "Perm", "Scope", "ROLE_PERMISSIONS", "can", "require", "require_login", "public",
           "scope_query", "chosen_company_id", "company_in_view", "within_chosen_company",
           "visible_location_ids", "can_see_location", "can_see_journey", "is_assigned_to", "is_on_crew",
           "parse_role"]
