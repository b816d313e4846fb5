"""Pure functions from SmartMoving payloads to our job records. No I/O, no database.

The sweep (`/api/customers?IncludeOpportunityInfo=true`) gives job ids, numbers and
dates; opportunity detail gives addresses, money, branch, arrival window and crew.
Payloads drift in type (ISO strings vs yyyyMMdd ints, string vs int quote numbers)
and in shape, so every read here is tolerant: a missing field becomes None and a
warning, never an exception. Only a job without an id or a service date is dropped.

Every string is cleaned here, at the edge: control characters (NUL included, which
PostgreSQL refuses) removed, lone surrogates replaced, and each value capped at its
column's length as the models declare it. One bad record must never stop a sync.
"""
import functools
import hashlib
import json
import math
import re
from dataclasses import dataclass
from dataclasses import field
from datetime import date
from decimal import Decimal
from decimal import InvalidOperation
from typing import NamedTuple

import sqlalchemy as sa

from dashboard.jobs import crew_size
from dashboard.jobs.spans import compute_span
from dashboard.models import CrewMember
from dashboard.models import Location
from dashboard.models import TruckJourney

# OpportunityStatus codes (shared by leads and opportunities).
OPPORTUNITY_STATUS = {
    0: "NEW_LEAD", 1: "LEAD_IN_PROGRESS", 3: "OPPORTUNITY", 4: "BOOKED", 10: "COMPLETED",
    11: "CLOSED", 20: "CANCELLED", 30: "LOST", 50: "BAD_LEAD",
}
JOB_TYPES = {
    1: "Moving", 3: "Packing", 4: "Moving and packing", 5: "Load only", 6: "Unload only", 7: "Commercial",
    8: "Storage in", 9: "Storage out", 10: "Inner house", 11: "Junk removal", 12: "Labor only",
}


# Control characters (C0, DEL, C1) but tab, newline and carriage return, which are handled apart.
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_LINE_BREAKS = re.compile("\r\n?|[\u2028\u2029]")
_SINGLE_LINE_SPACES = re.compile("[\t\n\r\u2028\u2029]+")
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")
_NEEDS_CLEANING = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")
# Ids are never cut short: two ids sharing their first 64 characters would become one job.
_IDENTIFIERS = frozenset({"external_id", "opportunity_external_id", "branch_external_id"})
# The largest amount of cents a BIGINT column holds.
_MAX_CENTS = 2 ** 63 - 1


def clean_text(text, multiline=False):
    """text without control characters or lone surrogates; tab and newline kept only when multiline.

    In a single-line field a tab or line break becomes a space, so words stay apart.
    """
    if not _NEEDS_CLEANING.search(text):
        return text   # the usual case, one scan: a sync cleans every string of every record
    text = _LONE_SURROGATE.sub("\ufffd", text)
    if multiline:
        text = _LINE_BREAKS.sub("\n", text)
    else:
        text = _SINGLE_LINE_SPACES.sub(" ", text)
    return _CONTROL.sub("", text)


