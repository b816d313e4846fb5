"""Pages of the admin area: user management and trucks.

ADMIN manages their own company only and can neither create nor edit SUPER_ADMINs;
SUPER_ADMIN manages every company. Another company's user or truck is a 404.
"""
import logging

import sqlalchemy as sa
import sqlalchemy.orm as so
from flask import Blueprint
from flask import abort
from flask import flash
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for
from flask_login import current_user
from wtforms import SelectChoice

from dashboard.admin.forms import EmptyForm
from dashboard.admin.forms import TruckForm
from dashboard.admin.forms import UserForm
from dashboard.audit.trail import record
from dashboard.auth.users import CrewLinkError
from dashboard.auth.users import UserError
from dashboard.auth.users import create_user
from dashboard.auth.users import crew_member_label
from dashboard.auth.users import end_all_access
from dashboard.auth.users import link_crew_member
from dashboard.auth.users import linked_user
from dashboard.db import db
from dashboard.models import Company
from dashboard.models import CrewMember
from dashboard.models import Location
from dashboard.models import Truck
from dashboard.models import User
from dashboard.models import truck_label
from dashboard.permissions import Perm
from dashboard.permissions import Role
from dashboard.permissions import Scope
from dashboard.permissions import parse_role
from dashboard.permissions import require
from dashboard.permissions import scope_of

bp = Blueprint("admin", __name__)

log = logging.getLogger(__name__)


def _all_companies():
    return scope_of(current_user) is Scope.ALL_COMPANIES


def _companies():
    """Companies the signed-in admin manages."""
    if _all_companies():
        return list(db.session.scalars(sa.select(Company).order_by(Company.name)))
    return [db.session.get(Company, current_user.company_id)]


def _role_choices():
    roles = [r for r in Role if _all_companies() or r is not Role.SUPER_ADMIN]
    return [SelectChoice(r.value, r.value.replace("_", " ").title()) for r in roles]


def _location_choices(company_ids):
    rows = db.session.scalars(sa.select(Location).where(Location.company_id.in_(company_ids))
                              .order_by(Location.company_id, Location.name))
    many = len(company_ids) > 1
    return [SelectChoice(loc.id, f"{loc.name} ({loc.company.name})" if many else loc.name) for loc in rows]


def _managed_user(user_id):
    """A user the signed-in admin may manage: other companies 404, SUPER_ADMINs 403 for ADMINs."""
    user = db.session.get(User, user_id)
    if user is None or (not _all_companies() and user.company_id != current_user.company_id):
        abort(404)
    if parse_role(user.role) is Role.SUPER_ADMIN and not _all_companies():
        abort(403)
    return user


def _prepare(form):
    companies = _companies()
    form.company_id.choices = [SelectChoice(c.id, c.name) for c in companies]
    form.role.choices = _role_choices()
    form.locations.choices = _location_choices([c.id for c in companies])
    form.crew_member_id.choices = _crew_choices([c.id for c in companies])
    return companies


def _crew_choices(company_ids, keep_id=None):
    """"— none —", then the companies' active crew members (and keep_id, the current link, even if inactive)."""
    rows = db.session.scalars(sa.select(CrewMember).where(CrewMember.company_id.in_(company_ids))
                              .options(so.selectinload(CrewMember.location))
                              .order_by(CrewMember.company_id, CrewMember.name, CrewMember.id))
    names = ({c.id: c.name for c in db.session.scalars(sa.select(Company).where(Company.id.in_(company_ids)))}
             if len(company_ids) > 1 else None)
    choices = [SelectChoice(0, "— none —")]
    for member in rows:
        if member.is_active or member.id == keep_id:
            label = crew_member_label(member)
            choices.append(SelectChoice(member.id, f"{label} · {names[member.company_id]}" if names else label))
    return choices


def _chosen_crew_member(form, company_id, current=None):
    """The picked crew member (None for "— none —"), which must belong to company_id; current when not posted."""
    if "crew_member_id" not in request.form:
        return current
    if not form.crew_member_id.data:
        return None
    member = db.session.get(CrewMember, form.crew_member_id.data)
    if member is None or member.company_id != company_id:
        raise CrewLinkError("Pick a crew member of the user's own company.")
    return member


