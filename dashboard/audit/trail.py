"""Writing and reading the audit trail (AuditEvent rows), always within the reader's scope."""
import sqlalchemy as sa

from dashboard.db import db
from dashboard.models import AuditEvent


def record(company_id, user_id, action, target=None, **detail):
    """Add one audit event to the session (the caller commits with the change it describes)."""
    event = AuditEvent(company_id=company_id, user_id=user_id, action=action, target=(target or None) and target[:120],
                       detail=detail or None)
    db.session.add(event)
    return event
