"""SQLAlchemy 2.0 models. Every business key is unique per company (tenant).

Timestamps are naive UTC (`utcnow()`); "today" is computed in the company's zone
by dashboard.timeutil, never from the server clock's zone.
"""
import enum
from datetime import UTC
from datetime import date
from datetime import datetime
from decimal import Decimal

import sqlalchemy as sa
import sqlalchemy.orm as so

from dashboard.db import Base


def utcnow():
    """The current instant as naive UTC, the form every timestamp column stores."""
    return datetime.now(UTC).replace(tzinfo=None)


def database_now(connection):
    """utcnow by the clock every process shares: PostgreSQL's (SQLite lives on one host, so its own)."""
    if connection.dialect.name == "postgresql":
        # clock_timestamp(), not now(): now() is frozen at the start of the transaction.
        return connection.execute(sa.text("SELECT timezone('UTC', clock_timestamp())")).scalar_one()
    return utcnow()


class DataSource(str, enum.Enum):
    SMARTMOVING = "SMARTMOVING"
    MANUAL = "MANUAL"


class SyncStatus(str, enum.Enum):
    SYNCED = "SYNCED"      # matches SmartMoving as of lastSyncAt
    PENDING = "PENDING"    # seen in the sweep, detail not fetched yet (retried next run)
    FAILED = "FAILED"      # detail fetch failed; sweep fields are current, the rest may be old
    REMOVED = "REMOVED"    # gone from SmartMoving (soft: local dispatch data kept)


class DispatchStatus(str, enum.Enum):
    """Our own dispatch progress for a job; SmartMoving never writes it."""
    UNASSIGNED = "UNASSIGNED"
    ASSIGNED = "ASSIGNED"
    EN_ROUTE = "EN_ROUTE"
    IN_PROGRESS = "IN_PROGRESS"
    COMPLETED = "COMPLETED"
    ON_HOLD = "ON_HOLD"


class RunStatus(str, enum.Enum):
    RUNNING = "RUNNING"
    SUCCESS = "SUCCESS"
    PARTIAL = "PARTIAL"    # finished, but some opportunities failed (retried next run)
    FAILED = "FAILED"


user_locations = sa.Table(
    "user_locations",
    Base.metadata,
    sa.Column("user_id", sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("location_id", sa.ForeignKey("locations.id", ondelete="CASCADE"), primary_key=True),
)


class Company(Base):
    __tablename__ = "companies"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    name: so.Mapped[str] = so.mapped_column(sa.String(120), unique=True)
    timezone: so.Mapped[str] = so.mapped_column(sa.String(64), default="America/Toronto")
    is_default: so.Mapped[bool] = so.mapped_column(default=False)
    # The NAME of the environment variable holding this company's API key: secrets
    # live only in the environment, never in the database.
    api_key_env: so.Mapped[str | None] = so.mapped_column(sa.String(120))
    # Seeded by demo mode (its jobs came from the built-in sandbox): live start-up says so.
    is_demo: so.Mapped[bool] = so.mapped_column(default=False)
    # When branches and crew were last fetched (they change rarely: fetched on a TTL).
    reference_synced_at: so.Mapped[datetime | None]
    created_at: so.Mapped[datetime] = so.mapped_column(default=utcnow)
    # Per-company SmartMoving credentials (issue 21 §4), set on the Companies page or with
    # `flask set-smartmoving-key`: Fernet tokens under CREDENTIALS_KEY, never shown again.
    api_key_encrypted: so.Mapped[str | None] = so.mapped_column(sa.Text)
    api_key_last4: so.Mapped[str | None] = so.mapped_column(sa.String(4))
    key_set_at: so.Mapped[datetime | None]
    smartmoving_client_id: so.Mapped[str | None] = so.mapped_column(sa.String(120))
    # "basic" or "premium"; None: SMARTMOVING_PLAN.
    smartmoving_plan: so.Mapped[str | None] = so.mapped_column(sa.String(16))
    webhook_secret_encrypted: so.Mapped[str | None] = so.mapped_column(sa.Text)
    # A disabled company is never synced (its data stays).
    is_active: so.Mapped[bool] = so.mapped_column(default=True)

    locations: so.Mapped[list["Location"]] = so.relationship(back_populates="company")

    def __repr__(self):
        return f"<Company {self.name}>"


class Location(Base):
    """A branch: synced from SmartMoving /api/branches, or created by hand (MANUAL)."""
    __tablename__ = "locations"
    __table_args__ = (sa.UniqueConstraint("company_id", "external_id", name="uq_location_company_external"),)

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    company_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("companies.id"), index=True)
    name: so.Mapped[str] = so.mapped_column(sa.String(200))
    phone: so.Mapped[str | None] = so.mapped_column(sa.String(64))
    address: so.Mapped[str | None] = so.mapped_column(sa.String(400))
    external_id: so.Mapped[str | None] = so.mapped_column(sa.String(64))
    external_data: so.Mapped[dict | None] = so.mapped_column(sa.JSON)
    data_source: so.Mapped[str] = so.mapped_column(sa.String(16), default=DataSource.MANUAL.value)
    last_sync_at: so.Mapped[datetime | None]
    sync_status: so.Mapped[str | None] = so.mapped_column(sa.String(16))
    created_at: so.Mapped[datetime] = so.mapped_column(default=utcnow)

    company: so.Mapped[Company] = so.relationship(back_populates="locations")

    def __repr__(self):
        return f"<Location {self.name}>"


