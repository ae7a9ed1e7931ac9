"""Account credit: money the business holds for a customer, used to pay their next invoices.

The credit is a ledger (billing/models/credit.py): every grant or use is one AccountCredit row,
and the balance of an account in a currency is the sum of its rows. Whoever writes a row first
locks the account row (FOR UPDATE on PostgreSQL), so two writers cannot both spend the same
credit, and the balance never goes below zero (ValidationFailed says so instead).

How credit pays an invoice. Applying credit is recorded as a Payment with method
"account_credit" (status succeeded, allocated to the invoice like any other payment) plus a
negative ledger row pointing at that payment. So the invoice's equations hold unchanged
(amount_due = total - amount_paid), and receipts, the payment lists, PDFs, audit entries and
refunds treat it like every other payment. Refunding such a payment gives the credit back
(a "restored" row) instead of sending money anywhere.

Where credit comes from:
- an offline payment larger than what its invoice owes (billing/services/payments.py), unless
  the company turned credit off in Settings (then that payment is refused with a message);
- `grant_credit`: credit notes after payment (the credit notes service) or staff adjustments;
- refunding a payment that was made from credit (billing/services/refunds.py).
Where it goes: `apply_credit_to_invoice`, called when an invoice is finalized, pays as much of it
as the balance in its currency allows (even when new credit is turned off: credit already held
is always used); and refunds of the overpayment it came from.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from billing import audit
from billing.errors import NotFound, ValidationFailed
from billing.formatting import format_money
from billing.models import (
    Account,
    AccountCredit,
    CompanySettings,
    CreditKind,
    Invoice,
    InvoiceStatus,
    Payment,
    PaymentAllocation,
    PaymentMethod,
    PaymentStatus,
)
from billing.money import check_currency
from billing.services import invoices as invoice_service

PAYABLE = (InvoiceStatus.OPEN, InvoiceStatus.UNCOLLECTIBLE)
RECENT_ENTRIES = 10


@dataclass(frozen=True)
class CreditBalance:
    currency: str
    amount_minor: int


@dataclass(frozen=True)
class CreditSummary:
    """What an account holds (positive balances only) and its latest ledger rows."""

    balances: list[CreditBalance]
    entries: list[AccountCredit]


def credit_allowed(session: Session) -> bool:
    """Whether overpayments may become account credit (the company setting; default yes)."""
    row = session.scalar(select(CompanySettings).order_by(CompanySettings.id).limit(1))
    return row is None or row.allow_account_credit is not False


def lock_account(session: Session, account_id: int) -> Account:
    """The account row FOR NO KEY UPDATE: every writer of the ledger takes this lock first.

    NO KEY UPDATE (not UPDATE) because the ledger never changes the account's key: the lock
    serialises ledger writers without waiting on transactions that only insert rows pointing
    at the account (an order's invoice, whose foreign key takes KEY SHARE). A plain FOR UPDATE
    deadlocked two orders for one customer that had each inserted their invoice first."""
    account = session.scalar(
        select(Account).where(Account.id == account_id).with_for_update(key_share=True)
    )
    if account is None:
        raise NotFound(f"account {account_id}")
    return account


def balance(session: Session, *, account_id: int, currency: str) -> int:
    """The credit an account holds in `currency` (minor units, never negative). Read-only."""
    total = session.scalar(
        select(func.coalesce(func.sum(AccountCredit.amount_minor), 0)).where(
            AccountCredit.account_id == account_id, AccountCredit.currency == currency
        )
    )
    return int(total or 0)


def credit_summary(
    session: Session, *, account_id: int, limit: int = RECENT_ENTRIES
) -> CreditSummary:
    """Positive balances per currency and the newest `limit` ledger rows of one account, for the
    portal (pass the signed-in user's account id) and the admin. Two queries. Read-only."""
    rows = session.execute(
        select(AccountCredit.currency, func.sum(AccountCredit.amount_minor))
        .where(AccountCredit.account_id == account_id)
        .group_by(AccountCredit.currency)
        .order_by(AccountCredit.currency)
    )
    balances = [CreditBalance(currency, int(total)) for currency, total in rows if total]
    entries = list(
        session.scalars(
            select(AccountCredit)
            .where(AccountCredit.account_id == account_id)
            .order_by(AccountCredit.id.desc())
            .limit(limit)
        )
    )
    return CreditSummary(balances=balances, entries=entries)


def add_entry(
    session: Session,
    *,
    account_id: int,
    currency: str,
    amount_minor: int,
    kind: CreditKind,
    reason: str,
    now: datetime,
    actor: str,
    payment_id: int | None = None,
    invoice_id: int | None = None,
    refund_id: int | None = None,
    credit_note_id: int | None = None,
) -> AccountCredit:
    """Write one ledger row in the caller's transaction (the caller commits), with its audit
    entry. Locks the account first. Raises ValidationFailed({"amount": …}) when a negative row
    would take the balance below zero, or for a zero amount; the caller rolls back."""
    if amount_minor == 0:
        raise ValidationFailed({"amount": "A credit movement cannot be zero."})
    lock_account(session, account_id)
    held = balance(session, account_id=account_id, currency=currency)
    if held + amount_minor < 0:
        raise ValidationFailed(
            {
                "amount": f"The account holds only {format_money(held, currency)} of credit "
                f"in {currency}."
            }
        )
    entry = AccountCredit(
        account_id=account_id,
        currency=currency,
        amount_minor=amount_minor,
        kind=kind,
        reason=reason[:2000],
        payment_id=payment_id,
        invoice_id=invoice_id,
        refund_id=refund_id,
        credit_note_id=credit_note_id,
        actor=actor,
        created_at=now,
    )
    session.add(entry)
    audit.record(
        session,
        actor=actor,
        action="credit.granted" if amount_minor > 0 else "credit.used",
        subject=entry,
        now=now,
        account_id=account_id,
        before={"balance_minor": held},
        after={
            "balance_minor": held + amount_minor,
            "amount_minor": amount_minor,
            "kind": str(kind),
            "currency": currency,
        },
    )
    return entry


def grant_credit(
    session: Session,
    *,
    account_id: int,
    amount_minor: int,
    currency: str,
    reason: str,
    now: datetime,
    actor: str,
    kind: CreditKind = CreditKind.CREDIT_NOTE,
    invoice_id: int | None = None,
    credit_note_id: int | None = None,
    commit: bool = True,
) -> AccountCredit:
    """Give an account `amount_minor` (> 0) of credit in `currency`, e.g. the part of a credit
    note that the paid invoice cannot absorb. It pays the account's next invoices when they are
    finalized.

    With commit=False the row joins the caller's transaction (a credit note and its credit commit
    together) and the caller commits; otherwise this commits. Not idempotent by itself: callers
    that may run twice check their own record first (a credit note grants once). Raises
    ValidationFailed (non-positive amount, bad currency), NotFound (no such account)."""
    errors = {}
    if amount_minor <= 0:
        errors["amount"] = "Credit must be more than zero."
    try:
        currency = check_currency(currency)
    except ValueError as exc:
        errors["currency"] = str(exc)
    if errors:
        raise ValidationFailed(errors)
    try:
        entry = add_entry(
            session,
            account_id=account_id,
            currency=currency,
            amount_minor=amount_minor,
            kind=kind,
            reason=reason,
            now=now,
            actor=actor,
            invoice_id=invoice_id,
            credit_note_id=credit_note_id,
        )
    except Exception:
        if commit:
            session.rollback()
        raise
    if commit:
        session.commit()
    return entry


def apply_credit_to_invoice(
    session: Session, invoice: Invoice, *, now: datetime, actor: str
) -> Payment | None:
    """Pay as much of a locked, open invoice as the account's credit in its currency covers, in
    the caller's transaction (finalize_invoice calls it; the caller commits). Returns the
    "account_credit" payment, or None when there is no credit or nothing is due. Writes the
    ledger row, the payment, its allocation and audit entries."""
    if invoice.status not in PAYABLE or invoice.amount_due_minor <= 0:
        return None
    lock_account(session, invoice.account_id)
    held = balance(session, account_id=invoice.account_id, currency=invoice.currency)
    if held <= 0:
        return None
    amount = min(held, invoice.amount_due_minor)
    before = {"amount_paid_minor": invoice.amount_paid_minor, "status": str(invoice.status)}
    invoice_service.apply_payment(invoice, amount, now)
    payment = Payment(
        account_id=invoice.account_id,
        method=PaymentMethod.ACCOUNT_CREDIT,
        status=PaymentStatus.SUCCEEDED,
        currency=invoice.currency,
        amount_minor=amount,
        received_date=now.date(),
        reference="Account credit",
        created_at=now,
        succeeded_at=now,
        allocations=[PaymentAllocation(invoice_id=invoice.id, amount_minor=amount)],
    )
    session.add(payment)
    session.flush()
    add_entry(
        session,
        account_id=invoice.account_id,
        currency=invoice.currency,
        amount_minor=-amount,
        kind=CreditKind.APPLIED,
        reason=f"Applied to invoice {invoice.display_number}",
        now=now,
        actor=actor,
        payment_id=payment.id,
        invoice_id=invoice.id,
    )
    audit.record(
        session,
        actor=actor,
        action="payment.recorded",
        subject=payment,
        now=now,
        account_id=invoice.account_id,
        after={"amount_minor": amount, "method": str(payment.method), "invoice_id": invoice.id},
    )
    audit.record(
        session,
        actor=actor,
        action="invoice.credit_applied",
        subject=invoice,
        now=now,
        account_id=invoice.account_id,
        before=before,
        after={"amount_paid_minor": invoice.amount_paid_minor, "status": str(invoice.status)},
    )
    return payment
