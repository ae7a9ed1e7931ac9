"""Quotes: an offer built like an invoice, sent to the customer, accepted or declined by them,
and converted into an invoice. How the amounts relate is billing/totals.py (the same equations
as invoices, enforced here by CHECK constraints); which status may follow which is
QUOTE_TRANSITIONS.

The customer's emailed link is HMAC-derived like a pay link: only `link_token_hash` is stored,
`link_nonce` lets the server rebuild the same link for staff, and drawing a new nonce kills it.
"""

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
from billing.models.invoice import TAX_IN_RANGE, LineTaxFields, TaxShare, tax_breakdown


class QuoteStatus(StrEnum):
    DRAFT = "draft"
    SENT = "sent"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    EXPIRED = "expired"
    CONVERTED = "converted"


# The only status moves there are. Declined, expired and converted are final; sending a sent
# quote again (a reminder) is not a move.
QUOTE_TRANSITIONS: dict[QuoteStatus, frozenset[QuoteStatus]] = {
    QuoteStatus.DRAFT: frozenset({QuoteStatus.SENT}),
    QuoteStatus.SENT: frozenset({QuoteStatus.ACCEPTED, QuoteStatus.DECLINED, QuoteStatus.EXPIRED}),
    QuoteStatus.ACCEPTED: frozenset({QuoteStatus.CONVERTED}),
    QuoteStatus.DECLINED: frozenset(),
    QuoteStatus.EXPIRED: frozenset(),
    QuoteStatus.CONVERTED: frozenset(),
}


class QuoteConversion(StrEnum):
    """What happens when a customer accepts a quote (a company setting)."""

    OFF = "off"  # staff convert it with one click
    DRAFT = "draft"  # it becomes a draft invoice at once
    FINALIZE = "finalize"  # it becomes a finalized (numbered, open) invoice at once


def _in(enum: type[StrEnum]) -> str:
    return ", ".join(f"'{m}'" for m in enum)


class Quote(Base):
    __tablename__ = "quotes"

    id: Mapped[int] = pk()
    account_id: Mapped[int] = fk("accounts.id", index=False)
    number: Mapped[str | None] = mapped_column(String(32), unique=True)  # assigned when sent
    status: Mapped[QuoteStatus] = mapped_column(String(16), default=QuoteStatus.DRAFT)
    currency: Mapped[str] = mapped_column(String(3))
    issue_date: Mapped[date] = mapped_column(Date)
    expiry_date: Mapped[date] = mapped_column(Date)  # the last day it can be accepted
    subtotal_minor: Mapped[int] = money()
    discount_minor: Mapped[int] = money()
    tax_minor: Mapped[int] = money()
    total_minor: Mapped[int] = money()
    tax_inclusive_minor: Mapped[int] = money()  # the part of tax_minor inside the prices
    # The quote discount as staff gave it: a percent, or a fixed amount (0 for none).
    discount_percent: Mapped[Decimal | None] = mapped_column(Numeric(7, 4))
    discount_fixed_minor: Mapped[int] = money()
    memo: Mapped[str] = mapped_column(Text, default="", server_default="")
    link_nonce: Mapped[str | None] = mapped_column(String(32))
    link_token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    accepted_name: Mapped[str] = mapped_column(String(200), default="", server_default="")
    decline_reason: Mapped[str] = mapped_column(Text, default="", server_default="")
    responded_ip: Mapped[str] = mapped_column(String(45), default="", server_default="")
    # The company setting in force when the customer accepted (None: staff convert it).
    auto_convert: Mapped[QuoteConversion | None] = mapped_column(String(8))
    invoice_id: Mapped[int | None] = fk("invoices.id", nullable=True, index=False)
    created_at: Mapped[datetime] = instant(nullable=False)
    sent_at: Mapped[datetime | None] = instant()
    responded_at: Mapped[datetime | None] = instant()  # accepted or declined
    expired_at: Mapped[datetime | None] = instant()
    converted_at: Mapped[datetime | None] = instant()

    account: Mapped[Account] = relationship(lazy="raise")
    lines: Mapped[list[QuoteLine]] = relationship(
        back_populates="quote", order_by="QuoteLine.position", cascade="all, delete-orphan"
    )

    __table_args__ = (
        UniqueConstraint("invoice_id", name="uq_quotes_invoice_id"),
        CheckConstraint(f"status IN ({_in(QuoteStatus)})", name="status"),
        CheckConstraint("status = 'draft' OR number IS NOT NULL", name="numbered_once_sent"),
        CheckConstraint("status <> 'converted' OR invoice_id IS NOT NULL", name="converted_linked"),
        CheckConstraint(
            f"auto_convert IS NULL OR auto_convert IN ({_in(QuoteConversion)})",
            name="auto_convert",
        ),
        CheckConstraint(
            "subtotal_minor >= 0 AND discount_minor >= 0 AND tax_minor >= 0 AND total_minor >= 0"
            " AND tax_inclusive_minor >= 0 AND discount_fixed_minor >= 0",
            name="non_negative",
        ),
        CheckConstraint("discount_minor <= subtotal_minor", name="discount_within_subtotal"),
        CheckConstraint("tax_inclusive_minor <= tax_minor", name="inclusive_within_tax"),
        CheckConstraint(
            "total_minor = subtotal_minor - discount_minor + tax_minor - tax_inclusive_minor",
            name="total_equation",
        ),
        CheckConstraint(
            "discount_percent IS NULL OR (discount_percent >= 0 AND discount_percent <= 100)",
            name="discount_percent_range",
        ),
        CheckConstraint("expiry_date >= issue_date", name="expiry_after_issue"),
        Index("ix_quotes_account_issue", "account_id", "issue_date", "id"),
        Index("ix_quotes_status_expiry", "status", "expiry_date"),
    )

    @property
    def display_number(self) -> str:
        return self.number or f"Draft quote {self.id}"

    def tax_breakdown(self) -> list[TaxShare]:
        """The quote's taxes summed per (name, percentage, inclusive), for totals blocks."""
        return tax_breakdown(self.lines)

    def is_past_expiry(self, today: date) -> bool:
        """True once `today` is after the last day the quote could be accepted."""
        return today > self.expiry_date

    def __repr__(self) -> str:
        return f"<Quote {self.id} {self.display_number} {self.status}>"