class User(Base):
    __tablename__ = "users"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    company_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("companies.id"), index=True)
    email: so.Mapped[str] = so.mapped_column(sa.String(254), unique=True)
    full_name: so.Mapped[str] = so.mapped_column(sa.String(120), default="")
    # How this person appears in crew lists: drivers and movers see jobs whose crew
    # (ours, or SmartMoving's when we assigned none) names them.
    crew_name: so.Mapped[str | None] = so.mapped_column(sa.String(120))
    role: so.Mapped[str] = so.mapped_column(sa.String(20))
    password_hash: so.Mapped[str] = so.mapped_column(sa.String(255))
    is_active_user: so.Mapped[bool] = so.mapped_column(default=True)
    # Rotated on password change, role change or disable: it is what the session
    # cookie carries, so rotating it signs the user out everywhere.
    session_token: so.Mapped[str] = so.mapped_column(sa.String(64), unique=True)
    created_at: so.Mapped[datetime] = so.mapped_column(default=utcnow)
    last_login_at: so.Mapped[datetime | None]
    # A demo-mode user (known password): live start-up disables every one of them.
    is_demo: so.Mapped[bool] = so.mapped_column(default=False)
    # The crew member this user is (drivers and movers): My jobs, the driver's API scope and
    # their own time off follow this link, never a name match.
    crew_member_id: so.Mapped[int | None] = so.mapped_column(
        sa.ForeignKey("crew_members.id"), index=True)

    company: so.Mapped[Company] = so.relationship()
    locations: so.Mapped[list[Location]] = so.relationship(secondary=user_locations)
    crew_member: so.Mapped["CrewMember | None"] = so.relationship()

    # Flask-Login protocol
    @property
    def is_authenticated(self):
        return True

    @property
    def is_active(self):
        return self.is_active_user

    @property
    def is_anonymous(self):
        return False

    def get_id(self):
        return self.session_token

    def __repr__(self):
        return f"<User {self.email} {self.role}>"


