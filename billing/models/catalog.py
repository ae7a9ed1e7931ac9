"""The catalog invoice lines are picked from: products with a unit price per currency, and tax
rates (a percentage, exclusive of the price or inclusive in it). Archived entries stay for the
invoices that used them but are no longer offered."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    ForeignKey,
    Numeric,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from billing.db import Base, BigIntPK
from billing.models._columns import fk, instant, pk


class TaxRate(Base):
    __tablename__ = "tax_rates"

    id: Mapped[int] = pk()
    name: Mapped[str] = mapped_column(String(100))  # "VAT", "Sales tax (CA)"
    percentage: Mapped[Decimal] = mapped_column(Numeric(7, 4))
    is_inclusive: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    is_active: Mapped[bool] = mapped_column(Boolean, default=True, server_default="1")
    created_at: Mapped[datetime] = instant(nullable=False)

    __table_args__ = (
        CheckConstraint("percentage >= 0 AND percentage <= 100", name="percentage_range"),
    )

    @property
    def label(self) -> str:
        """'VAT 20% (included)' as staff pick it."""
        percent = format(self.percentage.normalize(), "f") if self.percentage is not None else ""
        return f"{self.name} {percent}%" + (" (included)" if self.is_inclusive else "")


product_tax_rates = Table(
    "product_tax_rates",
    Base.metadata,
    Column(
        "product_id",
        BigIntPK,
        ForeignKey("products.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column(
        "tax_rate_id",
        BigIntPK,
        ForeignKey("tax_rates.id", ondelete="CASCADE"),
        primary_key=True,
    ),
)


class Product(Base):
    __tablename__ = "products"

    id: Mapped[int] = pk()
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="", server_default="")
    is_active: Mapped[bool] = mapped_column(Boolean, default=True, server_default="1")
    created_at: Mapped[datetime] = instant(nullable=False)
    updated_at: Mapped[datetime | None] = instant()

    prices: Mapped[list[ProductPrice]] = relationship(
        order_by="ProductPrice.currency", cascade="all, delete-orphan", lazy="selectin"
    )
    tax_rates: Mapped[list[TaxRate]] = relationship(
        secondary=product_tax_rates, order_by="TaxRate.id", lazy="selectin"
    )

    def price_in(self, currency: str) -> int | None:
        """The unit price in `currency` (minor units), or None when it has none."""
        return next((p.unit_amount_minor for p in self.prices if p.currency == currency), None)


class ProductPrice(Base):
    __tablename__ = "product_prices"

    id: Mapped[int] = pk()
    product_id: Mapped[int] = fk("products.id", ondelete="CASCADE")
    currency: Mapped[str] = mapped_column(String(3))
    unit_amount_minor: Mapped[int] = mapped_column(BigInteger)

    __table_args__ = (
        UniqueConstraint("product_id", "currency", name="uq_product_prices_product_currency"),
        CheckConstraint("unit_amount_minor >= 0", name="non_negative"),
    )
