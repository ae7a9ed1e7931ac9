"""Invoice lifecycle: create a draft with computed totals, finalize (numbering), void, mark
uncollectible. Each public function is one transaction and writes an audit entry.

Status moves go through `_move`, which locks the row, allows only TRANSITIONS, and treats a move
to the current status as a no-op. Financial fields are only computed while the invoice is a draft.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from billing import audit
from billing.errors import InvalidTransition, NotFound, ValidationFailed
from billing.models import TRANSITIONS, Account, Invoice, InvoiceLine, InvoiceStatus, NumberSequence
from billing.money import check_currency
from billing.totals import LineInput, compute_totals

MAX_LINES = 200


@dataclass(frozen=True)
class DraftLine:
    description: str
    quantity: Decimal
    unit_amount_minor: int
    tax_rate: Decimal = Decimal(0)


def _snapshot(invoice: Invoice) -> dict:
    return {
        "status": str(invoice.status),
        "total_minor": invoice.total_minor,
        "amount_paid_minor": invoice.amount_paid_minor,
        "amount_due_minor": invoice.amount_due_minor,
    }


def lock_invoice(session: Session, invoice_id: int) -> Invoice:
    """Load an invoice FOR UPDATE (PostgreSQL; SQLite serialises writers anyway)."""
    invoice = session.scalar(select(Invoice).where(Invoice.id == invoice_id).with_for_update())
    if invoice is None:
        raise NotFound(f"invoice {invoice_id}")
    return invoice


def create_draft(
    session: Session,
    *,
    account: Account,
    lines: list[DraftLine],
    issue_date: date,
    due_date: date,
    now: datetime,
    actor: str,
    discount_minor: int = 0,
    memo: str = "",
    currency: str | None = None,
) -> Invoice:
    """A draft invoice with totals computed by billing.totals. Raises ValidationFailed. Commits."""
    errors: dict[str, str] = {}
    try:
        currency = check_currency(currency or account.currency)
    except ValueError as exc:
        errors["currency"] = str(exc)
    if not lines:
        errors["lines"] = "Add at least one line."
    elif len(lines) > MAX_LINES:
        errors["lines"] = f"An invoice has at most {MAX_LINES} lines."
    if due_date < issue_date:
        errors["due_date"] = "The due date cannot be before the issue date."
    try:
        totals = compute_totals(
            [LineInput(ln.quantity, ln.unit_amount_minor, ln.tax_rate) for ln in lines],
            discount_minor,
        )
    except ValueError as exc:
        errors["lines"] = str(exc)
    if errors:
        raise ValidationFailed(errors)
    invoice = Invoice(
        account_id=account.id,
        status=InvoiceStatus.DRAFT,
        currency=currency,
        issue_date=issue_date,
        due_date=due_date,
        subtotal_minor=totals.subtotal_minor,
        discount_minor=totals.discount_minor,
        tax_minor=totals.tax_minor,
        total_minor=totals.total_minor,
        amount_due_minor=totals.total_minor,
        memo=memo,
        created_at=now,
        lines=[
            InvoiceLine(
                position=i,
                description=ln.description,
                quantity=ln.quantity,
                unit_amount_minor=ln.unit_amount_minor,
                tax_rate=ln.tax_rate,
                amount_minor=t.amount_minor,
                discount_minor=t.discount_minor,
                tax_minor=t.tax_minor,
            )
            for i, (ln, t) in enumerate(zip(lines, totals.lines, strict=True))
        ],
    )
    session.add(invoice)
    audit.record(
        session,
        actor=actor,
        action="invoice.created",
        subject=invoice,
        now=now,
        account_id=account.id,
        after=_snapshot(invoice),
    )
    session.commit()
    return invoice


def _move(invoice: Invoice, to: InvoiceStatus) -> bool:
    """Apply a status move; False when already there; InvalidTransition when not allowed."""
    if invoice.status == to:
        return False
    if to not in TRANSITIONS[InvoiceStatus(invoice.status)]:
        raise InvalidTransition(f"A {invoice.status} invoice cannot become {to}.")
    invoice.status = to
    return True


def next_number(session: Session, series: str, year: int) -> str:
    """The next gap-free number of `series` for `year`, e.g. INV-2026-0001 (row-locked)."""
    key = f"{series}-{year}"
    sequence = session.scalar(
        select(NumberSequence).where(NumberSequence.series == key).with_for_update()
    )
    if sequence is None:
        sequence = NumberSequence(series=key, next_value=1)
        session.add(sequence)
        session.flush()
    value = sequence.next_value
    sequence.next_value = value + 1
    return f"{key}-{value:04d}"


def finalize_invoice(session: Session, *, invoice_id: int, now: datetime, actor: str) -> Invoice:
    """Number a draft and open it; idempotent for an invoice already finalized. Commits."""
    invoice = lock_invoice(session, invoice_id)
    if invoice.status != InvoiceStatus.DRAFT:
        session.rollback()
        return invoice
    before = _snapshot(invoice)
    invoice.number = next_number(session, invoice.series, invoice.issue_date.year)
    _move(invoice, InvoiceStatus.OPEN)
    invoice.finalized_at = now
    audit.record(
        session,
        actor=actor,
        action="invoice.finalized",
        subject=invoice,
        now=now,
        account_id=invoice.account_id,
        before=before,
        after=_snapshot(invoice) | {"number": invoice.number},
    )
    session.commit()
    return invoice


def _change_status(
    session: Session,
    *,
    invoice_id: int,
    to: InvoiceStatus,
    now: datetime,
    actor: str,
    action: str,
) -> Invoice:
    invoice = lock_invoice(session, invoice_id)
    before = _snapshot(invoice)
    if to == InvoiceStatus.VOID and invoice.amount_paid_minor:
        session.rollback()
        raise InvalidTransition("An invoice with payments cannot be voided; issue a credit note.")
    if not _move(invoice, to):
        session.rollback()
        return invoice
    if to == InvoiceStatus.VOID:
        invoice.voided_at = now
    audit.record(
        session,
        actor=actor,
        action=action,
        subject=invoice,
        now=now,
        account_id=invoice.account_id,
        before=before,
        after=_snapshot(invoice),
    )
    session.commit()
    return invoice


def void_invoice(session: Session, *, invoice_id: int, now: datetime, actor: str) -> Invoice:
    """Void an unpaid open invoice. Idempotent; raises InvalidTransition. Commits."""
    return _change_status(
        session,
        invoice_id=invoice_id,
        to=InvoiceStatus.VOID,
        now=now,
        actor=actor,
        action="invoice.voided",
    )


def mark_uncollectible(session: Session, *, invoice_id: int, now: datetime, actor: str) -> Invoice:
    """Write an open invoice off as uncollectible. Idempotent; raises InvalidTransition. Commits."""
    return _change_status(
        session,
        invoice_id=invoice_id,
        to=InvoiceStatus.UNCOLLECTIBLE,
        now=now,
        actor=actor,
        action="invoice.marked_uncollectible",
    )


def apply_payment(invoice: Invoice, amount_minor: int, now: datetime) -> None:
    """Add a confirmed payment to a locked invoice (caller audits and commits); pays it in full
    when nothing is left due. Raises ValidationFailed for more than is due."""
    if invoice.status not in (InvoiceStatus.OPEN, InvoiceStatus.UNCOLLECTIBLE):
        raise InvalidTransition(f"A {invoice.status} invoice cannot take payments.")
    if amount_minor <= 0 or amount_minor > invoice.amount_due_minor:
        raise ValidationFailed({"amount": "The amount must be between 0 and the amount due."})
    invoice.amount_paid_minor += amount_minor
    invoice.amount_due_minor = invoice.total_minor - invoice.amount_paid_minor
    if invoice.amount_due_minor == 0:
        _move(invoice, InvoiceStatus.PAID)
        invoice.paid_at = now
