"""The upstream change record: one dispatch-relevant field of one job, as SmartMoving changed it."""
from datetime import date
from datetime import datetime

import sqlalchemy as sa
import sqlalchemy.orm as so

from dashboard.db import Base
from dashboard.models import TruckJourney
from dashboard.models import User
from dashboard.models import utcnow

KINDS = ("date", "window", "address", "status", "crew", "removed", "revived", "value")
FINANCIAL_KINDS = frozenset({"value"})


class UpstreamChange(Base):
    """A change SmartMoving made to a job (a sync, a webhook refresh or a removal saw it).

    `dispatched` says whether the job had been planned by us when the change arrived:
    only those are raised (badges, counts, readiness); the rest are kept as history.
    """
    __tablename__ = "upstream_changes"
    __table_args__ = (
        sa.Index("ix_upstream_changes_company_ack", "company_id", "acknowledged_at"),
        sa.Index("ix_upstream_changes_company_day_after", "company_id", "day_after"),
        sa.Index("ix_upstream_changes_company_day_before", "company_id", "day_before"),
    )

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    company_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("companies.id"))
    journey_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("truck_journeys.id", ondelete="CASCADE"),
                                                  index=True)
    kind: so.Mapped[str] = so.mapped_column(sa.String(20))
    before: so.Mapped[str] = so.mapped_column(sa.String(300), default="")
    after: so.Mapped[str] = so.mapped_column(sa.String(300), default="")
    # The job's day before and after the change (the same day unless it moved).
    day_before: so.Mapped[date | None]
    day_after: so.Mapped[date | None]
    dispatched: so.Mapped[bool] = so.mapped_column(default=False)
    at: so.Mapped[datetime] = so.mapped_column(default=utcnow)
    source: so.Mapped[str] = so.mapped_column(sa.String(40), default="")
    sync_run_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("sync_runs.id", ondelete="SET NULL"))
    webhook_event_id: so.Mapped[int | None] = so.mapped_column(
        sa.ForeignKey("webhook_events.id", ondelete="SET NULL"))
    acknowledged_by: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    acknowledged_at: so.Mapped[datetime | None]

    journey: so.Mapped[TruckJourney] = so.relationship()
    acknowledger: so.Mapped[User | None] = so.relationship()
