"""Processor webhook events, stored once by the processor's event id (a unique column), then
processed by a job. The stored payload lets staff replay an event whose processing failed."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, CheckConstraint, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from billing.db import Base
from billing.models._columns import instant, pk


class WebhookEventStatus(StrEnum):
    RECEIVED = "received"  # stored; the processing job has not finished yet
    PROCESSED = "processed"
    IGNORED = "ignored"  # a type Paydesk does not act on, or about something not ours
    FAILED = "failed"  # processing raised; staff can replay it


class WebhookEvent(Base):
    __tablename__ = "webhook_events"

    id: Mapped[int] = pk()
    processor: Mapped[str] = mapped_column(String(16))
    processor_event_id: Mapped[str] = mapped_column(String(255), unique=True)
    type: Mapped[str] = mapped_column(String(100))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[WebhookEventStatus] = mapped_column(
        String(16), default=WebhookEventStatus.RECEIVED
    )
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    last_error: Mapped[str] = mapped_column(Text, default="", server_default="")
    note: Mapped[str] = mapped_column(Text, default="", server_default="")
    received_at: Mapped[datetime] = instant(nullable=False)
    processed_at: Mapped[datetime | None] = instant()

    __table_args__ = (
        CheckConstraint(
            "status IN ('received', 'processed', 'ignored', 'failed')", name="status"
        ),
        Index("ix_webhook_events_received", "received_at", "id"),
        Index("ix_webhook_events_status_received", "status", "received_at"),
    )
