"""A customer account: the business's customer, billed in one currency, owning portal users."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from billing.db import Base
from billing.models._columns import instant, pk


class Account(Base):
    __tablename__ = "accounts"

    id: Mapped[int] = pk()
    name: Mapped[str] = mapped_column(String(200))  # legal name, printed on invoices
    billing_email: Mapped[str] = mapped_column(String(320))
    address: Mapped[str] = mapped_column(Text, default="", server_default="")
    tax_id: Mapped[str] = mapped_column(String(64), default="", server_default="")
    currency: Mapped[str] = mapped_column(String(3))
    locale: Mapped[str] = mapped_column(String(16), default="en_US", server_default="en_US")
    processor_customer_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    # The customer's id in another system (a CRM or shop); orders from the API match on it.
    external_id: Mapped[str | None] = mapped_column(String(100), unique=True, index=True)
    created_at: Mapped[datetime] = instant(nullable=False)
    # Payment terms: invoices fall due this many days after issue unless staff set a date.
    payment_terms_days: Mapped[int] = mapped_column(Integer, default=30, server_default="30")
    # Extra addresses copied on invoice emails, one per line (validated by the customers service).
    invoice_cc: Mapped[str] = mapped_column(Text, default="", server_default="")
    updated_at: Mapped[datetime | None] = instant()

    __table_args__ = (
        CheckConstraint(
            "payment_terms_days >= 0 AND payment_terms_days <= 3650", name="terms_range"
        ),
        # The admin's customer list is ordered (and paged) by name, then id.
        Index("ix_accounts_name_id", "name", "id"),
    )

    @property
    def cc_addresses(self) -> list[str]:
        """The extra invoice email recipients, in the order staff gave them."""
        return [line.strip() for line in (self.invoice_cc or "").splitlines() if line.strip()]

    def __repr__(self) -> str:
        return f"<Account {self.id} {self.name!r}>"