class ApiToken(Base):
    """A bearer token for the JSON API; only its SHA-256 is stored."""
    __tablename__ = "api_tokens"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    user_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: so.Mapped[str] = so.mapped_column(sa.String(80), default="")
    token_hash: so.Mapped[str] = so.mapped_column(sa.String(64), unique=True)
    prefix: so.Mapped[str] = so.mapped_column(sa.String(16))
    created_at: so.Mapped[datetime] = so.mapped_column(default=utcnow)
    # Written at most once a minute, so a busy script does not write on every call.
    last_used_at: so.Mapped[datetime | None]
    # Revoked tokens are kept (the token page and the audit trail show them) but never
    # authenticate again, whatever later happens to their user.
    revoked_at: so.Mapped[datetime | None]
    # None: never expires. An expired token answers 401 like a revoked one.
    expires_at: so.Mapped[datetime | None]

    user: so.Mapped[User] = so.relationship()


class LoginAttempt(Base):
    """Failed sign-ins, kept in the database so throttling holds across processes."""
    __tablename__ = "login_attempts"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    email: so.Mapped[str] = so.mapped_column(sa.String(254), index=True)
    remote_addr: so.Mapped[str | None] = so.mapped_column(sa.String(64), index=True)
    # The known_device cookie's device id: a known browser's failures are counted apart.
    device: so.Mapped[str | None] = so.mapped_column(sa.String(64))
    attempted_at: so.Mapped[datetime] = so.mapped_column(default=utcnow, index=True)


class Truck(Base):
    """A truck: SmartMoving has no truck resource, so trucks are ours alone."""
    __tablename__ = "trucks"
    __table_args__ = (sa.UniqueConstraint("company_id", "name", name="uq_truck_company_name"),)

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    company_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("companies.id"), index=True)
    location_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("locations.id"))
    name: so.Mapped[str] = so.mapped_column(sa.String(80))
    is_active: so.Mapped[bool] = so.mapped_column(default=True)


def truck_label(name):
    """ "Truck 101" for a truck named "101" or "Truck 101": messages never say "Truck Truck 101"."""
    return name if name.casefold().startswith("truck") else f"Truck {name}"


class CrewRole(str, enum.Enum):
    """Our own role for a crew member (SmartMoving's role_name, when given, is only a hint)."""
    DRIVER = "driver"
    FOREMAN = "foreman"
    MOVER = "mover"


class CrewMember(Base):
    """A person on the roster: synced from SmartMoving /api/crew-members, with fields of our own.

    SmartMoving owns external_id, name, status, branch and role_name; role, phone,
    email and notes are ours (edited on /crew) and no sync writes them.
    """
    __tablename__ = "crew_members"
    __table_args__ = (sa.UniqueConstraint("company_id", "external_id", name="uq_crew_company_external"),
                      sa.Index("ix_crew_members_changed", "company_id", "changed_at"))

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    company_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("companies.id"), index=True)
    external_id: so.Mapped[str] = so.mapped_column(sa.String(64))
    name: so.Mapped[str] = so.mapped_column(sa.String(120))
    status: so.Mapped[str | None] = so.mapped_column(sa.String(20))
    branch_external_id: so.Mapped[str | None] = so.mapped_column(sa.String(64))
    role_name: so.Mapped[str | None] = so.mapped_column(sa.String(60))
    last_sync_at: so.Mapped[datetime | None]
    # The branch as our location (resolved from branch_external_id at sync).
    location_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("locations.id"))
    # Ours: a CrewRole value, contacts for the plan's messages, free notes.
    role: so.Mapped[str | None] = so.mapped_column(sa.String(20))
    phone: so.Mapped[str | None] = so.mapped_column(sa.String(64))
    email: so.Mapped[str | None] = so.mapped_column(sa.String(254))
    notes: so.Mapped[str | None] = so.mapped_column(sa.Text)
    # When a write last touched the row: the company's newest is one seek, so boards notice any roster change on
    # their next poll (jobs.crew_roster). The sync and the crew page stamp it in commit order (dashboard/stamps.py);
    # any other write (ORM or Core) gets utcnow from the default.
    changed_at: so.Mapped[datetime | None] = so.mapped_column(default=utcnow, onupdate=utcnow)

    location: so.Mapped[Location | None] = so.relationship()

    @property
    def is_active(self):
        """Inactive people (SmartMoving status other than active) are never offered for jobs."""
        return (self.status or "active").casefold() == "active"


