"""Orders from other systems: a request to bill a customer, received through the API, that
becomes an invoice by the same conversion as an accepted quote.

Exactly once: (api_key_id, idempotency_key) is unique, so the same key never creates two orders,
even when two requests race (the database makes the second insert wait and then fail).
`request_hash` is the SHA-256 of the request body as the client sent it: the same key with a
different body is refused rather than silently answered with the first order.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from billing.db import Base
from billing.models._columns import fk, instant, money, pk


class OrderStatus(StrEnum):
    PENDING = "pending"  # recorded; its invoice is being made
    COMPLETED = "completed"  # its invoice exists (finalized and sent if the order asked)


class Order(Base):
    __tablename__ = "orders"

    id: Mapped[int] = pk()
    api_key_id: Mapped[int] = fk("api_keys.id", index=False)
    idempotency_key: Mapped[str] = mapped_column(String(255))
    request_hash: Mapped[str] = mapped_column(String(64))
    account_id: Mapped[int] = fk("accounts.id")
    status: Mapped[OrderStatus] = mapped_column(String(16), default=OrderStatus.PENDING)
    reference: Mapped[str] = mapped_column(String(100), default="", server_default="")
    currency: Mapped[str] = mapped_column(String(3))
    discount_minor: Mapped[int] = money()
    memo: Mapped[str] = mapped_column(Text, default="", server_default="")
    issue_date: Mapped[date] = mapped_column(Date)
    due_date: Mapped[date | None] = mapped_column(Date)  # None: the customer's payment terms
    finalize: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    send: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    invoice_id: Mapped[int | None] = fk("invoices.id", nullable=True, index=False)
    created_at: Mapped[datetime] = instant(nullable=False)
    completed_at: Mapped[datetime | None] = instant()

    lines: Mapped[list[OrderLine]] = relationship(
        back_populates="order", order_by="OrderLine.position", cascade="all, delete-orphan"
    )

    __table_args__ = (
        UniqueConstraint("api_key_id", "idempotency_key", name="uq_orders_api_key_idempotency"),
        UniqueConstraint("invoice_id", name="uq_orders_invoice_id"),
        CheckConstraint("status IN ('pending', 'completed')", name="status"),
        CheckConstraint("status = 'pending' OR invoice_id IS NOT NULL", name="completed_linked"),
        CheckConstraint("due_date IS NULL OR due_date >= issue_date", name="due_after_issue"),
        CheckConstraint("discount_minor >= 0", name="non_negative"),
    )

    def __repr__(self) -> str:
        return f"<Order {self.id} {self.status} invoice={self.invoice_id}>"


class OrderLine(Base):
    __tablename__ = "order_lines"

    id: Mapped[int] = pk()
    order_id: Mapped[int] = fk("orders.id", ondelete="CASCADE")
    position: Mapped[int] = mapped_column(Integer)
    description: Mapped[str] = mapped_column(String(500))
    quantity: Mapped[Decimal] = mapped_column(Numeric(18, 4))
    unit_amount_minor: Mapped[int] = mapped_column(BigInteger)
    tax_rate: Mapped[Decimal] = mapped_column(Numeric(7, 4), default=Decimal(0))  # percent

    order: Mapped[Order] = relationship(back_populates="lines")

    __table_args__ = (
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint("unit_amount_minor >= 0 AND tax_rate >= 0", name="non_negative"),
        UniqueConstraint("order_id", "position", name="uq_order_lines_order_position"),
    )
