"""Account credit as a ledger: money the business owes a customer, kept to pay future invoices.

Each row is one movement in one currency: positive when credit is granted (an overpayment, a
credit note after payment, a refund of a payment made from credit), negative when it is used
(applied to an invoice) or taken back (the overpayment it came from was refunded). The balance is
the sum of the rows of an account and currency; billing/services/credit.py keeps it from going
negative by locking the account row while it writes. Rows are never updated or deleted.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, CheckConstraint, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from billing.db import Base
from billing.models._columns import fk, instant, pk


class CreditKind(StrEnum):
    OVERPAYMENT = "overpayment"  # + the part of a payment beyond what its invoice owed
    APPLIED = "applied"  # - used to pay an invoice (an "account_credit" payment)
    CREDIT_NOTE = "credit_note"  # + a credit note issued after the invoice was paid
    REFUND_REVERSAL = "refund_reversal"  # - an overpayment given back as a refund
    RESTORED = "restored"  # + a payment made from credit was refunded: the credit comes back
    ADJUSTMENT = "adjustment"  # +/- granted or withdrawn by staff


def _in(enum: type[StrEnum]) -> str:
    return ", ".join(f"'{m}'" for m in enum)


class AccountCredit(Base):
    __tablename__ = "account_credits"

    id: Mapped[int] = pk()
    account_id: Mapped[int] = fk("accounts.id", index=False)
    currency: Mapped[str] = mapped_column(String(3))
    amount_minor: Mapped[int] = mapped_column(BigInteger)  # + granted, - used or taken back
    kind: Mapped[CreditKind] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(Text, default="", server_default="")  # for people
    payment_id: Mapped[int | None] = fk("payments.id", nullable=True, index=False)
    invoice_id: Mapped[int | None] = fk("invoices.id", nullable=True, index=False)
    refund_id: Mapped[int | None] = fk("refunds.id", nullable=True, index=False)
    credit_note_id: Mapped[int | None] = mapped_column(BigInteger)  # linked by credit notes
    actor: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = instant(nullable=False)

    __table_args__ = (
        CheckConstraint("amount_minor <> 0", name="amount_nonzero"),
        CheckConstraint(f"kind IN ({_in(CreditKind)})", name="kind"),
        Index("ix_account_credits_account_currency", "account_id", "currency", "id"),
        Index("ix_account_credits_payment", "payment_id"),
    )