class QuoteLine(Base):
    """One line of a quote, with the same fields as an invoice line (billing/models/invoice.py),
    so that an accepted quote becomes an invoice with exactly its amounts."""

    __tablename__ = "quote_lines"

    id: Mapped[int] = pk()
    quote_id: Mapped[int] = fk("quotes.id", ondelete="CASCADE")
    position: Mapped[int] = mapped_column(Integer)
    description: Mapped[str] = mapped_column(String(500))
    quantity: Mapped[Decimal] = mapped_column(Numeric(18, 4))
    unit_amount_minor: Mapped[int] = mapped_column(BigInteger)
    tax_rate: Mapped[Decimal] = mapped_column(Numeric(7, 4), default=Decimal(0))  # sum, percent
    product_id: Mapped[int | None] = fk("products.id", nullable=True, ondelete="SET NULL")
    discount_percent: Mapped[Decimal | None] = mapped_column(Numeric(7, 4))
    discount_fixed_minor: Mapped[int] = money()
    amount_minor: Mapped[int] = money()
    discount_minor: Mapped[int] = money()  # own discount plus the share of the quote discount
    tax_minor: Mapped[int] = money()
    tax_inclusive_minor: Mapped[int] = money()

    quote: Mapped[Quote] = relationship(back_populates="lines")
    taxes: Mapped[list[QuoteLineTax]] = relationship(
        order_by="QuoteLineTax.position", cascade="all, delete-orphan", lazy="selectin"
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
        UniqueConstraint("quote_id", "position", name="uq_quote_lines_quote_position"),
    )


class QuoteLineTax(LineTaxFields, Base):
    """One tax on one quote line."""

    __tablename__ = "quote_line_taxes"

    id: Mapped[int] = pk()
    quote_line_id: Mapped[int] = fk("quote_lines.id", ondelete="CASCADE")

    __table_args__ = (
        CheckConstraint(TAX_IN_RANGE, name="in_range"),
        UniqueConstraint("quote_line_id", "position", name="uq_quote_line_taxes_line_position"),
    )
