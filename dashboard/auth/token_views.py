"""The API token page: one's own tokens (every user in scope for admins), create and revoke."""
from flask import abort
from flask import flash
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for
from flask_login import current_user

from dashboard.admin.forms import EmptyForm
from dashboard.auth import bp
from dashboard.auth import tokens
from dashboard.auth.forms import TokenForm
from dashboard.db import db
from dashboard.permissions import Perm
from dashboard.permissions import can
from dashboard.permissions import require


def _render(form, new_token=None, status=200):
    return render_template("auth/tokens.html", form=form, rows=tokens.tokens_visible_to(current_user),
                           new_token=new_token, revoke_form=EmptyForm(),
                           show_owner=can(current_user, Perm.MANAGE_USERS)), status


@bp.route("/tokens", methods=["GET", "POST"])
@require(Perm.USE_API)
def api_tokens():
    """List tokens; POST creates one for the signed-in user and shows it once."""
    form = TokenForm()
    if form.validate_on_submit():
        row, token = tokens.issue_token(current_user, form.name.data, actor=current_user)
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