class TimeOff(Base):
    """When a crew member cannot work, or a truck is out of service: exactly one of the two is set.

    A dated entry covers [starts_at, ends_at) in company-local time (naive). A weekly
    entry (weekday 0 = Monday) recurs every week on that day, all day, with no dates.
    """
    __tablename__ = "time_off"
    __table_args__ = (
        sa.Index("ix_time_off_company_ends", "company_id", "ends_at"),
        sa.CheckConstraint("(crew_member_id IS NULL) <> (truck_id IS NULL)", name="ck_time_off_one_subject"),
    )

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    company_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("companies.id"))
    crew_member_id: so.Mapped[int | None] = so.mapped_column(
        sa.ForeignKey("crew_members.id", ondelete="CASCADE"), index=True)
    truck_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("trucks.id", ondelete="CASCADE"), index=True)
    starts_at: so.Mapped[datetime | None]
    ends_at: so.Mapped[datetime | None]
    weekday: so.Mapped[int | None]
    reason: so.Mapped[str] = so.mapped_column(sa.String(200), default="")
    created_by: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    created_at: so.Mapped[datetime] = so.mapped_column(default=utcnow)


class TruckJourney(Base):
    """One job on the board: a SmartMoving job (keyed by its id) or a MANUAL one.

    Columns fall in two groups. SmartMoving-owned ones are rewritten by every sync
    that sees a change; the local dispatch fields (truck, crew, notes,
    dispatch_status) belong to our users and no sync ever writes them.
    """
    __tablename__ = "truck_journeys"
    __table_args__ = (
        sa.UniqueConstraint("company_id", "external_id", name="uq_journey_company_external"),
        sa.Index("ix_journey_company_date", "company_id", "scheduled_date"),
        # Covers the reports' per day and location sums (index-only; see migration 0006_reports).
        sa.Index("ix_journey_reports", "company_id", "scheduled_date", "location_id", "sync_status", "status",
                 "estimated_value_cents", "actual_charges_cents", "tips_cents"),
        # Covers the polled board's fingerprint (jobs.queries.board_version; migration 0007).
        sa.Index("ix_journey_version", "company_id", "scheduled_date", "last_sync_at", "dispatch_updated_at"),
        # The day's newest dispatch edit in one seek (board_version; migration 0008).
        sa.Index("ix_journey_dispatch_version", "company_id", "scheduled_date", "dispatch_updated_at"),
    )

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    company_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("companies.id"))
    location_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("locations.id"), index=True)

    # SmartMoving-owned
    external_id: so.Mapped[str | None] = so.mapped_column(sa.String(64))
    opportunity_external_id: so.Mapped[str | None] = so.mapped_column(sa.String(64), index=True)
    job_number: so.Mapped[str | None] = so.mapped_column(sa.String(40))
    quote_number: so.Mapped[str | None] = so.mapped_column(sa.String(40))
    customer_name: so.Mapped[str] = so.mapped_column(sa.String(200), default="")
    customer_phone: so.Mapped[str | None] = so.mapped_column(sa.String(64))
    customer_email: so.Mapped[str | None] = so.mapped_column(sa.String(254))
    # Money as whole cents: exact on every database (SQLite has no true decimal type).
    estimated_value_cents: so.Mapped[int | None] = so.mapped_column(sa.BigInteger)
    scheduled_date: so.Mapped[date]
    origin_address: so.Mapped[str | None] = so.mapped_column(sa.String(400))
    destination_address: so.Mapped[str | None] = so.mapped_column(sa.String(400))
    arrival_window: so.Mapped[str | None] = so.mapped_column(sa.String(80))
    arrival_start_hour: so.Mapped[float | None]
    # The job's span in company-local time (naive): arrival-window start to start +
    # SmartMoving's labour + travel estimate (else DEFAULT_JOB_HOURS). Conflicts and
    # truck lanes are judged on it, so it is computed once, at sync or on save.
    span_start: so.Mapped[datetime | None]
    span_end: so.Mapped[datetime | None]
    # Job-level money from opportunity detail, when SmartMoving gives it (cents).
    actual_charges_cents: so.Mapped[int | None] = so.mapped_column(sa.BigInteger)
    tips_cents: so.Mapped[int | None] = so.mapped_column(sa.BigInteger)
    smartmoving_crew: so.Mapped[list | None] = so.mapped_column(sa.JSON)
    # Our CrewMember ids of SmartMoving's crew (resolved from its crew ids at sync).
    smartmoving_crew_ids: so.Mapped[list | None] = so.mapped_column(sa.JSON)
    # How many people the job needs: SmartMoving's crew size when given, else the move-size default.
    crew_required: so.Mapped[int | None]
    # When the opportunity's detail (addresses, window, crew, money) was last read from SmartMoving.
    details_as_of: so.Mapped[datetime | None]
    status: so.Mapped[str] = so.mapped_column(sa.String(20), default="BOOKED")
    job_type: so.Mapped[str | None] = so.mapped_column(sa.String(40))
    external_data: so.Mapped[dict | None] = so.mapped_column(sa.JSON)
    content_hash: so.Mapped[str | None] = so.mapped_column(sa.String(64))
    data_source: so.Mapped[str] = so.mapped_column(sa.String(16), default=DataSource.SMARTMOVING.value)
    last_sync_at: so.Mapped[datetime | None]
    sync_status: so.Mapped[str] = so.mapped_column(sa.String(16), default=SyncStatus.SYNCED.value)
    sync_error: so.Mapped[str | None] = so.mapped_column(sa.String(500))
    removed_at: so.Mapped[datetime | None]
    # A removal that a sync held back (too many at once, or unconfirmed): the job stays
    # on the board flagged until a later run, a webhook or an admin confirms or clears it.
    removal_pending_at: so.Mapped[datetime | None]
    removal_reason: so.Mapped[str | None] = so.mapped_column(sa.String(200))

    # Local dispatch fields: ours, never touched by sync
    truck_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("trucks.id", ondelete="SET NULL"))
    crew: so.Mapped[list | None] = so.mapped_column(sa.JSON)
    # Aligned with crew: the CrewMember id of each name (None for a name typed by hand).
    crew_member_ids: so.Mapped[list | None] = so.mapped_column(sa.JSON)
    notes: so.Mapped[str | None] = so.mapped_column(sa.Text)
    dispatch_status: so.Mapped[str] = so.mapped_column(sa.String(20), default=DispatchStatus.UNASSIGNED.value)
    dispatch_updated_at: so.Mapped[datetime | None]
    dispatch_updated_by: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))

    created_at: so.Mapped[datetime] = so.mapped_column(default=utcnow)

    location: so.Mapped[Location | None] = so.relationship()
    truck: so.Mapped[Truck | None] = so.relationship()

    @property
    def estimated_value(self):
        """The opportunity's estimated final total as a Decimal, or None."""
        if self.estimated_value_cents is None:
            return None
        return Decimal(self.estimated_value_cents) / 100

    @property
    def effective_crew(self):
        """The crew to show: our assignment when we made one, else SmartMoving's."""
        return list(self.crew or self.smartmoving_crew or [])

    @property
    def effective_crew_ids(self):
        """The CrewMember ids of effective_crew (ours when we assigned a crew, else SmartMoving's)."""
        ids = (self.crew_member_ids or []) if self.crew else (self.smartmoving_crew_ids or [])
        return [member_id for member_id in ids if member_id is not None]


