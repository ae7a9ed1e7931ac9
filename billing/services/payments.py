"""Recording payments. (Card payments through the gateway arrive with the payments issue.)"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy.orm import Session

from billing import audit
from billing.errors import ValidationFailed
from billing.models import Payment, PaymentAllocation, PaymentMethod, PaymentStatus
from billing.services.invoices import apply_payment, lock_invoice

OFFLINE_METHODS = frozenset(
    {PaymentMethod.CHECK, PaymentMethod.CASH, PaymentMethod.BANK_TRANSFER, PaymentMethod.OTHER}
)


def record_offline_payment(
    session: Session,
    *,
    invoice_id: int,
    amount_minor: int,
    method: PaymentMethod,
    received_date: date,
    reference: str,
    now: datetime,
    actor: str,
) -> Payment:
    """Record money received outside the processor against one invoice (partial allowed).

    Raises ValidationFailed (bad method, amount over what is due), InvalidTransition (the
    invoice does not take payments), NotFound. Commits with an audit entry.
    """
    if method not in OFFLINE_METHODS:
        raise ValidationFailed({"method": "Choose check, cash, bank transfer or other."})
    invoice = lock_invoice(session, invoice_id)
    before = {"amount_paid_minor": invoice.amount_paid_minor, "status": str(invoice.status)}
    try:
        apply_payment(invoice, amount_minor, now)
    except Exception:
        session.rollback()
        raise
    payment = Payment(
        account_id=invoice.account_id,
        method=method,
        status=PaymentStatus.SUCCEEDED,
        currency=invoice.currency,
        amount_minor=amount_minor,
        received_date=received_date,
        reference=reference,
        created_at=now,
        succeeded_at=now,
        allocations=[PaymentAllocation(invoice_id=invoice.id, amount_minor=amount_minor)],
    )
    session.add(payment)
    audit.record(
        session,
        actor=actor,
        action="payment.recorded",
        subject=payment,
        now=now,
        account_id=invoice.account_id,
        after={"amount_minor": amount_minor, "method": str(method), "invoice_id": invoice.id},
    )
    audit.record(
        session,
        actor=actor,
        action="invoice.payment_applied",
        subject=invoice,
        now=now,
        account_id=invoice.account_id,
        before=before,
        after={"amount_paid_minor": invoice.amount_paid_minor, "status": str(invoice.status)},
    )
    session.commit()
    return payment
