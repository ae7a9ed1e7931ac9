"""Payments (card or offline), how each is applied to invoices, and refunds."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import Boolean, CheckConstraint, Date, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from billing.db import Base
from billing.models._columns import fk, instant, money, pk
from billing.models.invoice import Invoice


class PaymentMethod(StrEnum):
    CARD = "card"
    CHECK = "check"
    CASH = "cash"
    BANK_TRANSFER = "bank_transfer"
    OTHER = "other"
    ACCOUNT_CREDIT = "account_credit"  # paid from the customer's account credit (see credit.py)

    @property
    def label(self) -> str:
        return {"bank_transfer": "Bank transfer", "account_credit": "Account credit"}.get(
            self.value, self.value.capitalize()
        )


class PaymentStatus(StrEnum):
    PENDING = "pending"  # recorded before the processor answered
    REQUIRES_ACTION = "requires_action"  # the payer's bank asked for 3-D Secure
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELED = "canceled"


class RefundStatus(StrEnum):
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


def _in(enum: type[StrEnum]) -> str:
    return ", ".join(f"'{m}'" for m in enum)


class Payment(Base):
    __tablename__ = "payments"

    id: Mapped[int] = pk()
    account_id: Mapped[int] = fk("accounts.id", index=False)
    method: Mapped[PaymentMethod] = mapped_column(String(16))
    status: Mapped[PaymentStatus] = mapped_column(String(16), default=PaymentStatus.PENDING)
    currency: Mapped[str] = mapped_column(String(3))
    amount_minor: Mapped[int] = money()
    amount_refunded_minor: Mapped[int] = money()
    received_date: Mapped[date] = mapped_column(Date)
    reference: Mapped[str] = mapped_column(String(200), default="", server_default="")
    processor: Mapped[str | None] = mapped_column(String(16))
    processor_payment_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    processor_charge_id: Mapped[str | None] = mapped_column(String(64))
    processor_payment_method_id: Mapped[str | None] = mapped_column(String(64))
    # Set (and committed) just before the processor is first asked to charge: a payment still
    # pending with this set may have been charged, so it is reconciled before any new attempt.
    processor_requested_at: Mapped[datetime | None] = instant()
    card_brand: Mapped[str | None] = mapped_column(String(32))
    card_last4: Mapped[str | None] = mapped_column(String(4))
    # The card was entered for this payment and saved with it: if the payment fails, the card
    # is removed again (card_payments.forget_new_card), as Stripe Checkout keeps no card from
    # a failed payment.
    new_card: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    # The part of a card payment its invoices could no longer take when it settled (paid or
    # voided meanwhile): account credit when the company allows credit, else sent back to the
    # card (refunds.refund_overflow). A Pay Now payment's amount for no invoice is not overflow.
    overflow_minor: Mapped[int] = money()
    failure_message: Mapped[str] = mapped_column(Text, default="", server_default="")
    created_at: Mapped[datetime] = instant(nullable=False)
    succeeded_at: Mapped[datetime | None] = instant()

    allocations: Mapped[list[PaymentAllocation]] = relationship(
        back_populates="payment", cascade="all, delete-orphan"
    )
    refunds: Mapped[list[Refund]] = relationship(
        back_populates="payment", order_by="Refund.id", cascade="all, delete-orphan"
    )

    __table_args__ = (
        CheckConstraint(f"method IN ({_in(PaymentMethod)})", name="method"),
        CheckConstraint(f"status IN ({_in(PaymentStatus)})", name="status"),
        CheckConstraint("amount_minor > 0", name="amount_positive"),
        CheckConstraint(
            "amount_refunded_minor >= 0 AND amount_refunded_minor <= amount_minor",
            name="refund_within_amount",
        ),
        CheckConstraint("overflow_minor >= 0 AND overflow_minor <= amount_minor", name="overflow"),
        Index("ix_payments_account_created", "account_id", "created_at", "id"),
        Index("ix_payments_status_created", "status", "created_at"),
    )

    @property
    def receipt_number(self) -> str:
        return f"R-{self.id:06d}"

    @property
    def refundable_minor(self) -> int:
        return self.amount_minor - self.amount_refunded_minor


class PaymentAllocation(Base):
    """The part of a payment applied to one invoice (one payment may settle several)."""

    __tablename__ = "payment_allocations"

    id: Mapped[int] = pk()
    payment_id: Mapped[int] = fk("payments.id", ondelete="CASCADE")
    invoice_id: Mapped[int] = fk("invoices.id")
    amount_minor: Mapped[int] = money()
    amount_refunded_minor: Mapped[int] = money()  # the part of the refunds that touched it

    payment: Mapped[Payment] = relationship(back_populates="allocations")
    invoice: Mapped[Invoice] = relationship()

    __table_args__ = (
        UniqueConstraint("payment_id", "invoice_id", name="uq_payment_allocations_payment_invoice"),
        CheckConstraint("amount_minor > 0", name="amount_positive"),
        CheckConstraint(
            "amount_refunded_minor >= 0 AND amount_refunded_minor <= amount_minor",
            name="refund_within_amount",
        ),
    )


class Refund(Base):
    __tablename__ = "refunds"

    id: Mapped[int] = pk()
    payment_id: Mapped[int] = fk("payments.id", ondelete="CASCADE")
    invoice_id: Mapped[int | None] = fk("invoices.id", nullable=True)
    status: Mapped[RefundStatus] = mapped_column(String(16), default=RefundStatus.PENDING)
    amount_minor: Mapped[int] = money()
    reason: Mapped[str] = mapped_column(Text, default="", server_default="")
    method: Mapped[PaymentMethod] = mapped_column(String(16))  # how the money went back
    processor_refund_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    reference: Mapped[str] = mapped_column(String(200), default="", server_default="")
    failure_message: Mapped[str] = mapped_column(Text, default="", server_default="")
    created_at: Mapped[datetime] = instant(nullable=False)
    succeeded_at: Mapped[datetime | None] = instant()

    payment: Mapped[Payment] = relationship(back_populates="refunds")

    __table_args__ = (
        CheckConstraint(f"status IN ({_in(RefundStatus)})", name="status"),
        CheckConstraint("amount_minor > 0", name="amount_positive"),
        Index("ix_refunds_status_created", "status", "created_at"),
    )