class OpportunitySyncState(Base):
    """What the last sync knew of one opportunity, to skip detail calls that would change nothing."""
    __tablename__ = "opportunity_sync_states"
    __table_args__ = (sa.UniqueConstraint("company_id", "external_id", name="uq_oppstate_company_external"),)

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    company_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("companies.id"))
    external_id: so.Mapped[str] = so.mapped_column(sa.String(64))
    sweep_hash: so.Mapped[str | None] = so.mapped_column(sa.String(64))
    detail_fetched_at: so.Mapped[datetime | None]
    last_error: so.Mapped[str | None] = so.mapped_column(sa.String(500))
    failures: so.Mapped[int] = so.mapped_column(default=0)
    # Detail answered 404 while the sweep still listed the opportunity: re-ask only when
    # its sweep fingerprint changes or after next_check_at (backoff 1 h doubling to 24 h).
    not_found_count: so.Mapped[int] = so.mapped_column(default=0)
    next_check_at: so.Mapped[datetime | None]


class SyncRun(Base):
    __tablename__ = "sync_runs"
    # Runs pile up (~4,300 a month at a 10-minute cadence) and are kept: every board poll asks
    # for the newest finished run, and every board for the runs covering its day. These
    # indexes answer both from the newest rows, never by reading a company's whole history.
    __table_args__ = (
        sa.Index("ix_sync_runs_company_finished", "company_id", "finished_at"),
        sa.Index("ix_sync_runs_company_window", "company_id", "window_end"),
        sa.Index("ix_sync_runs_finished", "finished_at"),
    )

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    company_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("companies.id"), index=True)
    trigger: so.Mapped[str] = so.mapped_column(sa.String(20))
    triggered_by: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    window_start: so.Mapped[date]
    window_end: so.Mapped[date]
    status: so.Mapped[str] = so.mapped_column(sa.String(16), default=RunStatus.RUNNING.value, index=True)
    phase: so.Mapped[str | None] = so.mapped_column(sa.String(40))
    started_at: so.Mapped[datetime] = so.mapped_column(default=utcnow)
    heartbeat_at: so.Mapped[datetime | None]
    finished_at: so.Mapped[datetime | None]
    # Where the run's process lives: on start-up (or when its lease blocks a new run) a
    # RUNNING run whose process is gone from this host is failed at once.
    runner_host: so.Mapped[str | None] = so.mapped_column(sa.String(255))
    runner_pid: so.Mapped[int | None]
    pages_fetched: so.Mapped[int] = so.mapped_column(default=0)
    jobs_seen: so.Mapped[int] = so.mapped_column(default=0)
    opportunities_seen: so.Mapped[int] = so.mapped_column(default=0)
    opportunities_to_enrich: so.Mapped[int] = so.mapped_column(default=0)
    opportunities_enriched: so.Mapped[int] = so.mapped_column(default=0)
    opportunities_failed: so.Mapped[int] = so.mapped_column(default=0)
    created: so.Mapped[int] = so.mapped_column(default=0)
    updated: so.Mapped[int] = so.mapped_column(default=0)
    unchanged: so.Mapped[int] = so.mapped_column(default=0)
    removed: so.Mapped[int] = so.mapped_column(default=0)
    removals_held: so.Mapped[int] = so.mapped_column(default=0)
    malformed_records: so.Mapped[int] = so.mapped_column(default=0)
    api_calls: so.Mapped[int] = so.mapped_column(default=0)
    rate_limited: so.Mapped[int] = so.mapped_column(default=0)
    error: so.Mapped[str | None] = so.mapped_column(sa.Text)
    warnings: so.Mapped[list | None] = so.mapped_column(sa.JSON)

    @property
    def rows_written(self):
        return self.created + self.updated + self.removed


