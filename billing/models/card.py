"""A card a customer saved for later payments. Paydesk keeps only what the portal shows (brand,
last four digits, expiry) and the processor's payment-method id; the number never reaches us."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from billing.db import Base
from billing.models._columns import fk, instant, pk


class SavedCard(Base):
    __tablename__ = "saved_cards"

    id: Mapped[int] = pk()
    account_id: Mapped[int] = fk("accounts.id", index=False)
    processor_payment_method_id: Mapped[str] = mapped_column(String(64), unique=True)
    brand: Mapped[str] = mapped_column(String(32))
    last4: Mapped[str] = mapped_column(String(4))
    exp_month: Mapped[int] = mapped_column(Integer)
    exp_year: Mapped[int] = mapped_column(Integer)
    is_default: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    created_at: Mapped[datetime] = instant(nullable=False)
    removed_at: Mapped[datetime | None] = instant()

    __table_args__ = (
        CheckConstraint("exp_month BETWEEN 1 AND 12", name="exp_month"),
        Index("ix_saved_cards_account_removed", "account_id", "removed_at"),
    )

    @property
    def is_active(self) -> bool:
        return self.removed_at is None

    @property
    def brand_label(self) -> str:
        return {"amex": "American Express", "mastercard": "Mastercard"}.get(
            self.brand, self.brand.replace("_", " ").title()
        )

    @property
    def expiry(self) -> str:
        return f"{self.exp_month:02d}/{self.exp_year % 100:02d}"
