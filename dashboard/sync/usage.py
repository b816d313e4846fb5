"""The quota plan's inputs from the database: this month's calls, what a sweep costs, when each day was swept."""
import logging
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from flask import current_app

from dashboard.db import db
from dashboard.models import ApiCall
from dashboard.models import Company
from dashboard.models import RunStatus
from dashboard.models import SyncRun
from dashboard.models import utcnow
from dashboard.sync import plan

log = logging.getLogger(__name__)

HISTORY = timedelta(days=3)       # how far back the per-day costs are averaged
RECENT_RUNS = 100                 # successful runs searched for a sweep's page count (a day or more of them)
_warned = set()                   # (company, month, level) already logged by this process


def quota_and_tier(config=None, company=None):
    """(monthly quota, tier): company's own plan when set (its tier's quota), else SMARTMOVING_MONTHLY_QUOTA
    when set, else the tier's quota."""
    config = config or current_app.config
    own = getattr(company, "smartmoving_plan", None)
    if own in plan.QUOTAS:
        return plan.QUOTAS[own], own
    quota = config.get("SMARTMOVING_MONTHLY_QUOTA")
    tier = plan.tier_for(config.get("SMARTMOVING_PLAN"), quota)
    if quota is None:
        quota = plan.QUOTAS[tier]
    return quota, tier


def month_used(company_id, now=None):
    """SmartMoving calls of company_id this calendar month (UTC)."""
    now = now or utcnow()
    month_start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    return db.session.scalar(sa.select(sa.func.count(ApiCall.id)).where(
        ApiCall.company_id == company_id, ApiCall.called_at >= month_start)) or 0


def costs(company_id, now=None):
    """plan.Costs from the last days' ledger and runs (what this company's sweeps and reads really cost)."""
    now = now or utcnow()
    since = max(now - HISTORY, now.replace(day=1, hour=0, minute=0, second=0, microsecond=0) - HISTORY)
    days = max((now - since).total_seconds() / 86400, 1 / 24)
    kind = sa.case((ApiCall.path.like("/api/opportunities/%"), "detail"),
                   (ApiCall.path.like("/api/customers%"), "sweep"), else_="reference")
    by_kind = dict(db.session.execute(sa.select(kind, sa.func.count(ApiCall.id)).where(
        ApiCall.company_id == company_id, ApiCall.called_at >= since).group_by(kind)).all())
    # What the newest one-day and two-day sweeps cost, from the newest successful runs only: a
    # company whose plan never sweeps one day alone must not have its whole history read for it.
    pages = {}
    for start, end, fetched in db.session.execute(
            sa.select(SyncRun.window_start, SyncRun.window_end, SyncRun.pages_fetched).where(
                SyncRun.company_id == company_id, SyncRun.finished_at.is_not(None),
                SyncRun.status == RunStatus.SUCCESS.value)
            .order_by(SyncRun.finished_at.desc()).limit(RECENT_RUNS)):
        pages.setdefault(start == end, fetched)
    one_day, two_days = pages.get(True), pages.get(False)
    two_days = two_days or (one_day * 2 if one_day else 2)
    one_day = one_day or max(1, -(-two_days * 6 // 10))   # a day is a little over half of two
    # Every detail call counts as unavoidable here, refreshes included: the plan
    # then errs on the side of the quota.
    return plan.Costs(today_sweep=one_day, tomorrow_sweep=one_day, both_sweep=two_days,
                      first_reads_per_day=by_kind.get("detail", 0) / days,
                      reference_per_day=by_kind.get("reference", 0) / days)


def last_swept(company_id, day):
    """When a SUCCESS or PARTIAL run last swept day (naive UTC start), or None."""
    return db.session.scalar(sa.select(sa.func.max(SyncRun.started_at)).where(
        SyncRun.company_id == company_id, SyncRun.window_start <= day, SyncRun.window_end >= day,
        SyncRun.status.in_([RunStatus.SUCCESS.value, RunStatus.PARTIAL.value, RunStatus.RUNNING.value])))


def business_hours(config=None):
    """SYNC_BUSINESS_HOURS as (start, end) hours."""
    return plan.parse_hours((config or current_app.config).get("SYNC_BUSINESS_HOURS") or "06:00-20:00")


def plan_now(company_id, now=None, slack_minutes=0.0):
    """The plan's decision for company_id now (naive UTC), from the database's record of the month."""
    now = now or utcnow()
    company = db.session.get(Company, company_id)
    zone = ZoneInfo(company.timezone)
    local_now = now.replace(tzinfo=UTC).astimezone(zone)
    quota, tier = quota_and_tier(company=company)
    if tier == plan.PREMIUM and not current_app.config.get("SMARTMOVING_WEBHOOK_SECRET"):
        log.debug("premium plan without webhooks: sweeps are the only source of changes")

    def local(value):
        return value.replace(tzinfo=UTC).astimezone(zone) if value else None

    today = local_now.date()
    decision = plan.decide(tier, quota, month_used(company_id, now), local_now, business_hours(),
                           costs(company_id, now), last_today=local(last_swept(company_id, today)),
                           last_tomorrow=local(last_swept(company_id, today + timedelta(days=1))),
                           slack_minutes=slack_minutes)
    db.session.commit()
    return decision


def warn_if_high(company_id, quota, used, now=None):
    """Log the 75 % / 90 % warning once per level and month; the sentence (for the page) or None."""
    sentence = plan.warning_for(quota, used)
    if sentence:
        now = now or datetime.now(UTC)
        key = (company_id, now.strftime("%Y-%m"), round(used / quota, 2) >= plan.WARN_AT[-1])
        if key not in _warned:
            _warned.add(key)
            log.warning(sentence, extra={"company_id": company_id, "used": used, "quota": quota})
    return sentence
