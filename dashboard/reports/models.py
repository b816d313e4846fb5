"""The reports' rollup: each (company, day)'s operational facts per location, and the data version they came from.

A cache of derived data. A day's facts are worked out from its jobs (all locations of the
company) and kept with the stamps the board's version uses (job count, newest sync, newest
dispatch edit), a fingerprint of the settings they depend on, and the instant after which
"now" changes them (the evening before or the morning of the day passing). A read compares
versions and recomputes only the days that moved (dashboard/reports/rollup.py).
"""
from datetime import date
from datetime import datetime

import sqlalchemy as sa
import sqlalchemy.orm as so

from dashboard.db import Base

# location_key of jobs without a location: a primary key column cannot be NULL, and ids start at 1.
NO_LOCATION_KEY = 0


class ReportDay(Base):
    """The data version one (company, day)'s stored facts were computed from."""
    __tablename__ = "report_days"

    company_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("companies.id", ondelete="CASCADE"),
                                                  primary_key=True)
    day: so.Mapped[date] = so.mapped_column(primary_key=True)
    job_count: so.Mapped[int]
    last_sync_at: so.Mapped[datetime | None]
    dispatch_updated_at: so.Mapped[datetime | None]
    # BOARD_DAY_HOURS, DEFAULT_JOB_HOURS and the company's time zone, hashed (rollup.settings_fingerprint).
    settings: so.Mapped[str] = so.mapped_column(sa.String(32))
    # Naive UTC: the next eve or morning cutoff after computed_at; NULL when both had passed.
    valid_until: so.Mapped[datetime | None]
    computed_at: so.Mapped[datetime]


class ReportDayFacts(Base):
    """One location's operational facts on one day (location_key NO_LOCATION_KEY: jobs without one)."""
    __tablename__ = "report_day_facts"

    company_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("companies.id", ondelete="CASCADE"),
                                                  primary_key=True)
    day: so.Mapped[date] = so.mapped_column(primary_key=True)
    location_key: so.Mapped[int] = so.mapped_column(primary_key=True)
    # Health (live jobs that are not cancelled)
    jobs: so.Mapped[int] = so.mapped_column(default=0)
    eve_due: so.Mapped[int] = so.mapped_column(default=0)
    assigned_by_eve: so.Mapped[int] = so.mapped_column(default=0)
    morning_due: so.Mapped[int] = so.mapped_column(default=0)
    unassigned_at_morning: so.Mapped[int] = so.mapped_column(default=0)
    conflicts: so.Mapped[int] = so.mapped_column(default=0)
    # Usage: hours booked inside the working day (capacity is read live: it follows today's trucks and crew)
    truck_hours: so.Mapped[float] = so.mapped_column(sa.Float, default=0.0)
    crew_hours: so.Mapped[float] = so.mapped_column(sa.Float, default=0.0)
    # EstimateActual (live jobs with both an estimate and actual charges)
    estimate_jobs: so.Mapped[int] = so.mapped_column(default=0)
    estimated_cents: so.Mapped[int] = so.mapped_column(sa.BigInteger, default=0)
    actual_cents: so.Mapped[int] = so.mapped_column(sa.BigInteger, default=0)
    tips_cents: so.Mapped[int] = so.mapped_column(sa.BigInteger, default=0)
    # Tally (summary.tally_columns): every job of the day and location, removed ones counted apart; money
    # NULL when no job carried it, so "no data" and zero stay apart as on the page.
    tally_jobs: so.Mapped[int] = so.mapped_column(default=0)
    tally_completed: so.Mapped[int] = so.mapped_column(default=0)
    tally_cancelled: so.Mapped[int] = so.mapped_column(default=0)
    tally_removed: so.Mapped[int] = so.mapped_column(default=0)
    tally_estimated_cents: so.Mapped[int | None] = so.mapped_column(sa.BigInteger)
    tally_actual_cents: so.Mapped[int | None] = so.mapped_column(sa.BigInteger)
    tally_tips_cents: so.Mapped[int | None] = so.mapped_column(sa.BigInteger)
    tally_actual_jobs: so.Mapped[int] = so.mapped_column(default=0)
