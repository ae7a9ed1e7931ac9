"""The Pay Now widget: a card payment form other web sites embed in an <iframe>.

`PayWidget` holds what staff configure in admin (a single row in practice): the public key in the
widget's URL (not a secret: it is in every page that embeds it), the currency, a fixed amount or
limits for an amount the payer enters, which web origins may frame it, and whether each payment
also becomes a paid invoice. `WidgetPayment` ties each payment made through it to what the payer
typed (name, email, description) and to the invoice made for it, if any.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, CheckConstraint, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from billing.db import Base, BigIntPK
from billing.models._columns import fk, instant, pk


class PayWidget(Base):
    __tablename__ = "pay_widgets"

    id: Mapped[int] = pk()
    public_key: Mapped[str] = mapped_column(String(32), unique=True)
    title: Mapped[str] = mapped_column(String(100))
    currency: Mapped[str] = mapped_column(String(3))
    fixed_amount_minor: Mapped[int | None] = mapped_column(BigInteger)  # None: the payer enters it
    min_amount_minor: Mapped[int] = mapped_column(BigInteger)
    max_amount_minor: Mapped[int] = mapped_column(BigInteger)
    allowed_origins: Mapped[str] = mapped_column(Text, default="", server_default="")  # one a line
    create_invoice: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    is_active: Mapped[bool] = mapped_column(Boolean, default=True, server_default="1")
    created_at: Mapped[datetime] = instant(nullable=False)
    updated_at: Mapped[datetime | None] = instant()

    __table_args__ = (
        CheckConstraint(
            "fixed_amount_minor IS NULL OR fixed_amount_minor > 0", name="fixed_amount_positive"
        ),
        CheckConstraint(
            "min_amount_minor > 0 AND max_amount_minor >= min_amount_minor", name="amount_range"
        ),
    )

    @property
    def origins(self) -> list[str]:
        return [line.strip() for line in (self.allowed_origins or "").splitlines() if line.strip()]


class WidgetPayment(Base):
    __tablename__ = "widget_payments"

    id: Mapped[int] = pk()
    widget_id: Mapped[int] = fk("pay_widgets.id")
    payment_id: Mapped[int] = mapped_column(BigIntPK, ForeignKey("payments.id"), unique=True)
    invoice_id: Mapped[int | None] = fk("invoices.id", nullable=True, index=False)
    payer_name: Mapped[str] = mapped_column(String(200))
    payer_email: Mapped[str] = mapped_column(String(320))
    description: Mapped[str] = mapped_column(String(500), default="", server_default="")
    ip: Mapped[str] = mapped_column(String(45), default="", server_default="")
    created_at: Mapped[datetime] = instant(nullable=False)
