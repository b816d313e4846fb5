"""The API token page: one's own tokens (every user in scope for admins), create and revoke."""
from flask import abort
from flask import flash
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for
from flask_login import current_user

from dashboard.admin.forms import EmptyForm
from dashboard.auth import tokens
from dashboard.auth.forms import TokenForm
from dashboard.auth.reauth import confirm_password
from dashboard.auth.views import bp
from dashboard.db import db
from dashboard.models import User
from dashboard.models import utcnow
from dashboard.permissions import Perm
from dashboard.permissions import can
from dashboard.permissions import require


def _render(form, new_token=None, status=200, headers=None):
    return render_template("auth/tokens.html", form=form, rows=tokens.tokens_visible_to(current_user),
                           new_token=new_token, revoke_form=EmptyForm(), now=utcnow(),
                           show_owner=can(current_user, Perm.MANAGE_USERS)), status, headers or {}


@bp.route("/tokens", methods=["GET", "POST"])
@require(Perm.USE_API)
def api_tokens():
    """List tokens; POST creates one for the signed-in user and shows it once."""
    form = TokenForm()
    if form.validate_on_submit():
        user = db.session.get(User, current_user.id)
        check = confirm_password(user, form.password.data, "API token")
        if not check.ok:
            form.password.errors.append(check.message)
            if check.wait:
                return _render(form, status=429, headers={"Retry-After": str(check.wait)})
            return _render(form, status=422)
        db.begin_write()
        row, token = tokens.issue_token(user, form.name.data, actor=user, expires_days=form.expires_days.data or None)
        db.session.commit()
        # Shown in this answer only (never flashed: the session cookie is signed, not secret).
        return _render(TokenForm(formdata=None), new_token=(row, token), status=201)
    return _render(form, status=422 if request.method == "POST" else 200)


@bp.post("/tokens/<int:token_id>/revoke")
@require(Perm.USE_API)
def revoke_token(token_id):
    """Revoke one token: one's own, or (admins) any in scope; others' are a 404."""
    row = tokens.token_for(current_user, token_id)
    if row is None:
        abort(404)
    if not EmptyForm().validate_on_submit():
        abort(400)
    tokens.revoke(row, actor=current_user)
    db.session.commit()
    flash(f"Revoked token {row.prefix}… ({row.name or 'unnamed'}) of {row.user.email}.", "success")
    return redirect(url_for("auth.api_tokens"))