def clean_json(value):
    """JSON-able data with every string (keys included) cleaned and non-finite numbers made None."""
    if isinstance(value, str):
        return clean_text(value, multiline=True)
    if isinstance(value, dict):
        return {clean_text(str(key), multiline=True): clean_json(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [clean_json(item) for item in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def column_limit(model, name):
    """The declared length of model's string column name, or None (no limit, or not a string)."""
    column = model.__table__.columns.get(name)
    return getattr(column.type, "length", None) if column is not None else None


@functools.cache
def _column_rules(model):
    """{column name: (the length a string is cut to or None, a JSON column)} of model, worked out once: looked
    up per field of every record, the table's column collection was a third of a 10,000-job sync's normalizing."""
    return {column.key: (None if column.key in _IDENTIFIERS else column_limit(model, column.key),
                         isinstance(column.type, sa.JSON))
            for column in model.__table__.columns}


def fit_record(model, record):
    """record with each string cleaned and capped at its column's length, JSON columns cleaned.

    The last step before a record is written: whatever built it, nothing in it can
    be refused by the database for its characters or its length (ids are not cut).
    """
    rules = _column_rules(model)
    fitted = {}
    for name, value in record.items():
        limit, is_json = rules.get(name, (None, False))
        if isinstance(value, str):
            value = clean_text(value)
            if limit:
                value = value[:limit]
        elif is_json and value is not None:
            value = clean_json(value)
        fitted[name] = value
    return fitted


@dataclass
class SweepJob:
    """One job as the customers sweep shows it."""
    job_id: str
    job_number: str | None
    service_date: date
    job_type: int | None


@dataclass
class SweepOpportunity:
    """An opportunity with at least one job in the window, plus its customer's contact fields."""
    opportunity_id: str
    quote_number: str | None
    status: int | None
    customer_name: str
    customer_phone: str | None
    customer_email: str | None
    jobs: list[SweepJob] = field(default_factory=list)
    fingerprint: str = ""
    raw: dict = field(default_factory=dict)


_NAME = column_limit(TruckJourney, "customer_name")
_PHONE = column_limit(TruckJourney, "customer_phone")
_EMAIL = column_limit(TruckJourney, "customer_email")
_QUOTE = column_limit(TruckJourney, "quote_number")
_JOB_NUMBER = column_limit(TruckJourney, "job_number")
_ARRIVAL_WINDOW = column_limit(TruckJourney, "arrival_window")
_ADDRESS = column_limit(TruckJourney, "origin_address")
_BRANCH_NAME = column_limit(Location, "name")


def parse_service_date(value):
    """A date from "2026-07-20", "2026-07-20T00:00:00", 20260720 or "20260720"; None otherwise."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int):
        text = str(value)
    else:
        text = str(value).strip()
    try:
        if len(text) == 8 and text.isdigit():
            return date(int(text[:4]), int(text[4:6]), int(text[6:]))
        if len(text) >= 10 and text[4] == "-" and text[7] == "-":
            return date.fromisoformat(text[:10])
    except ValueError:
        return None
    return None


def _text(value, limit=None):
    """A clean string or None: numbers become text, blanks become None, at most limit characters."""
    if value is None or isinstance(value, (dict, list, bool)):
        return None
    text = clean_text(str(value)).strip()
    if not text:
        return None
    return text[:limit].rstrip() if limit else text


def _int(value):
    try:
        return int(value) if value is not None and not isinstance(value, bool) else None
    except (TypeError, ValueError):
        return None


def _money(value):
    """A Decimal with cents, or None for anything that is not a finite number."""
    if value is None or isinstance(value, bool):
        return None
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None
    if not amount.is_finite() or abs(amount) * 100 > _MAX_CENTS:
        return None   # not money we could store: left out, not a failed sync
    return amount.quantize(Decimal("0.01"))


def _cents(value):
    """Whole cents from a money amount, or None."""
    amount = _money(value)
    return int(amount * 100) if amount is not None else None


def fingerprint(payload):
    """A stable SHA-256 of JSON-able data (key order does not matter)."""
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def sweep_opportunities(customers, start, end, warnings=None):
    """Opportunities from one or more sweep pages with jobs whose service date is in [start, end].

    An opportunity that matches the window may carry jobs on other dates: those are
    dropped here. Returns {opportunity_id: SweepOpportunity}; later pages win when the
    same opportunity appears twice (pages can shift while we read).
    """
    warnings = warnings if warnings is not None else []
    found = {}
    for customer in customers or ():
        if not isinstance(customer, dict):
            warnings.append("sweep: skipped a customer entry that is not an object")
            continue
        name = _text(customer.get("name"), _NAME) or ""
        phone = _text(customer.get("phoneNumber"), _PHONE)
        email = _text(customer.get("emailAddress"), _EMAIL)
        for opportunity in customer.get("opportunities") or ():
            if not isinstance(opportunity, dict) or not _text(opportunity.get("id")):
                warnings.append(f"sweep: customer {customer.get('id')} has an opportunity without an id")
                continue
            jobs = []
            for job in opportunity.get("jobs") or ():
                parsed = _sweep_job(job, warnings)
                if parsed is not None and start <= parsed.service_date <= end:
                    jobs.append(parsed)
            if not jobs:
                continue
            opportunity_id = _text(opportunity["id"])
            found[opportunity_id] = SweepOpportunity(
                opportunity_id=opportunity_id,
                quote_number=_text(opportunity.get("quoteNumber"), _QUOTE),
                status=_int(opportunity.get("status")),
                customer_name=name, customer_phone=phone, customer_email=email,
                jobs=jobs,
                # What the sweep shows of this opportunity and its customer: when it is
                # unchanged, a detail call would most likely return nothing new.
                fingerprint=fingerprint({"opportunity": opportunity, "name": name, "phone": phone, "email": email}),
                raw={"customer": {k: v for k, v in customer.items() if k != "opportunities"},
                     "opportunity": opportunity},
            )
    return found


def detail_opportunity(opportunity_id, detail, start, end, fingerprint="", warnings=None):
    """A SweepOpportunity built from opportunity detail alone (a webhook names it; no sweep read it).

    Jobs come from detail's jobs[] (jobDate), kept only inside [start, end] as the sweep
    would; the customer from detail's customer. fingerprint is the last sweep's, passed
    through so a later sweep that shows nothing new does not read the detail again.
    Call only with detail that passed malformed_detail.
    """
    warnings = warnings if warnings is not None else []
    customer = detail.get("customer") if isinstance(detail.get("customer"), dict) else {}
    jobs = [job for job in (_sweep_job(entry, warnings) for entry in detail["jobs"])
            if job is not None and start <= job.service_date <= end]
    return SweepOpportunity(
        opportunity_id=str(opportunity_id),
        quote_number=_text(detail.get("quoteNumber"), _QUOTE),
        status=_int(detail.get("status")),
        customer_name=_text(customer.get("name"), _NAME) or "",
        customer_phone=_text(customer.get("phoneNumber"), _PHONE),
        customer_email=_text(customer.get("emailAddress"), _EMAIL),
        jobs=jobs, fingerprint=fingerprint,
        raw={"customer": customer, "opportunity": {"id": str(opportunity_id)}, "source": "webhook"},
    )


def malformed_customer(customer):
    """Why a sweep entry is not a documented customer, or None when it is one.

    A customer is an object with an id whose `opportunities` (when present) is a list
    of objects. Anything else is junk from upstream: counted and skipped, never read.
    """
    if not isinstance(customer, dict):
        return f"an entry that is a {type(customer).__name__}, not a customer object"
    if not _text(customer.get("id")):
        return "a customer without an id"
    opportunities = customer.get("opportunities")
    if opportunities is not None and (not isinstance(opportunities, list)
                                      or not all(isinstance(o, dict) for o in opportunities)):
        return f"customer {_text(customer.get('id'))} with opportunities that are not a list of objects"
    return None


def malformed_detail(detail, opportunity_id):
    """Why an opportunity detail is not the documented shape, or None when it is.

    Detail decides removals ("this job is no longer in its opportunity"), so a body
    without a jobs list, or about another opportunity, must never be read as one.
    """
    if not isinstance(detail, dict):
        return f"a {type(detail).__name__}, not an opportunity object"
    if not isinstance(detail.get("jobs"), list):
        return "an opportunity without a jobs list"
    if not all(isinstance(job, dict) for job in detail["jobs"]):
        return "an opportunity whose jobs are not objects"
    if detail.get("id") is not None and _text(detail.get("id")) != str(opportunity_id):
        return f"opportunity {_text(detail.get('id'))} instead of {opportunity_id}"
    return None


def _sweep_job(job, warnings):
    if not isinstance(job, dict):
        warnings.append("sweep: skipped a job entry that is not an object")
        return None
    job_id = _text(job.get("id"))
    service_date = parse_service_date(job.get("serviceDate", job.get("jobDate")))
    if not job_id or service_date is None:
        warnings.append(f"sweep: skipped job {job_id or '?'}: missing id or service date")
        return None
    return SweepJob(job_id=job_id, job_number=_text(job.get("jobNumber"), _JOB_NUMBER), service_date=service_date,
                    job_type=_int(job.get("type")))


def format_hour(hours):
    """8.5 -> "8:30 AM"; None for anything that is not an hour of the day."""
    try:
        value = float(hours)
    except (TypeError, ValueError):
        return None
    if not 0 <= value < 24:
        return None
    hour = int(value)
    minute = int(round((value - hour) * 60))
    if minute == 60:
        hour, minute = hour + 1, 0
    suffix = "AM" if hour % 24 < 12 else "PM"
    return f"{(hour % 12) or 12}:{minute:02d} {suffix}"


def arrival_window_text(window):
    """A readable arrival window from SmartMoving's {description, startTime, endTime}."""
    if not isinstance(window, dict):
        return None, None
    start = window.get("startTime")
    start_hour = float(start) if isinstance(start, (int, float)) and not isinstance(start, bool) else None
    if start_hour is not None and not 0 <= start_hour < 24:
        start_hour = None   # NaN, infinities and hours outside the day place no job
    description = _text(window.get("description"), _ARRIVAL_WINDOW)
    if description:
        return description, start_hour
    begin, finish = format_hour(window.get("startTime")), format_hour(window.get("endTime"))
    if begin and finish:
        return f"{begin} – {finish}", start_hour
    return begin, start_hour


def job_status(opportunity_status, detail_job=None):
    """One status word for the board from the opportunity status and the job's confirmation."""
    name = OPPORTUNITY_STATUS.get(opportunity_status)
    if name in ("CANCELLED", "LOST", "BAD_LEAD", "COMPLETED", "CLOSED"):
        return name
    if isinstance(detail_job, dict):
        if detail_job.get("completedAtUtc"):
            return "COMPLETED"
        if detail_job.get("confirmed") is True or detail_job.get("confirmedAtUtc"):
            return "CONFIRMED"
    return name or "BOOKED"


def find_detail_job(detail, sweep_job):
    """The job inside opportunity detail matching sweep_job, by id, else by job number."""
    jobs = detail.get("jobs") if isinstance(detail, dict) else None
    if not isinstance(jobs, list):
        return None
    for job in jobs:
        if isinstance(job, dict) and _text(job.get("id")) == sweep_job.job_id:
            return job
    for job in jobs:
        if isinstance(job, dict) and sweep_job.job_number and _text(job.get("jobNumber")) == sweep_job.job_number:
            return job
    return None


def _addresses(detail_job):
    addresses = detail_job.get("jobAddresses") if isinstance(detail_job, dict) else None
    if not isinstance(addresses, list):
        return None, None
    texts = []
    for item in addresses:
        text = _text(item.get("fullAddress") if isinstance(item, dict) else item, _ADDRESS)
        if text:
            texts.append(text)
    if not texts:
        return None, None
    # Ordered origin -> destination; extra stops in between are kept in externalData.
    return texts[0], (texts[-1] if len(texts) > 1 else None)


class CrewIds(NamedTuple):
    """How a job's crew becomes our CrewMember ids: by SmartMoving id, else by a name only one person has."""
    by_external_id: dict   # {SmartMoving crew id: CrewMember.id}
    by_unique_name: dict   # {casefolded name: CrewMember.id}, names shared by two people left out


def crew_member_ids(crew, crew_ids):
    """Our CrewMember id of each (name, SmartMoving id) of crew, None where neither resolves."""
    ids = []
    for name, external_id in crew:
        member_id = crew_ids.by_external_id.get(external_id) if external_id else None
        if member_id is None and not external_id:
            # Live detail lists names: a name two people share stays unresolved, never a guess.
            member_id = crew_ids.by_unique_name.get(" ".join(name.split()).casefold())
        ids.append(member_id)
    return ids


def job_crew(detail_job, crew_by_id):
    """[(name, SmartMoving crew id or None)] of a job's crew, in SmartMoving's order.

    A member given by id (an object with an id, or a string crew_by_id knows) keeps its
    id, so two people sharing a name stay two people; a bare unknown string is a name
    without an id. Repeats (same id, or same name without an id) are listed once.
    """
    members = detail_job.get("crewMembers") if isinstance(detail_job, dict) else None
    crew, seen = [], set()
    for member in members or ():
        if isinstance(member, dict):
            external_id = _text(member.get("id"))
            name = _text(member.get("name")) or crew_by_id.get(external_id or "")
        else:
            text = _text(member)
            external_id = text if text in crew_by_id else None
            name = crew_by_id.get(text, text) if text else None
        key = ("id", external_id) if external_id else ("name", name)
        if name and key not in seen:
            seen.add(key)
            crew.append((name, external_id))
    return crew


def actual_charges_cents(detail_job):
    """The sum of a job's actualCharges totalCost in cents; None when SmartMoving lists none."""
    charges = detail_job.get("actualCharges") if isinstance(detail_job, dict) else None
    amounts = [_cents(charge.get("totalCost")) for charge in charges or () if isinstance(charge, dict)]
    amounts = [amount for amount in amounts if amount is not None]
    return sum(amounts) if amounts else None


def job_record(opportunity, sweep_job, detail=None, crew_by_id=None, warnings=None, default_hours=None,
               crew_ids=None):
    """The SmartMoving-owned columns of one job, from the sweep and (when fetched) the detail.

    Without detail the record carries only what the sweep knows; the caller keeps the
    stored enrichment in that case rather than blanking it. default_hours: the span of a
    job without a labour estimate (DEFAULT_JOB_HOURS). crew_ids (a CrewIds): with it, the
    record also carries smartmoving_crew_ids, our CrewMember ids aligned with smartmoving_crew.
    """
    warnings = warnings if warnings is not None else []
    record = {
        "external_id": sweep_job.job_id,
        "opportunity_external_id": opportunity.opportunity_id,
        "job_number": sweep_job.job_number,
        "quote_number": opportunity.quote_number,
        "customer_name": opportunity.customer_name,
        "customer_phone": opportunity.customer_phone,
        "customer_email": opportunity.customer_email,
        "scheduled_date": sweep_job.service_date,
        "job_type": JOB_TYPES.get(sweep_job.job_type, f"Type {sweep_job.job_type}" if sweep_job.job_type else None),
        "status": job_status(opportunity.status),
    }
    if detail is None:
        return fit_record(TruckJourney, record)

    detail_job = find_detail_job(detail, sweep_job)
    if detail_job is None:
        warnings.append(f"detail: opportunity {opportunity.opportunity_id} lacks job {sweep_job.job_id}")
    customer = detail.get("customer") if isinstance(detail.get("customer"), dict) else {}
    totals = detail.get("estimatedTotal") if isinstance(detail.get("estimatedTotal"), dict) else {}
    branch = detail.get("branch") if isinstance(detail.get("branch"), dict) else {}
    origin, destination = _addresses(detail_job)
    window, start_hour = arrival_window_text((detail_job or {}).get("arrivalWindow"))
    status_code = _int(detail.get("status"))
    span_start, span_end = compute_span(sweep_job.service_date, start_hour, (detail_job or {}).get("jobTime"),
                                        default_hours)
    crew = job_crew(detail_job, crew_by_id or {})
    record.update({
        "customer_name": _text(customer.get("name"), _NAME) or record["customer_name"],
        "customer_phone": _text(customer.get("phoneNumber"), _PHONE) or record["customer_phone"],
        "customer_email": _text(customer.get("emailAddress"), _EMAIL) or record["customer_email"],
        "quote_number": _text(detail.get("quoteNumber"), _QUOTE) or record["quote_number"],
        # estimatedTotal belongs to the opportunity, not the job.
        "estimated_value_cents": _cents(totals.get("finalTotal")),
        "origin_address": origin,
        "destination_address": destination,
        "arrival_window": window,
        "arrival_start_hour": start_hour,
        "span_start": span_start,
        "span_end": span_end,
        "actual_charges_cents": actual_charges_cents(detail_job),
        "tips_cents": _cents((detail_job or {}).get("totalTips")),
        "smartmoving_crew": [name for name, _ in crew],
        "status": job_status(status_code if status_code is not None else opportunity.status, detail_job),
        "branch_name": _text(branch.get("name"), _BRANCH_NAME),
        "crew_required": crew_size.crew_required(detail, detail_job),
    })
    if crew_ids is not None:
        record["smartmoving_crew_ids"] = crew_member_ids(crew, crew_ids)
    return fit_record(TruckJourney, record)


def external_data(opportunity, sweep_job, detail):
    """The raw SmartMoving JSON kept with a job: its sweep entries and its slice of the detail."""
    data = {"sweep": opportunity.raw}
    if detail is not None:
        data["detail"] = {k: v for k, v in detail.items() if k != "jobs"}
        data["detailJob"] = find_detail_job(detail, sweep_job)
    return data   # cleaned with the rest of the record by fit_record


def branch_record(branch):
    """Location columns from one /api/branches entry, or None without an id."""
    if not isinstance(branch, dict) or not _text(branch.get("id")):
        return None
    dispatch = branch.get("dispatchLocation") if isinstance(branch.get("dispatchLocation"), dict) else {}
    return {
        "external_id": _text(branch["id"]),
        "name": _text(branch.get("name"), column_limit(Location, "name")) or f"Branch {branch['id']}",
        "phone": _text(branch.get("phoneNumber"), column_limit(Location, "phone")),
        "address": _text(dispatch.get("fullAddress"), column_limit(Location, "address")),
        "external_data": clean_json(branch),
    }


# SmartMoving's free-text role names -> our CrewRole value (the first word found wins).
_ROLE_WORDS = (("driver", "driver"), ("foreman", "foreman"), ("lead", "foreman"), ("crew chief", "foreman"))


def default_crew_role(role_name):
    """Our role (driver, foreman, mover) suggested by SmartMoving's role name; None without one.

    Only a default: the sync writes it where our own role is still empty, never over it.
    """
    text = (role_name or "").casefold()
    if not text.strip():
        return None
    for word, role in _ROLE_WORDS:
        if word in text:
            return role
    return "mover"


def crew_record(member):
    """CrewMember columns from one /api/crew-members entry, or None without an id.

    branch_external_id is the member's branch; the syncer turns it into location_id.
    """
    if not isinstance(member, dict) or not _text(member.get("id")):
        return None
    branch = member.get("branch") if isinstance(member.get("branch"), dict) else {}
    role = member.get("role") if isinstance(member.get("role"), dict) else {}
    return {
        "external_id": _text(member["id"]),
        "name": _text(member.get("name"), column_limit(CrewMember, "name")) or "Unnamed crew member",
        "status": _text(member.get("status"), column_limit(CrewMember, "status")),
        "branch_external_id": _text(branch.get("id")),
        "role_name": _text(role.get("name"), column_limit(CrewMember, "role_name")),
    }