class ApiCall(Base):
    """The ledger: one row per HTTP call made to SmartMoving (429s included: they count against the quota)."""
    __tablename__ = "api_calls"
    __table_args__ = (sa.Index("ix_api_calls_company_at", "company_id", "called_at"),)

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    company_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("companies.id"))
    sync_run_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("sync_runs.id", ondelete="SET NULL"),
                                                          index=True)
    called_at: so.Mapped[datetime] = so.mapped_column(default=utcnow)
    method: so.Mapped[str] = so.mapped_column(sa.String(8), default="GET")
    path: so.Mapped[str] = so.mapped_column(sa.String(300))
    status_code: so.Mapped[int | None]
    duration_ms: so.Mapped[int | None]
    error: so.Mapped[str | None] = so.mapped_column(sa.String(300))


class SyncLease(Base):
    """One row per lock name; whoever holds an unexpired lease is the only runner."""
    __tablename__ = "sync_leases"

    name: so.Mapped[str] = so.mapped_column(sa.String(80), primary_key=True)
    owner: so.Mapped[str | None] = so.mapped_column(sa.String(120))
    expires_at: so.Mapped[datetime | None]
    epoch: so.Mapped[int] = so.mapped_column(default=0)
    acquired_at: so.Mapped[datetime | None]


class AuditEvent(Base):
    """Who changed what: dispatch edits, user administration, manual syncs, sign-ins, tokens."""
    __tablename__ = "audit_events"
    __table_args__ = (sa.Index("ix_audit_events_company_at", "company_id", "at"),)

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    company_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("companies.id"), index=True)
    user_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    action: so.Mapped[str] = so.mapped_column(sa.String(60))
    target: so.Mapped[str | None] = so.mapped_column(sa.String(120))
    detail: so.Mapped[dict | None] = so.mapped_column(sa.JSON)
    at: so.Mapped[datetime] = so.mapped_column(default=utcnow)


