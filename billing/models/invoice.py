"""Invoices and their lines. How the amounts relate is defined in billing/totals.py and enforced
here by CHECK constraints; which status may follow which is the TRANSITIONS table."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from billing.db import Base
from billing.models._columns import fk, instant, money, pk
from billing.models.account import Account


class InvoiceStatus(StrEnum):
    DRAFT = "draft"
    OPEN = "open"
    PAID = "paid"
    VOID = "void"
    UNCOLLECTIBLE = "uncollectible"


# The only status moves there are. Paid and void are final (money after payment moves through
# refunds and credit notes, never by reopening an invoice).
TRANSITIONS: dict[InvoiceStatus, frozenset[InvoiceStatus]] = {
    InvoiceStatus.DRAFT: frozenset({InvoiceStatus.OPEN}),
    InvoiceStatus.OPEN: frozenset(
        {InvoiceStatus.PAID, InvoiceStatus.VOID, InvoiceStatus.UNCOLLECTIBLE}
    ),
    InvoiceStatus.UNCOLLECTIBLE: frozenset({InvoiceStatus.PAID, InvoiceStatus.VOID}),
    InvoiceStatus.PAID: frozenset(),
    InvoiceStatus.VOID: frozenset(),
}

_STATUSES = ", ".join(f"'{s}'" for s in InvoiceStatus)


class Invoice(Base):
    __tablename__ = "invoices"

    id: Mapped[int] = pk()
    account_id: Mapped[int] = fk("accounts.id", index=False)
    series: Mapped[str] = mapped_column(String(16), default="INV", server_default="INV")
    number: Mapped[str | None] = mapped_column(String(32))  # assigned on finalize
    status: Mapped[InvoiceStatus] = mapped_column(String(16), default=InvoiceStatus.DRAFT)
    currency: Mapped[str] = mapped_column(String(3))
    issue_date: Mapped[date] = mapped_column(Date)
    due_date: Mapped[date] = mapped_column(Date)
    subtotal_minor: Mapped[int] = money()
    discount_minor: Mapped[int] = money()
    tax_minor: Mapped[int] = money()
    total_minor: Mapped[int] = money()
    amount_paid_minor: Mapped[int] = money()
    amount_refunded_minor: Mapped[int] = money()
    amount_due_minor: Mapped[int] = money()
    memo: Mapped[str] = mapped_column(Text, default="", server_default="")
    quote_id: Mapped[int | None] = mapped_column(BigInteger)  # linked when quotes exist
    subscription_id: Mapped[int | None] = mapped_column(BigInteger)  # linked by recurring billing
    created_at: Mapped[datetime] = instant(nullable=False)
    finalized_at: Mapped[datetime | None] = instant()
    paid_at: Mapped[datetime | None] = instant()
    voided_at: Mapped[datetime | None] = instant()

    account: Mapped[Account] = relationship(lazy="raise")
    lines: Mapped[list[InvoiceLine]] = relationship(
        back_populates="invoice", order_by="InvoiceLine.position", cascade="all, delete-orphan"
    )

    __table_args__ = (
        UniqueConstraint("series", "number", name="uq_invoices_series_number"),
        CheckConstraint(f"status IN ({_STATUSES})", name="status"),
        CheckConstraint("status = 'draft' OR number IS NOT NULL", name="numbered_once_issued"),
        CheckConstraint(
            "subtotal_minor >= 0 AND discount_minor >= 0 AND tax_minor >= 0 AND total_minor >= 0"
            " AND amount_paid_minor >= 0 AND amount_refunded_minor >= 0 AND amount_due_minor >= 0",
            name="non_negative",
        ),
        CheckConstraint("discount_minor <= subtotal_minor", name="discount_within_subtotal"),
        CheckConstraint(
            "total_minor = subtotal_minor - discount_minor + tax_minor", name="total_equation"
        ),
        CheckConstraint("amount_paid_minor <= total_minor", name="paid_within_total"),
        CheckConstraint("amount_refunded_minor <= amount_paid_minor", name="refund_within_paid"),
        CheckConstraint("amount_due_minor = total_minor - amount_paid_minor", name="due_equation"),
        CheckConstraint("due_date >= issue_date", name="due_after_issue"),
        # The portal lists an account's invoices newest first with keyset pagination.
        Index("ix_invoices_account_issue", "account_id", "issue_date", "id"),
        Index("ix_invoices_account_status_issue", "account_id", "status", "issue_date", "id"),
    )

    @property
    def display_number(self) -> str:
        return self.number or f"Draft {self.id}"

    def is_overdue(self, today: date) -> bool:
        return self.status == InvoiceStatus.OPEN and self.due_date < today

    def __repr__(self) -> str:
        return f"<Invoice {self.id} {self.display_number} {self.status}>"


class InvoiceLine(Base):
    __tablename__ = "invoice_lines"

    id: Mapped[int] = pk()
    invoice_id: Mapped[int] = fk("invoices.id", ondelete="CASCADE")
    position: Mapped[int] = mapped_column(Integer)
    description: Mapped[str] = mapped_column(String(500))
    quantity: Mapped[Decimal] = mapped_column(Numeric(18, 4))
    unit_amount_minor: Mapped[int] = mapped_column(BigInteger)
    tax_rate: Mapped[Decimal] = mapped_column(Numeric(7, 4), default=Decimal(0))  # percent
    amount_minor: Mapped[int] = money()
    discount_minor: Mapped[int] = money()
    tax_minor: Mapped[int] = money()

    invoice: Mapped[Invoice] = relationship(back_populates="lines")

    __table_args__ = (
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint(
            "unit_amount_minor >= 0 AND amount_minor >= 0 AND discount_minor >= 0"
            " AND tax_minor >= 0 AND tax_rate >= 0",
            name="non_negative",
        ),
        CheckConstraint("discount_minor <= amount_minor", name="discount_within_amount"),
        UniqueConstraint("invoice_id", "position", name="uq_invoice_lines_invoice_position"),
    )


class NumberSequence(Base):
    """The next number per series (INV-2026, CN-2026, …); locked while a number is taken."""

    __tablename__ = "number_sequences"

    series: Mapped[str] = mapped_column(String(32), primary_key=True)
    next_value: Mapped[int] = mapped_column(BigInteger, default=1)
