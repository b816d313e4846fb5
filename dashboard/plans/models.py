"""The plan tables (issue 18): published versions, who was told what, links, outbox, confirmations.

Timestamps are naive UTC (models.utcnow); `day` is the company-local calendar day.
"""
from datetime import date
from datetime import datetime

import sqlalchemy as sa
import sqlalchemy.orm as so

from dashboard.db import Base
from dashboard.models import utcnow


class PlanVersion(Base):
    """Plan version N of one day: frozen when a dispatcher sends it (1, 2, 3... per company and day)."""
    __tablename__ = "plan_versions"
    __table_args__ = (sa.UniqueConstraint("company_id", "day", "version", name="uq_plan_company_day_version"),)

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    company_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("companies.id"))
    day: so.Mapped[date]
    version: so.Mapped[int]
    # The location ids it covered; None = every location of the company.
    location_ids: so.Mapped[list | None] = so.mapped_column(sa.JSON)
    published_at: so.Mapped[datetime] = so.mapped_column(default=utcnow)
    published_by: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    messages: so.Mapped[int] = so.mapped_column(default=0)
    unreachable: so.Mapped[list | None] = so.mapped_column(sa.JSON)
    # The origin personal links are built on (PUBLIC_BASE_URL, else the publishing request's host),
    # kept so the delivery worker, which has no request, builds the same links.
    base_url: so.Mapped[str | None] = so.mapped_column(sa.String(300))


class PlanAssignment(Base):
    """One person on one job in one version, with the job as that person was told it."""
    __tablename__ = "plan_assignments"
    __table_args__ = (
        sa.Index("ix_plan_assignments_member_journey", "crew_member_id", "journey_id"),
        sa.Index("ix_plan_assignments_version", "plan_version_id"),
    )

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    plan_version_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("plan_versions.id", ondelete="CASCADE"))
    crew_member_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("crew_members.id"))
    journey_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("truck_journeys.id"))
    fingerprint: so.Mapped[str] = so.mapped_column(sa.String(64))
    # snapshot.job_snapshot: {"jobNumber","window","start","origin","destination","crew","truck","notes"}
    snapshot: so.Mapped[dict] = so.mapped_column(sa.JSON)


class CrewLink(Base):
    """A personal link: one crew member, one day. The URL token is derived from the id (links.py)."""
    __tablename__ = "crew_links"
    __table_args__ = (sa.Index("ix_crew_links_member_day", "crew_member_id", "day"),)

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    company_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("companies.id"))
    crew_member_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("crew_members.id"))
    day: so.Mapped[date]
    plan_version_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("plan_versions.id", ondelete="CASCADE"))
    created_at: so.Mapped[datetime] = so.mapped_column(default=utcnow)
    # The end of `day` in company time, as naive UTC.
    expires_at: so.Mapped[datetime]
    revoked_at: so.Mapped[datetime | None]


class OutboxMessage(Base):
    """A message to one person about one version, written with the version (transactional outbox).

    Bodies hold a `{link}` placeholder: the personal link is filled in at send or display
    time (its token is derived from the link id and the secret, never stored).
    """
    __tablename__ = "outbox_messages"
    __table_args__ = (
        # One message per person, day, version and channel: publishing twice never queues twice.
        sa.UniqueConstraint("crew_member_id", "day", "version", "channel", name="uq_outbox_member_day_version"),
        sa.Index("ix_outbox_status_due", "status", "next_attempt_at"),
        sa.Index("ix_outbox_company_day", "company_id", "day"),
        sa.Index("ix_outbox_version", "plan_version_id"),
    )

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    company_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("companies.id"))
    plan_version_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("plan_versions.id", ondelete="CASCADE"))
    crew_member_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("crew_members.id"))
    crew_link_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("crew_links.id", ondelete="SET NULL"))
    day: so.Mapped[date]
    version: so.Mapped[int]
    channel: so.Mapped[str] = so.mapped_column(sa.String(8))          # email | sms | none
    recipient: so.Mapped[str] = so.mapped_column(sa.String(254), default="")
    subject: so.Mapped[str] = so.mapped_column(sa.String(200), default="")
    body_text: so.Mapped[str] = so.mapped_column(sa.Text, default="")
    body_html: so.Mapped[str | None] = so.mapped_column(sa.Text)
    status: so.Mapped[str] = so.mapped_column(sa.String(10), default="queued")  # queued|sending|sent|failed|unsent
    attempts: so.Mapped[int] = so.mapped_column(default=0)
    next_attempt_at: so.Mapped[datetime | None]
    last_error: so.Mapped[str | None] = so.mapped_column(sa.String(500))
    sent_at: so.Mapped[datetime | None]
    created_at: so.Mapped[datetime] = so.mapped_column(default=utcnow)
    claimed_by: so.Mapped[str | None] = so.mapped_column(sa.String(120))
    claimed_at: so.Mapped[datetime | None]


class PlanConfirmation(Base):
    """A person's answer to a version; the newest row per (crew member, day) is the answer."""
    __tablename__ = "plan_confirmations"
    __table_args__ = (
        sa.Index("ix_plan_confirmations_member_day", "crew_member_id", "day"),
        sa.Index("ix_plan_confirmations_company_day", "company_id", "day"),
    )

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    company_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("companies.id"))
    crew_member_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("crew_members.id"))
    day: so.Mapped[date]
    plan_version_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("plan_versions.id", ondelete="CASCADE"))
    crew_link_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("crew_links.id", ondelete="SET NULL"))
    state: so.Mapped[str] = so.mapped_column(sa.String(10))           # confirmed | declined
    reason: so.Mapped[str | None] = so.mapped_column(sa.String(300))
    at: so.Mapped[datetime] = so.mapped_column(default=utcnow)
    remote_addr: so.Mapped[str | None] = so.mapped_column(sa.String(64))
