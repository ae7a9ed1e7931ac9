"""Writing audit entries. Every service that changes money or status calls `record` in its own
transaction, so the entry commits (or rolls back) with the change."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from billing.models import AuditEntry


def record(
    session: Session,
    *,
    actor: str,
    action: str,
    subject: Any,
    now: datetime,
    account_id: int | None = None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> AuditEntry:
    """Append one entry about `subject` (a mapped object with an id) and return it."""
    session.flush()
    entry = AuditEntry(
        at=now,
        actor=actor,
        account_id=account_id,
        subject_type=type(subject).__tablename__,
        subject_id=subject.id,
        action=action,
        before=before,
        after=after,
    )
    session.add(entry)
    return entry


def actor_of(user: Any) -> str:
    """'staff:3' or 'portal_user:7' for a signed-in person; services receive this explicitly."""
    return f"{'staff' if user.realm == 'staff' else 'portal_user'}:{user.id}"
