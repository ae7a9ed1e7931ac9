"""Invoices, their lines and each line's taxes. How the amounts relate is defined in
billing/totals.py and enforced here by CHECK constraints; which status may follow which is the
TRANSITIONS table. Line taxes keep a copy of the rate's name and percentage, so editing a tax
rate later never changes an invoice already written."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, declared_attr, mapped_column, relationship

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


def tax_breakdown(lines) -> list[TaxShare]:
    """The taxes of invoice or quote `lines` summed per (name, percentage, inclusive), in
    first-seen order. Lines written without line taxes count as one exclusive "Tax"."""
    shares: dict[tuple[str, Decimal, bool], int] = {}
    for line in lines:
        taxes = [
            (t.name, Decimal(t.percentage), bool(t.is_inclusive), t.amount_minor)
            for t in line.taxes
        ]
        if not taxes and line.tax_rate:
            taxes = [("Tax", Decimal(line.tax_rate), False, line.tax_minor or 0)]
        for name, percentage, inclusive, amount in taxes:
            key = (name, percentage.normalize(), inclusive)
            shares[key] = shares.get(key, 0) + (amount or 0)
    return [TaxShare(n, p, i, amount) for (n, p, i), amount in shares.items()]


@dataclass(frozen=True)
class TaxShare:
    """One tax of an invoice, summed over its lines."""

    name: str
    percentage: Decimal
    is_inclusive: bool
    amount_minor: int

    @property
    def label(self) -> str:
        """'VAT 20% (included)'"""
        percent = format(self.percentage.normalize(), "f")
        return f"{self.name} {percent}%" + (" (included)" if self.is_inclusive else "")


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
    # The part of credit notes applied to the amount due (see billing/totals.py).
    amount_credited_minor: Mapped[int] = money()
    tax_inclusive_minor: Mapped[int] = money()  # the part of tax_minor inside the prices
    # The invoice discount as staff gave it: a percent, or a fixed amount (0 for none).
    discount_percent: Mapped[Decimal | None] = mapped_column(Numeric(7, 4))
    discount_fixed_minor: Mapped[int] = money()
    net_days: Mapped[int | None] = mapped_column(Integer)  # terms "net N days"; None: a due date
    memo: Mapped[str] = mapped_column(Text, default="", server_default="")
    footer: Mapped[str] = mapped_column(Text, default="", server_default="")
    quote_id: Mapped[int | None] = mapped_column(BigInteger)  # linked when quotes exist
    subscription_id: Mapped[int | None] = mapped_column(BigInteger)  # linked by recurring billing
    created_at: Mapped[datetime] = instant(nullable=False)
    finalized_at: Mapped[datetime | None] = instant()
    paid_at: Mapped[datetime | None] = instant()
    voided_at: Mapped[datetime | None] = instant()
    sent_at: Mapped[datetime | None] = instant()  # last emailed to the customer

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
            " AND amount_paid_minor >= 0 AND amount_refunded_minor >= 0 AND amount_due_minor >= 0"
            " AND amount_credited_minor >= 0 AND tax_inclusive_minor >= 0"
            " AND discount_fixed_minor >= 0",
            name="non_negative",
        ),
        CheckConstraint("discount_minor <= subtotal_minor", name="discount_within_subtotal"),
        CheckConstraint("tax_inclusive_minor <= tax_minor", name="inclusive_within_tax"),
        CheckConstraint(
            "total_minor = subtotal_minor - discount_minor + tax_minor - tax_inclusive_minor",
            name="total_equation",
        ),
        CheckConstraint(
            "amount_paid_minor + amount_credited_minor <= total_minor", name="paid_within_total"
        ),
        CheckConstraint("amount_refunded_minor <= amount_paid_minor", name="refund_within_paid"),
        CheckConstraint(
            "amount_due_minor = total_minor - amount_paid_minor - amount_credited_minor",
            name="due_equation",
        ),
        CheckConstraint(
            "discount_percent IS NULL OR (discount_percent >= 0 AND discount_percent <= 100)",
            name="discount_percent_range",
        ),
        CheckConstraint("net_days IS NULL OR net_days >= 0", name="net_days_non_negative"),
        CheckConstraint("due_date >= issue_date", name="due_after_issue"),
        # The portal lists an account's invoices newest first with keyset pagination.
        Index("ix_invoices_account_issue", "account_id", "issue_date", "id"),
        Index("ix_invoices_account_status_issue", "account_id", "status", "issue_date", "id"),
    )

    @property
    def display_number(self) -> str:
        return self.number or f"Draft {self.id}"

    @property
    def is_draft(self) -> bool:
        return self.status == InvoiceStatus.DRAFT

    def tax_breakdown(self) -> list[TaxShare]:
        """The invoice's taxes summed per (name, percentage, inclusive), for totals blocks."""
        return tax_breakdown(self.lines)

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
    # The sum of the line's tax percentages (shown as "Tax %"); the taxes themselves are in
    # `taxes`. A legacy DraftLine.tax_rate becomes one exclusive tax named "Tax".
    tax_rate: Mapped[Decimal] = mapped_column(Numeric(7, 4), default=Decimal(0))  # percent
    product_id: Mapped[int | None] = fk("products.id", nullable=True, ondelete="SET NULL")
    # The line discount as staff gave it: a percent, or a fixed amount (0 for none).
    discount_percent: Mapped[Decimal | None] = mapped_column(Numeric(7, 4))
    discount_fixed_minor: Mapped[int] = money()
    amount_minor: Mapped[int] = money()
    discount_minor: Mapped[int] = money()  # own discount plus the share of the invoice discount
    tax_minor: Mapped[int] = money()
    tax_inclusive_minor: Mapped[int] = money()

    invoice: Mapped[Invoice] = relationship(back_populates="lines")
    taxes: Mapped[list[InvoiceLineTax]] = relationship(
        order_by="InvoiceLineTax.position", cascade="all, delete-orphan", lazy="selectin"
    )

    __table_args__ = (
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint(
            "unit_amount_minor >= 0 AND amount_minor >= 0 AND discount_minor >= 0"
            " AND tax_minor >= 0 AND tax_rate >= 0 AND tax_inclusive_minor >= 0"
            " AND discount_fixed_minor >= 0",
            name="non_negative",
        ),
        CheckConstraint("discount_minor <= amount_minor", name="discount_within_amount"),
        CheckConstraint("tax_inclusive_minor <= tax_minor", name="inclusive_within_tax"),
        UniqueConstraint("invoice_id", "position", name="uq_invoice_lines_invoice_position"),
    )

    @property
    def total_minor(self) -> int:
        """What the line costs after discounts with exclusive taxes added (billing/totals.py)."""
        return (
            (self.amount_minor or 0)
            - (self.discount_minor or 0)
            + (self.tax_minor or 0)
            - (self.tax_inclusive_minor or 0)
        )


