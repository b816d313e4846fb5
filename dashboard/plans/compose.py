"""The words of a plan message: subject, plain text, HTML (autoescaped) and a short SMS.

Rendered from templates/plans/message.txt, message.html and sms.txt. Bodies keep the
`{link}` placeholder (links.LINK_PLACEHOLDER): the personal URL is filled in when the
message is sent or shown, because its token is derived, never stored.
"""
from dataclasses import dataclass
from urllib.parse import quote_plus

from flask import current_app

from dashboard.plans.links import LINK_PLACEHOLDER

MAPS_SEARCH = "https://www.google.com/maps/search/?api=1&query="
# An SMS is one or two segments: the first job and the link, never the whole day.
_SMS_ADDRESS = 60


@dataclass
class Composed:
    subject: str
    text: str
    html: str
    sms: str


def maps_url(address):
    """A Google Maps search link for address ('' when there is none)."""
    return MAPS_SEARCH + quote_plus(address) if address else ""


def day_label(day):
    """ "Monday, December 7" (no platform-specific strftime flags)."""
    return f"{day:%A}, {day:%B} {day.day}"


def kind_of(recipient):
    """'removed' (off every job), 'changes' (told before, something differs) or 'plan' (the day afresh)."""
    if recipient.removed:
        return "removed"
    if recipient.previous is not None and recipient.changes:
        return "changes"
    return "plan"


def _job_view(told, offices):
    snap = told.snapshot
    office = offices.get(told.location_id)
    return {**snap, "origin_map": maps_url(snap.get("origin")), "destination_map": maps_url(snap.get("destination")),
            "office_name": office.name if office is not None else None,
            "office_phone": office.phone if office is not None else None}


def _offices(jobs):
    seen = {}
    for job in jobs:
        if job["office_phone"]:
            seen.setdefault(job["office_phone"], job["office_name"])
    return [{"name": name, "phone": phone} for phone, name in seen.items()]


def compose(recipient, company_name, day, version, offices):
    """The message for recipient about plan version `version` of day."""
    kind = kind_of(recipient)
    jobs = [_job_view(told, offices) for told in recipient.jobs]
    removed_jobs = [told.snapshot["jobNumber"] for told in (recipient.previous or {}).values()] if kind == "removed" \
        else []
    context = {
        "name": recipient.member.name, "company": company_name, "day": day_label(day), "version": version,
        "kind": kind, "jobs": jobs, "changes": recipient.changes, "removed_jobs": removed_jobs,
        "offices": _offices(jobs) or _offices([_job_view(t, offices) for t in (recipient.previous or {}).values()]),
        "link": LINK_PLACEHOLDER,
    }
    env = current_app.jinja_env
    subject = {
        "removed": f"{company_name}: you are no longer on {', '.join(removed_jobs)} on {context['day']}",
        "changes": f"{company_name}: your plan for {context['day']} changed (v{version})",
        "plan": f"{company_name}: your plan for {context['day']} (v{version})",
    }[kind]
    first = jobs[0] if jobs else None
    sms_context = {**context, "first": first,
                   "first_address": (first["origin"] or "")[:_SMS_ADDRESS] if first else ""}
    return Composed(subject=subject[:200], text=env.get_template("plans/message.txt").render(context),
                    html=env.get_template("plans/message.html").render(context),
                    sms=" ".join(env.get_template("plans/sms.txt").render(sms_context).split()))
