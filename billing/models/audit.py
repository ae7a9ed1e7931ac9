"""The append-only audit log: who changed what money or status, when, before and after.

Append-only is enforced by the database (triggers in the migration refuse UPDATE and DELETE).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from billing.db import Base
from billing.models._columns import instant, pk


class AuditEntry(Base):
    __tablename__ = "audit_entries"

    id: Mapped[int] = pk()
    at: Mapped[datetime] = instant(nullable=False)
    actor: Mapped[str] = mapped_column(String(64))  # "staff:3", "portal_user:7", "system", "job:…"
    account_id: Mapped[int | None] = mapped_column(BigInteger, index=True)
    subject_type: Mapped[str] = mapped_column(String(32))
    subject_id: Mapped[int] = mapped_column(BigInteger)
    action: Mapped[str] = mapped_column(String(64))
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    __table_args__ = (Index("ix_audit_entries_subject", "subject_type", "subject_id", "id"),)
