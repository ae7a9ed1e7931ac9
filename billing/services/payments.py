"""Recording offline payments: checks, cash, bank transfers and other money received outside the
processor, against one invoice. (Card payments go through the gateway in their own services.)

An offline payment may be partial. When it is more than the invoice owes, the invoice is paid in
full and the rest becomes account credit (billing/services/credit.py) that pays the customer's
next invoice, unless the company turned account credit off in Settings: then the payment is
refused with a message saying how much is due, and nothing is recorded.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy.orm import Session

from billing import audit
from billing.errors import InvalidTransition, ValidationFailed
from billing.formatting import format_money
from billing.models import (
    CreditKind,
    InvoiceStatus,
    Payment,
    PaymentAllocation,
    PaymentMethod,
    PaymentStatus,
)
from billing.services import credit
from billing.services.invoices import apply_payment, lock_invoice

OFFLINE_METHODS = frozenset(
    {PaymentMethod.CHECK, PaymentMethod.CASH, PaymentMethod.BANK_TRANSFER, PaymentMethod.OTHER}
)
PAYABLE = (InvoiceStatus.OPEN, InvoiceStatus.UNCOLLECTIBLE)
MAX_REFERENCE = 200


def _check_input(
    method: PaymentMethod, amount_minor: int, received_date: date, reference: str, now: datetime
) -> None:
    errors: dict[str, str] = {}
    if method not in OFFLINE_METHODS:
        errors["method"] = "Choose check, cash, bank transfer or other."
    if not isinstance(amount_minor, int) or amount_minor <= 0:
        errors["amount"] = "Enter an amount greater than zero."
    if received_date > now.date():
        errors["received_date"] = "The date received cannot be in the future."
    if len(reference or "") > MAX_REFERENCE:
        errors["reference"] = f"Use at most {MAX_REFERENCE} characters."
    if errors:
        raise ValidationFailed(errors)


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
    """Record money received outside the processor against one invoice (partial allowed; an
    overpayment becomes account credit when the company allows it).

    One transaction: the invoice and then the account are locked, the payment, its allocation,
    any credit row and audit entries are written, and it commits. Not idempotent (each call
    records money received). Raises ValidationFailed ({field: message}: method, amount,
    received_date, reference; an overpayment while credit is off), InvalidTransition (the
    invoice does not take payments), NotFound; nothing is written then.
    """
    reference = (reference or "").strip()
    try:
        _check_input(method, amount_minor, received_date, reference, now)
        invoice = lock_invoice(session, invoice_id)
        if invoice.status not in PAYABLE:
            raise InvalidTransition(f"A {invoice.status} invoice cannot take payments.")
        due = invoice.amount_due_minor
        to_invoice = min(amount_minor, due)
        excess = amount_minor - to_invoice
        if excess and not credit.credit_allowed(session):
            raise ValidationFailed(
                {
                    "amount": f"Only {format_money(due, invoice.currency)} is due on this "
                    "invoice. Account credit is turned off in Settings, so an overpayment "
                    f"cannot be kept: record at most {format_money(due, invoice.currency)}."
                }
            )
        before = {"amount_paid_minor": invoice.amount_paid_minor, "status": str(invoice.status)}
        if to_invoice:
            apply_payment(invoice, to_invoice, now)
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
            allocations=(
                [PaymentAllocation(invoice_id=invoice.id, amount_minor=to_invoice)]
                if to_invoice
                else []
            ),
        )
        session.add(payment)
        audit.record(
            session,
            actor=actor,
            action="payment.recorded",
            subject=payment,
            now=now,
            account_id=invoice.account_id,
            after={
                "amount_minor": amount_minor,
                "method": str(method),
                "invoice_id": invoice.id,
                "credited_minor": excess,
            },
        )
        if to_invoice:
            audit.record(
                session,
                actor=actor,
                action="invoice.payment_applied",
                subject=invoice,
                now=now,
                account_id=invoice.account_id,
                before=before,
                after={
                    "amount_paid_minor": invoice.amount_paid_minor,
                    "status": str(invoice.status),
                },
            )
        if excess:
            credit.add_entry(
                session,
                account_id=invoice.account_id,
                currency=invoice.currency,
                amount_minor=excess,
                kind=CreditKind.OVERPAYMENT,
                reason=f"Overpayment of invoice {invoice.display_number} "
                f"({method.label.lower()}{', ' + reference if reference else ''})",
                now=now,
                actor=actor,
                payment_id=payment.id,
                invoice_id=invoice.id,
            )
    except Exception:
        session.rollback()
        raise
    session.commit()
    return payment