class LineTaxFields:
    """The columns of one tax on one line of an invoice or a quote: a copy of the rate as it
    was (so editing a tax rate later never changes a document already written) and the amount
    it came to."""

    position: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(100))
    percentage: Mapped[Decimal] = mapped_column(Numeric(7, 4))
    is_inclusive: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    amount_minor: Mapped[int] = money()

    @declared_attr
    def tax_rate_id(cls) -> Mapped[int | None]:
        return fk("tax_rates.id", nullable=True, ondelete="SET NULL")


TAX_IN_RANGE = "percentage >= 0 AND percentage <= 100 AND amount_minor >= 0"


class InvoiceLineTax(LineTaxFields, Base):
    """One tax on one invoice line."""

    __tablename__ = "invoice_line_taxes"

    id: Mapped[int] = pk()
    invoice_line_id: Mapped[int] = fk("invoice_lines.id", ondelete="CASCADE")

    __table_args__ = (
        CheckConstraint(TAX_IN_RANGE, name="in_range"),
        UniqueConstraint("invoice_line_id", "position", name="uq_invoice_line_taxes_line_position"),
    )


class NumberSequence(Base):
    """The next number per series (INV-2026, CN-2026, …); locked while a number is taken."""

    __tablename__ = "number_sequences"

    series: Mapped[str] = mapped_column(String(32), primary_key=True)
    next_value: Mapped[int] = mapped_column(BigInteger, default=1)
