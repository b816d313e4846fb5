"""The personal link page (no sign-in): one person's jobs of one day, and their Confirm / Can't make it answer.

A tampered, unknown, revoked or expired link is the plain 404 every unknown URL gets.
The token sits in the URL, so nothing of this page may be stored, indexed or leak
through a Referer header.
"""
from flask import Blueprint
from flask import abort
from flask import redirect
from flask import render_template
from flask import request

from dashboard import web
from dashboard.confirm.answers import ANSWERS_PER_HOUR
from dashboard.confirm.answers import TooManyAnswers
from dashboard.confirm.answers import record_answer
from dashboard.confirm.forms import AnswerForm
from dashboard.confirm.personal import personal_plan
from dashboard.db import db
from dashboard.permissions import public
from dashboard.plans.links import LINK_PATH
from dashboard.plans.links import resolve

bp = Blueprint("confirm", __name__)


@bp.after_request
def keep_link_private(response):
    """No copies, no search engines, no Referer carrying the token to the map site or anywhere else."""
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Robots-Tag"] = "noindex, nofollow"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


def _live_link(token):
    """The CrewLink of token, else the plain 404."""
    link = resolve(token)
    if link is None:
        abort(404)
    return link


def _page(plan, form, status=200, problem=None):
    answered_at = web.to_local(plan.answer.at, plan.company.timezone) if plan.answer is not None else None
    return render_template("confirm/plan.html", plan=plan, form=form, problem=problem,
                           answered_at=answered_at), status


@bp.route(LINK_PATH + "<token>", methods=["GET", "POST"])
@public
def personal_page(token):
    """GET: the person's jobs and answer; POST: record Confirm or Can't make it (CSRF, throttled, audited)."""
    link = _live_link(token)
    plan = personal_plan(link)
    form = AnswerForm()
    if request.method == "GET":
        return _page(plan, form)
    if not plan.jobs:
        return _page(plan, form, 422, "You are not on any job that day, so there is nothing to answer.")
    if not form.validate_on_submit():
        return _page(plan, form, 422)
    try:
        record_answer(link, plan, form.answer.data, form.reason.data, request.remote_addr)
    except TooManyAnswers:
        db.session.rollback()
        return _page(plan, form, 429, f"This link has answered {ANSWERS_PER_HOUR} times in the last hour. "
                                      "Please call the office instead.")
    db.session.commit()
    # Post/redirect/get: a reload shows the answer instead of sending it again.
    return redirect(request.path, 303)
