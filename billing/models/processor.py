"""The processor link the business sets up in Admin → Settings → Payments (a single row).

Secrets are stored only as Fernet tokens (billing/secrets.py) next to a masked hint
("sk_…••••1234") that the settings page shows, so showing the page never decrypts anything.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from billing.db import Base
from billing.models._columns import instant, pk


class ProcessorSettings(Base):
    __tablename__ = "processor_settings"

    id: Mapped[int] = pk()
    stripe_secret_key_encrypted: Mapped[str | None] = mapped_column(Text)
    stripe_secret_key_hint: Mapped[str] = mapped_column(String(40), default="", server_default="")
    stripe_publishable_key: Mapped[str] = mapped_column(
        String(255), default="", server_default=""
    )
    stripe_webhook_secret_encrypted: Mapped[str | None] = mapped_column(Text)
    stripe_webhook_secret_hint: Mapped[str] = mapped_column(
        String(40), default="", server_default=""
    )
    # Customers may pay part of an invoice (at least one whole unit of its currency).
    allow_partial_payments: Mapped[bool] = mapped_column(
        Boolean, default=True, server_default="1"
    )
    updated_at: Mapped[datetime | None] = instant()