def _chosen_locations(form, company_id):
    """The ticked locations, which must all belong to company_id."""
    chosen = [db.session.get(Location, i) for i in form.locations.data or []]
    if any(loc is None or loc.company_id != company_id for loc in chosen):
        raise UserError("Pick locations of the user's own company.")
    return chosen


def _audit(action, target, company_id, **detail):
    record(company_id, current_user.id, action, target, **detail)


@bp.get("/users")
@require(Perm.MANAGE_USERS)
def users():
    """Every user the admin manages, with role, locations and state."""
    stmt = sa.select(User).options(so.selectinload(User.locations), so.selectinload(User.company),
                                   so.selectinload(User.crew_member)) \
        .order_by(User.company_id, User.is_active_user.desc(), User.email)
    if not _all_companies():
        stmt = stmt.where(User.company_id == current_user.company_id)
    return render_template("admin/users.html", users=list(db.session.scalars(stmt)), toggle_form=EmptyForm(),
                           show_company=_all_companies())


@bp.route("/users/new", methods=["GET", "POST"])
@require(Perm.MANAGE_USERS)
def new_user():
    """Create a user with an initial password."""
    form = UserForm()
    _prepare(form)
    if request.method == "GET":
        form.company_id.data = current_user.company_id
    status = 200
    if form.validate_on_submit():
        try:
            if not form.password.data:
                raise UserError("Set an initial password.")
            company = db.session.get(Company, form.company_id.data)
            user = create_user(form.email.data, form.password.data, form.role.data, company,
                               _chosen_locations(form, company.id), full_name=form.full_name.data,
                               actor=current_user, crew_member=_chosen_crew_member(form, company.id))
        except UserError as exc:
            # A refused crew link is shown on its own field; anything else is about the account.
            target = form.crew_member_id if isinstance(exc, CrewLinkError) else form.email
            target.errors = list(target.errors) + [str(exc)]
            db.session.rollback()
            status = 422
        else:
            db.session.commit()
            flash(f"Created {user.email} ({user.role}).", "success")
            return redirect(url_for("admin.users"))
    elif request.method == "POST":
        status = 422
    return render_template("admin/user_form.html", form=form, user=None), status


@bp.route("/users/<int:user_id>/edit", methods=["GET", "POST"])
@require(Perm.MANAGE_USERS)
def edit_user(user_id):
    """Change a user's name, crew member link, role and locations (a role change signs them out)."""
    user = _managed_user(user_id)
    form = UserForm(obj=None if request.method == "POST" else user)
    _prepare(form)
    form.company_id.choices = [SelectChoice(user.company_id, user.company.name)]
    form.locations.choices = _location_choices([user.company_id])
    form.crew_member_id.choices = _crew_choices([user.company_id], keep_id=user.crew_member_id)
    form.company_id.data = user.company_id
    form.email.data = user.email  # the email is the login: not editable here
    if request.method == "GET":
        form.locations.data = [loc.id for loc in user.locations]
    status = 200
    if form.validate_on_submit():
        try:
            new_role = parse_role(form.role.data)
            if user.id == current_user.id and new_role.value != user.role:
                raise UserError("You cannot change your own role.")
            locations = _chosen_locations(form, user.company_id)
        except UserError as exc:
            form.role.errors = list(form.role.errors) + [str(exc)]
            status = 422
        else:
            form_changes = _relink(form, user)
            if form_changes is None:
                status = 422
        if status == 200:
            changes = form_changes
            if new_role.value != user.role:
                changes["role"] = [user.role, new_role.value]
                user.role = new_role.value
                end_all_access(user, actor=current_user)  # the new role starts with a new sign-in and new tokens
            old_ids = sorted(loc.id for loc in user.locations)
            if old_ids != sorted(loc.id for loc in locations):
                changes["locations"] = [old_ids, sorted(loc.id for loc in locations)]
                user.locations = locations
            full_name = (form.full_name.data or "").strip()
            if full_name != user.full_name:
                changes["full_name"] = [user.full_name, full_name]
                user.full_name = full_name
            if changes:
                _audit("user.update", user.email, user.company_id, **changes)
            db.session.commit()
            flash(f"Saved {user.email}." if changes else "Nothing changed.", "success")
            return redirect(url_for("admin.users"))
    elif request.method == "POST":
        status = 422
    return render_template("admin/user_form.html", form=form, user=user), status


