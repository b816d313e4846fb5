"""The super admin's Companies page (/admin/companies), the header's company switcher, and which company
a request is about (`pick_company`, a before_request hook the app factory registers).

A super admin sees every company, or the one picked: `?company=ID` on any page or API call,
else the switcher's choice kept in the session. Any other role has one company, their own:
`?company=` naming another answers 404 (it never reveals whether that company exists).
"""
import functools

from flask import Blueprint
from flask import abort
from flask import current_app
from flask import flash
from flask import g
from flask import redirect
from flask import render_template
from flask import request
from flask import session
from flask import url_for
from flask_login import current_user

from dashboard.auth.loaders import safe_next
from dashboard.companies import service
from dashboard.companies.forms import CompanyForm
from dashboard.companies.forms import EmptyForm
from dashboard.companies.forms import KeyForm
from dashboard.companies.forms import RenameForm
from dashboard.companies.forms import SwitchForm
from dashboard.companies.service import CompanyError
from dashboard.db import db
from dashboard.extensions import login_manager
from dashboard.guards import parse_id
from dashboard.models import Company
from dashboard.permissions import CHOSEN_COMPANY
from dashboard.permissions import Scope
from dashboard.permissions import chosen_company_id
from dashboard.permissions import scope_of

bp = Blueprint("companies", __name__)

# Session key of the company a super admin picked in the header (absent: every company).
SESSION_KEY = "company_id"


def is_super_admin(user):
    """True for a signed-in user whose role reaches every company."""
    return getattr(user, "is_authenticated", False) and scope_of(user) is Scope.ALL_COMPANIES


def super_admin_required(view):
    """View decorator: 401 for anonymous (via Flask-Login), 403 for every role but SUPER_ADMIN."""
    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        if not current_user.is_authenticated:
            return login_manager.unauthorized()
        if not is_super_admin(current_user):
            abort(403)
        return view(*args, **kwargs)
    wrapper.required_permission = "super_admin"
    return wrapper


def pick_company():
    """before_request: which company this request is about (permissions.chosen_company_id reads it).

    `?company=ID`: a super admin's pick for this request; for any other role it must be their own
    company (else 404). Without it, a super admin's switcher choice (session) applies.
    """
    if request.endpoint in (None, "static") or not current_user.is_authenticated:
        return None
    raw = request.args.get("company")
    if raw in (None, ""):
        if is_super_admin(current_user) and session.get(SESSION_KEY):
            chosen = db.session.get(Company, session[SESSION_KEY])
            if chosen is None:
                session.pop(SESSION_KEY, None)   # the company is gone: back to every company
            else:
                g.setdefault(CHOSEN_COMPANY, chosen.id)
        return None
    company_id = parse_id(raw)
    if company_id is None:
        abort(422, description="company must be a company id (a number).")
    if not is_super_admin(current_user):
        if company_id != current_user.company_id:
            abort(404, description="No such company.")
        return None
    if db.session.get(Company, company_id) is None:
        abort(404, description="No such company.")
    g.setdefault(CHOSEN_COMPANY, company_id)
    return None


class _Switcher:
    """The header switcher's data; the company list is read only when a page draws it (not for fragments)."""

    def __init__(self):
        self.chosen = chosen_company_id()

    @functools.cached_property
    def companies(self):
        """Active companies by id."""
        return service.active_companies()


@bp.app_context_processor
def company_switcher():
    """Templates' `switcher` (super admins only, else None): the companies to switch between and the pick."""
    return {"switcher": _Switcher() if is_super_admin(current_user) else None}


def _company_or_404(company_id):
    company = db.session.get(Company, company_id)
    if company is None:
        abort(404)
    return company


def _page(form=None, status=200):
    """The Companies page with its forms (form: the create form with its errors, if any)."""
    return render_template("companies/index.html", rows=service.company_rows(current_app.config),
                           form=form or CompanyForm(formdata=None), rename_form=RenameForm(formdata=None),
                           key_form=KeyForm(formdata=None), toggle_form=EmptyForm(),
                           can_store_keys=bool(current_app.config.get("CREDENTIALS_KEY"))), status


@bp.route("", methods=["GET", "POST"])
@super_admin_required
def index():
    """Every company with its mode, plan, last sync and state; create one."""
    if request.method == "GET":
        return _page()
    form = CompanyForm()
    if not form.validate_on_submit():
        return _page(form, 422)
    try:
        with db.write_transaction():
            company = service.create_company(form.name.data, form.timezone.data, actor_id=current_user.id)
    except CompanyError as error:
        form.name.errors = list(form.name.errors) + [str(error)]
        return _page(form, 422)
    flash(f"Created {company.name}. Set its SmartMoving key to start syncing it.", "success")
    return redirect(url_for("companies.index"))


def _change(company_id, form, change, done):
    """Apply change(company, form) in one audited transaction; flash done(company) or the refusal."""
    company = _company_or_404(company_id)
    if not form.validate_on_submit():
        errors = [message for messages in form.errors.values() for message in messages]
        flash(errors[0] if errors else "The form has expired; try again.", "error")
        return redirect(url_for("companies.index"))
    try:
        with db.write_transaction():
            change(db.session.get(Company, company.id), form)
    except CompanyError as error:
        flash(str(error), "error")
        return redirect(url_for("companies.index"))
    flash(done(db.session.get(Company, company.id)), "success")
    return redirect(url_for("companies.index"))


@bp.post("/<int:company_id>/rename")
@super_admin_required
def rename(company_id):
    """Give a company a new name."""
    return _change(company_id, RenameForm(),
                   lambda company, form: service.rename_company(company, form.name.data, actor_id=current_user.id),
                   lambda company: f"Renamed to {company.name}.")


@bp.post("/<int:company_id>/active")
@super_admin_required
def toggle_active(company_id):
    """Disable a company (never synced again until enabled), or enable it."""
    return _change(company_id, EmptyForm(),
                   lambda company, form: service.set_active(company, not company.is_active, actor_id=current_user.id),
                   lambda company: f"{company.name} is now {'enabled' if company.is_active else 'disabled'}.")


@bp.post("/<int:company_id>/key")
@super_admin_required
def set_key(company_id):
    """Store a company's SmartMoving key (encrypted; write-only) and optionally client id, plan, webhook secret."""
    def change(company, form):
        service.set_smartmoving_key(company, form.api_key.data, current_app.config.get("CREDENTIALS_KEY"),
                                    actor_id=current_user.id, client_id=form.client_id.data or None,
                                    plan_name=form.plan.data or None, webhook_secret=form.webhook_secret.data or None)
    return _change(company_id, KeyForm(), change,
                   lambda company: f"SmartMoving key of {company.name} {service.key_note(company)}; "
                                   f"used from its next sync.")


@bp.post("/switch")
@super_admin_required
def switch():
    """The header's switcher: show one company everywhere (kept in the session), or every company."""
    form = SwitchForm()
    if not form.validate_on_submit():
        abort(400)
    company_id = parse_id(form.company.data or "")
    if form.company.data and (company_id is None or db.session.get(Company, company_id) is None):
        abort(404)
    if company_id is None:
        session.pop(SESSION_KEY, None)
    else:
        session[SESSION_KEY] = company_id
    return redirect(safe_next(request.form.get("next")) or url_for("jobs.today"))
