"""A customer account: the business's customer, billed in one currency, owning portal users."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, Text
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
    created_at: Mapped[datetime] = instant(nullable=False)

    def __repr__(self) -> str:
        return f"<Account {self.id} {self.name!r}>"