def _relink(form, user):
    """Apply the form's crew member to user: {"crew_member_id": [old, new]} or {} (unchanged), None when refused.

    The link is audited on its own (user.crew_link); a refusal is shown on the field.
    """
    old_member_id = user.crew_member_id
    try:
        member = _chosen_crew_member(form, user.company_id, current=user.crew_member)
        changed = link_crew_member(user, member, actor=current_user)
    except UserError as exc:
        db.session.rollback()
        form.crew_member_id.errors = list(form.crew_member_id.errors) + [str(exc)]
        return None
    return {"crew_member_id": [old_member_id, user.crew_member_id]} if changed else {}


@bp.post("/users/<int:user_id>/active")
@require(Perm.MANAGE_USERS)
def toggle_user(user_id):
    """Disable (signing them out everywhere) or re-enable a user."""
    user = _managed_user(user_id)
    if not EmptyForm().validate_on_submit():
        abort(400)
    if user.id == current_user.id:
        flash("You cannot disable your own account.", "error")
        return redirect(url_for("admin.users"))
    user.is_active_user = not user.is_active_user
    if not user.is_active_user:
        # Revoked, not merely refused while disabled: re-enabling must not revive them.
        end_all_access(user, actor=current_user)
    elif user.crew_member is not None and linked_user(user.crew_member, other_than=user) is not None:
        # Their crew member was linked to someone else meanwhile: one person, one active account.
        flash(f"{user.crew_member.name} is now linked to another user; {user.email} was unlinked.", "warning")
        link_crew_member(user, None, actor=current_user)
    _audit("user.enable" if user.is_active_user else "user.disable", user.email, user.company_id)
    db.session.commit()
    flash(f"{user.email} is now {'enabled' if user.is_active_user else 'disabled'}.", "success")
    return redirect(url_for("admin.users"))


def _company_for_trucks():
    return db.session.get(Company, current_user.company_id)


@bp.route("/trucks", methods=["GET", "POST"])
@require(Perm.MANAGE_USERS)
def trucks():
    """The company's trucks; add one, or take one out of service."""
    company = _company_for_trucks()
    locations = list(db.session.scalars(sa.select(Location).where(Location.company_id == company.id)
                                        .order_by(Location.name)))
    form = TruckForm()
    form.location_id.choices = [SelectChoice(0, "Any location")] + [SelectChoice(loc.id, loc.name) for loc in locations]
    status = 200
    if form.validate_on_submit():
        name = " ".join(form.name.data.split())
        exists = db.session.scalar(sa.select(Truck.id).where(Truck.company_id == company.id,
                                                             sa.func.lower(Truck.name) == name.lower()))
        if exists:
            form.name.errors = list(form.name.errors) + [f"There is already a truck called {name}."]
            status = 422
        else:
            truck = Truck(company_id=company.id, name=name, location_id=form.location_id.data or None)
            db.session.add(truck)
            db.session.flush()
            _audit("truck.create", f"truck:{truck.id}", company.id, name=name)
            db.session.commit()
            flash(f"Added truck {name}.", "success")
            return redirect(url_for("admin.trucks"))
    elif request.method == "POST":
        status = 422
    rows = list(db.session.scalars(sa.select(Truck).where(Truck.company_id == company.id)
                                   .order_by(Truck.is_active.desc(), Truck.name)))
    by_id = {loc.id: loc for loc in locations}
    return render_template("admin/trucks.html", form=form, trucks=rows, locations=by_id,
                           toggle_form=EmptyForm(), company=company), status


@bp.post("/trucks/<int:truck_id>/active")
@require(Perm.MANAGE_USERS)
def toggle_truck(truck_id):
    """Take a truck out of service, or back in."""
    truck = db.session.get(Truck, truck_id)
    if truck is None or truck.company_id != current_user.company_id:
        abort(404)
    if not EmptyForm().validate_on_submit():
        abort(400)
    truck.is_active = not truck.is_active
    _audit("truck.enable" if truck.is_active else "truck.disable", f"truck:{truck.id}", truck.company_id,
           name=truck.name)
    db.session.commit()
    flash(f"{truck_label(truck.name)} is {'in service' if truck.is_active else 'out of service'}.", "success")
    return redirect(url_for("admin.trucks"))
