"""The email outbox. A row is written in the same transaction as the change that caused it and
sent by a job; with no SMTP configured it stays readable in the admin's email log."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from billing.db import Base
from billing.models._columns import instant, pk


class EmailStatus(StrEnum):
    QUEUED = "queued"  # waiting for the send job
    SENT = "sent"
    LOGGED = "logged"  # no SMTP server is configured: kept readable in the admin's email log
    FAILED = "failed"  # gave up after repeated SMTP errors


class Email(Base):
    __tablename__ = "emails"

    id: Mapped[int] = pk()
    account_id: Mapped[int | None] = mapped_column(BigInteger, index=True)
    to_address: Mapped[str] = mapped_column(String(320))
    cc: Mapped[str] = mapped_column(Text, default="", server_default="")  # "a@x, b@y"
    subject: Mapped[str] = mapped_column(String(300))
    template: Mapped[str] = mapped_column(String(64))
    text_body: Mapped[str] = mapped_column(Text)
    html_body: Mapped[str] = mapped_column(Text)
    # Attachments are rendered when sending: [{"kind": "invoice_pdf", "id": 12}]
    attachments: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    # Bodies holding a sign-in link are blanked once delivered, so no live token rests in the db.
    is_sensitive: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    status: Mapped[EmailStatus] = mapped_column(String(8), default=EmailStatus.QUEUED)
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    last_error: Mapped[str] = mapped_column(Text, default="", server_default="")
    created_at: Mapped[datetime] = instant(nullable=False)
    dispatched_at: Mapped[datetime | None] = instant()
    sent_at: Mapped[datetime | None] = instant()

    __table_args__ = (Index("ix_emails_status_created", "status", "created_at"),)