class WebhookStatus(str, enum.Enum):
    PENDING = "PENDING"        # stored, not yet acted on (also after a crash mid-processing)
    PROCESSED = "PROCESSED"    # acted on: the board reflects it
    FAILED = "FAILED"          # gave up after WEBHOOK_MAX_ATTEMPTS; the next sweep reconciles
    IGNORED = "IGNORED"        # an event type we do not act on (kept and logged)


class WebhookEvent(Base):
    """One SmartMoving webhook delivery, stored before it is answered (dashboard/webhooks)."""
    __tablename__ = "webhook_events"
    __table_args__ = (
        # Identical deliveries within WEBHOOK_DEDUPE_SECONDS share a key: stored once.
        sa.UniqueConstraint("company_id", "dedupe_key", name="uq_webhook_company_dedupe"),
        sa.Index("ix_webhook_company_status", "company_id", "status"),
        sa.Index("ix_webhook_company_received", "company_id", "received_at"),
    )

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    company_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("companies.id"))
    event_type: so.Mapped[str] = so.mapped_column(sa.String(60))
    opportunity_id: so.Mapped[str | None] = so.mapped_column(sa.String(64))
    job_id: so.Mapped[str | None] = so.mapped_column(sa.String(64))
    customer_id: so.Mapped[str | None] = so.mapped_column(sa.String(64))
    payload: so.Mapped[dict] = so.mapped_column(sa.JSON)
    content_hash: so.Mapped[str] = so.mapped_column(sa.String(64))
    dedupe_key: so.Mapped[str] = so.mapped_column(sa.String(80))
    deliveries: so.Mapped[int] = so.mapped_column(default=1)
    received_at: so.Mapped[datetime] = so.mapped_column(default=utcnow)
    processed_at: so.Mapped[datetime | None]
    status: so.Mapped[str] = so.mapped_column(sa.String(16), default=WebhookStatus.PENDING.value)
    attempts: so.Mapped[int] = so.mapped_column(default=0)
    result: so.Mapped[str | None] = so.mapped_column(sa.String(300))
    error: so.Mapped[str | None] = so.mapped_column(sa.String(500))
