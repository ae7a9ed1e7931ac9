"""The business's own details, edited in admin and printed on invoices (a single row, id 1)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from billing.db import Base
from billing.models._columns import instant, pk


class CompanySettings(Base):
    __tablename__ = "company_settings"

    id: Mapped[int] = pk()
    name: Mapped[str] = mapped_column(String(200), default="Your Company")
    address: Mapped[str] = mapped_column(Text, default="", server_default="")
    email: Mapped[str] = mapped_column(String(320), default="", server_default="")
    phone: Mapped[str] = mapped_column(String(64), default="", server_default="")
    tax_id: Mapped[str] = mapped_column(String(64), default="", server_default="")
    default_currency: Mapped[str] = mapped_column(String(3), default="USD")
    invoice_footer: Mapped[str] = mapped_column(Text, default="", server_default="")
    # Deferred: pages read the name on every request; only the logo route and PDFs need the bytes.
    logo: Mapped[bytes | None] = mapped_column(LargeBinary, deferred=True)
    logo_mime: Mapped[str | None] = mapped_column(String(32))
    # An offline payment beyond what its invoice owes becomes account credit (else it is refused).
    allow_account_credit: Mapped[bool] = mapped_column(Boolean, default=True, server_default="1")
    # What an accepted quote becomes without staff: "off", "draft" or "finalize" (QuoteConversion).
    quote_auto_convert: Mapped[str] = mapped_column(String(8), default="off", server_default="off")
    updated_at: Mapped[datetime | None] = instant()
