"""Credit notes: money taken back from a finalized invoice, numbered in their own series
(CN-2026-0001). Part of a credit note reduces the invoice's amount due; the rest (after the
customer paid) goes back as a refund of the original payment or as account credit. How the
amounts divide is defined in billing/totals.py (split_credit)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum

from sqlalchemy import CheckConstraint, Date, Integer, Numeric, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from billing.db import Base
from billing.models._columns import fk, instant, money, pk
from billing.models.account import Account
from billing.models.invoice import Invoice


class CreditNoteKind(StrEnum):
    FULL = "full"  # everything not yet credited
    LINES = "lines"  # chosen lines, in full
    AMOUNT = "amount"  # an amount


class CreditSettlement(StrEnum):
    NONE = "none"  # all of it reduced the amount due
    REFUND = "refund"  # the rest was refunded through the original payment
    ACCOUNT_CREDIT = "account_credit"  # the rest became credit on the customer's account


class SettlementStatus(StrEnum):
    NOT_NEEDED = "not_needed"
    PENDING = "pending"  # the credit note is issued; the refund or credit is still to happen
    DONE = "done"
    FAILED = "failed"  # staff can try again from the credit note's page


def _in(enum: type[StrEnum]) -> str:
    return ", ".join(f"'{m}'" for m in enum)


class CreditNote(Base):
    __tablename__ = "credit_notes"

    id: Mapped[int] = pk()
    account_id: Mapped[int] = fk("accounts.id")
    invoice_id: Mapped[int] = fk("invoices.id")
    number: Mapped[str] = mapped_column(String(32), unique=True)
    kind: Mapped[CreditNoteKind] = mapped_column(String(8))
    currency: Mapped[str] = mapped_column(String(3))
    issue_date: Mapped[date] = mapped_column(Date)
    reason: Mapped[str] = mapped_column(Text, default="", server_default="")
    amount_minor: Mapped[int] = money()  # tax included
    tax_minor: Mapped[int] = money()
    applied_to_due_minor: Mapped[int] = money()
    outside_minor: Mapped[int] = money()  # refunded or credited to the account
    settlement: Mapped[CreditSettlement] = mapped_column(String(16))
    settlement_status: Mapped[SettlementStatus] = mapped_column(String(16))
    settlement_error: Mapped[str] = mapped_column(Text, default="", server_default="")
    payment_id: Mapped[int | None] = fk("payments.id", nullable=True)  # refunded through
    refund_id: Mapped[int | None] = fk("refunds.id", nullable=True)  # the refund it asked for
    created_at: Mapped[datetime] = instant(nullable=False)
    settled_at: Mapped[datetime | None] = instant()
    sent_at: Mapped[datetime | None] = instant()

    account: Mapped[Account] = relationship(lazy="raise")
    invoice: Mapped[Invoice] = relationship(lazy="raise")
    lines: Mapped[list[CreditNoteLine]] = relationship(
        order_by="CreditNoteLine.position", cascade="all, delete-orphan", lazy="selectin"
    )

    __table_args__ = (
        CheckConstraint(f"kind IN ({_in(CreditNoteKind)})", name="kind"),
        CheckConstraint(f"settlement IN ({_in(CreditSettlement)})", name="settlement"),
        CheckConstraint(
            f"settlement_status IN ({_in(SettlementStatus)})", name="settlement_status"
        ),
        CheckConstraint("amount_minor > 0", name="amount_positive"),
        CheckConstraint("tax_minor >= 0 AND tax_minor <= amount_minor", name="tax_within_amount"),
        CheckConstraint(
            "applied_to_due_minor >= 0 AND outside_minor >= 0"
            " AND applied_to_due_minor + outside_minor = amount_minor",
            name="split_equation",
        ),
        CheckConstraint(
            "(outside_minor = 0) = (settlement = 'none')", name="settled_only_when_outside"
        ),
    )

    @property
    def net_minor(self) -> int:
        return self.amount_minor - self.tax_minor


class CreditNoteLine(Base):
    __tablename__ = "credit_note_lines"

    id: Mapped[int] = pk()
    credit_note_id: Mapped[int] = fk("credit_notes.id", ondelete="CASCADE")
    position: Mapped[int] = mapped_column(Integer)
    invoice_line_id: Mapped[int | None] = fk("invoice_lines.id", nullable=True)
    description: Mapped[str] = mapped_column(String(500))
    quantity: Mapped[Decimal] = mapped_column(Numeric(18, 4))
    amount_minor: Mapped[int] = money()  # tax included
    tax_minor: Mapped[int] = money()

    __table_args__ = (
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint("tax_minor >= 0 AND tax_minor <= amount_minor", name="tax_within_amount"),
        UniqueConstraint("credit_note_id", "position", name="uq_credit_note_lines_note_position"),
    )
