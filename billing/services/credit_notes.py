"""Credit notes: taking money back from a finalized invoice, for the whole invoice, chosen lines
or an amount, numbered in their own gap-free series (CN-2026-0001).

How the amounts divide is billing/totals.py (split_credit): the part the invoice still asks for
is reduced first (amount_credited grows, amount_due shrinks; a credit that clears it marks the
invoice paid); the rest, when the customer has already paid, goes back as staff choose:
- account credit: granted in the same transaction as the credit note (billing/services/credit.py);
- a refund of the original payment: the credit note is committed first with its settlement
  pending, then billing/services/refunds.refund_payment runs (its own transactions, and for
  cards the processor call between them), and the outcome is recorded on the credit note.
  A refund that fails leaves the credit note issued with the failure shown; staff can try
  again or give account credit instead (`settle_credit_note`).

All credit notes of an invoice together never exceed its total: the invoice row is locked
(FOR UPDATE) while the sum of its credit notes is read and the new one written, so two staff
crediting at once are serialised and the second is refused if the first used the room up.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from billing import audit, queries
from billing.errors import BillingError, InvalidTransition, NotFound, ValidationFailed
from billing.formatting import format_money
from billing.gateways.base import PaymentGateway
from billing.models import (
    CreditKind,
    CreditNote,
    CreditNoteKind,
    CreditNoteLine,
    CreditSettlement,
    Invoice,
    InvoiceLine,
    InvoiceStatus,
    PaymentMethod,
    RefundStatus,
    SettlementStatus,
)
from billing.services import credit, refunds, sending
from billing.services.invoices import credited_total, lock_invoice, next_number, recompute_due
from billing.totals import split_credit

SERIES = "CN"
CREDITABLE = frozenset({InvoiceStatus.OPEN, InvoiceStatus.UNCOLLECTIBLE, InvoiceStatus.PAID})
MAX_REASON = 2000


@dataclass(frozen=True)
class _Draft:
    amount_minor: int
    tax_minor: int | None  # None: split in proportion to the invoice's tax
    lines: list[CreditNoteLine]


def _money(amount: int, invoice: Invoice) -> str:
    return format_money(amount, invoice.currency)


def _credited_per_line(session: Session, invoice_id: int) -> dict[int, int]:
    rows = session.execute(
        select(CreditNoteLine.invoice_line_id, func.sum(CreditNoteLine.amount_minor))
        .join(CreditNote, CreditNote.id == CreditNoteLine.credit_note_id)
        .where(CreditNote.invoice_id == invoice_id, CreditNoteLine.invoice_line_id.is_not(None))
        .group_by(CreditNoteLine.invoice_line_id)
    )
    return {line_id: int(total) for line_id, total in rows}


def _line_copy(position: int, line: InvoiceLine) -> CreditNoteLine:
    return CreditNoteLine(
        position=position,
        invoice_line_id=line.id,
        description=line.description,
        quantity=line.quantity,
        amount_minor=line.total_minor,
        tax_minor=line.tax_minor,
    )


def _summary_line(description: str, amount: int, tax: int) -> CreditNoteLine:
    return CreditNoteLine(
        position=0,
        description=description[:500],
        quantity=Decimal(1),
        amount_minor=amount,
        tax_minor=tax,
    )


def _draft(
    session: Session,
    invoice: Invoice,
    *,
    kind: CreditNoteKind,
    line_ids: tuple[int, ...],
    amount_minor: int,
    reason: str,
    remaining: int,
) -> _Draft:
    """What the credit note credits; raises ValidationFailed with a message for staff."""
    if kind == CreditNoteKind.FULL:
        if remaining == invoice.total_minor:
            lines = [_line_copy(i, line) for i, line in enumerate(invoice.lines)]
            return _Draft(remaining, invoice.tax_minor, [ln for ln in lines if ln.amount_minor])
        return _Draft(
            remaining, None, [_summary_line(f"Rest of invoice {invoice.number}", remaining, 0)]
        )
    if kind == CreditNoteKind.LINES:
        chosen = [line for line in invoice.lines if line.id in set(line_ids)]
        if not chosen or len(chosen) != len(set(line_ids)):
            raise ValidationFailed({"lines": "Choose at least one line of this invoice."})
        done = _credited_per_line(session, invoice.id)
        already = [line.description for line in chosen if done.get(line.id)]
        if already:
            names = ", ".join(already)[:300]
            raise ValidationFailed(
                {"lines": f"Already credited: {names}. Credit an amount instead."}
            )
        lines = [_line_copy(i, line) for i, line in enumerate(chosen) if line.total_minor]
        amount = sum(line.amount_minor for line in lines)
        if amount == 0:
            raise ValidationFailed({"lines": "The chosen lines come to nothing to credit."})
        if amount > remaining:
            raise ValidationFailed(
                {
                    "lines": f"These lines come to {_money(amount, invoice)}, more than the "
                    f"{_money(remaining, invoice)} left to credit on this invoice."
                }
            )
        return _Draft(amount, sum(line.tax_minor for line in lines), lines)
    if not isinstance(amount_minor, int) or amount_minor <= 0:
        raise ValidationFailed({"amount": "Enter an amount greater than zero."})
    if amount_minor > remaining:
        raise ValidationFailed(
            {
                "amount": f"A credit note can be at most {_money(remaining, invoice)}: the invoice "
                "total less earlier credit notes."
            }
        )
    label = reason.splitlines()[0] if reason else f"Credit against invoice {invoice.number}"
    return _Draft(amount_minor, None, [_summary_line(label, amount_minor, 0)])


def _refund_payment_for(session: Session, invoice: Invoice, payment_id: int | None, amount: int):
    """The payment a refund of `amount` goes through: the one asked for, else the newest of the
    invoice's payments with enough left to refund. Raises ValidationFailed."""
    payments = [payment for payment, _applied in queries.invoice_payments(session, invoice.id)]
    if payment_id is not None:
        payments = [p for p in payments if p.id == payment_id]
        if not payments:
            raise ValidationFailed({"payment_id": "Choose one of this invoice's payments."})
    for payment in reversed(payments):
        if refunds.refundable_minor(session, payment_id=payment.id) >= amount:
            return payment
    raise ValidationFailed(
        {
            "settlement": f"No payment of this invoice has {_money(amount, invoice)} left to "
            "refund. Give account credit instead."
        }
    )


def preview_split(session: Session, *, invoice_id: int) -> tuple[int, int]:
    """(left to credit, amount due) of an invoice, for the credit note form. Read-only."""
    invoice = session.get(Invoice, invoice_id)
    if invoice is None:
        raise NotFound(f"invoice {invoice_id}")
    return invoice.total_minor - credited_total(session, invoice_id), invoice.amount_due_minor


def issue_credit_note(
    session: Session,
    gateway: PaymentGateway | None,
    *,
    invoice_id: int,
    kind: CreditNoteKind,
    now: datetime,
    actor: str,
    issue_date: date | None = None,
    line_ids: tuple[int, ...] = (),
    amount_minor: int = 0,
    reason: str = "",
    settlement: CreditSettlement | None = None,
    payment_id: int | None = None,
    send: bool = False,
) -> CreditNote:
    """Issue a credit note against a finalized invoice and return it.

    `kind` FULL credits everything not yet credited; LINES the chosen invoice lines in full
    (`line_ids`, each at most once over all credit notes); AMOUNT `amount_minor` (tax included,
    its tax part in proportion to the invoice's). The part beyond the amount due needs
    `settlement` REFUND (through `payment_id`, or the newest payment that can take it) or
    ACCOUNT_CREDIT. With `send` the customer is emailed the credit note.

    Raises ValidationFailed ({field: message}; nothing written): more than is left to credit,
    no settlement chosen when one is needed, a payment that cannot take the refund, a reason
    over 2,000 characters. InvalidTransition for a draft or void invoice; NotFound. Commits
    the credit note (one transaction), then, for a refund, runs it and records the outcome."""
    reason = (reason or "").strip()
    if len(reason) > MAX_REASON:
        raise ValidationFailed({"reason": f"Use at most {MAX_REASON:,} characters."})
    invoice = lock_invoice(session, invoice_id)
    try:
        note, refund_through = _issue(
            session,
            invoice,
            kind=CreditNoteKind(kind),
            issue_date=issue_date or now.date(),
            line_ids=tuple(line_ids),
            amount_minor=amount_minor,
            reason=reason,
            settlement=settlement,
            payment_id=payment_id,
            now=now,
            actor=actor,
        )
        if send:
            sending.queue_credit_note_email(session, note, invoice, now=now)
            note.sent_at = now
    except Exception:
        session.rollback()
        raise
    session.commit()
    if refund_through is not None:
        _refund(session, gateway, note.id, refund_through, now=now, actor=actor)
    return note


def _issue(
    session: Session,
    invoice: Invoice,
    *,
    kind: CreditNoteKind,
    issue_date: date,
    line_ids: tuple[int, ...],
    amount_minor: int,
    reason: str,
    settlement: CreditSettlement | None,
    payment_id: int | None,
    now: datetime,
    actor: str,
):
    if invoice.status not in CREDITABLE:
        raise InvalidTransition(
            f"A {invoice.status} invoice cannot be credited"
            + (": edit or delete the draft instead." if invoice.is_draft else ".")
        )
    remaining = invoice.total_minor - credited_total(session, invoice.id)
    if remaining <= 0:
        raise ValidationFailed({"amount": "This invoice is already credited in full."})
    draft = _draft(
        session,
        invoice,
        kind=kind,
        line_ids=line_ids,
        amount_minor=amount_minor,
        reason=reason,
        remaining=remaining,
    )
    split = split_credit(
        draft.amount_minor,
        invoice_total_minor=invoice.total_minor,
        invoice_tax_minor=invoice.tax_minor,
        amount_due_minor=invoice.amount_due_minor,
        tax_minor=draft.tax_minor,
    )
    payment = None
    if split.outside_minor == 0:
        settlement = CreditSettlement.NONE
    elif settlement not in (CreditSettlement.REFUND, CreditSettlement.ACCOUNT_CREDIT):
        raise ValidationFailed(
            {
                "settlement": "The customer has paid: choose how "
                f"{_money(split.outside_minor, invoice)} goes back to them, a refund or "
                "account credit."
            }
        )
    elif settlement == CreditSettlement.REFUND:
        payment = _refund_payment_for(session, invoice, payment_id, split.outside_minor)

    before = {
        "amount_credited_minor": invoice.amount_credited_minor,
        "amount_due_minor": invoice.amount_due_minor,
        "status": str(invoice.status),
    }
    note = CreditNote(
        account_id=invoice.account_id,
        invoice_id=invoice.id,
        number=next_number(session, SERIES, issue_date.year),
        kind=kind,
        currency=invoice.currency,
        issue_date=issue_date,
        reason=reason,
        amount_minor=split.amount_minor,
        tax_minor=split.tax_minor,
        applied_to_due_minor=split.applied_to_due_minor,
        outside_minor=split.outside_minor,
        settlement=settlement,
        settlement_status=(
            SettlementStatus.NOT_NEEDED if split.outside_minor == 0 else SettlementStatus.PENDING
        ),
        payment_id=payment.id if payment else None,
        created_at=now,
        lines=draft.lines,
    )
    if draft.tax_minor is None and len(draft.lines) == 1:
        note.lines[0].tax_minor = split.tax_minor
    session.add(note)
    invoice.amount_credited_minor += split.applied_to_due_minor
    recompute_due(invoice)
    if invoice.amount_due_minor == 0 and invoice.status != InvoiceStatus.PAID:
        invoice.status = InvoiceStatus.PAID
        invoice.paid_at = now
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="credit_note.issued",
        subject=note,
        now=now,
        account_id=invoice.account_id,
        after={
            "number": note.number,
            "invoice": invoice.number,
            "kind": str(kind),
            "amount_minor": note.amount_minor,
            "applied_to_due_minor": note.applied_to_due_minor,
            "outside_minor": note.outside_minor,
            "settlement": str(settlement),
        },
    )
    audit.record(
        session,
        actor=actor,
        action="invoice.credited",
        subject=invoice,
        now=now,
        account_id=invoice.account_id,
        before=before,
        after={
            "amount_credited_minor": invoice.amount_credited_minor,
            "amount_due_minor": invoice.amount_due_minor,
            "status": str(invoice.status),
            "credit_note": note.number,
        },
    )
    if settlement == CreditSettlement.ACCOUNT_CREDIT:
        _grant(session, note, invoice, now=now, actor=actor)
    return note, payment


def _grant(session: Session, note: CreditNote, invoice: Invoice, *, now: datetime, actor: str):
    credit.grant_credit(
        session,
        account_id=note.account_id,
        amount_minor=note.outside_minor,
        currency=note.currency,
        reason=f"Credit note {note.number} for invoice {invoice.number}",
        now=now,
        actor=actor,
        kind=CreditKind.CREDIT_NOTE,
        invoice_id=invoice.id,
        credit_note_id=note.id,
        commit=False,
    )
    note.settlement = CreditSettlement.ACCOUNT_CREDIT
    note.settlement_status = SettlementStatus.DONE
    note.settlement_error = ""
    note.settled_at = now


def _lock_note(session: Session, credit_note_id: int) -> CreditNote:
    note = session.scalar(
        select(CreditNote).where(CreditNote.id == credit_note_id).with_for_update()
    )
    if note is None:
        raise NotFound(f"credit note {credit_note_id}")
    return note


def _refund(session: Session, gateway, note_id: int, payment, *, now: datetime, actor: str) -> None:
    """Refund the credit note's outside part through `payment` and record how it went."""
    note = session.get(CreditNote, note_id)
    method = (
        None
        if payment.method in (PaymentMethod.CARD, PaymentMethod.ACCOUNT_CREDIT)
        else (payment.method)
    )
    refund, error = None, ""
    try:
        refund = refunds.refund_payment(
            session,
            gateway,
            payment_id=payment.id,
            amount_minor=note.outside_minor,
            reason=f"Credit note {note.number}",
            method_for_offline=method,
            reference=note.number,
            now=now,
            actor=actor,
        )
    except BillingError as exc:
        session.rollback()
        error = str(exc) or type(exc).__name__
    note = _lock_note(session, note_id)
    before = {"settlement_status": str(note.settlement_status)}
    note.payment_id = payment.id
    if refund is not None:
        note.refund_id = refund.id
    if refund is not None and refund.status == RefundStatus.SUCCEEDED:
        note.settlement_status, note.settled_at, note.settlement_error = (
            SettlementStatus.DONE,
            now,
            "",
        )
    elif refund is not None and refund.status == RefundStatus.PENDING:
        note.settlement_status = SettlementStatus.PENDING
    else:
        note.settlement_status = SettlementStatus.FAILED
        note.settlement_error = (error or (refund.failure_message if refund else ""))[:2000] or (
            "The refund did not go through."
        )
    audit.record(
        session,
        actor=actor,
        action="credit_note.refund_" + ("failed" if note.settlement_status == "failed" else "made"),
        subject=note,
        now=now,
        account_id=note.account_id,
        before=before,
        after={
            "settlement_status": str(note.settlement_status),
            "refund_id": note.refund_id,
            "error": note.settlement_error or None,
        },
    )
    session.commit()


def settle_credit_note(
    session: Session,
    gateway: PaymentGateway | None,
    *,
    credit_note_id: int,
    settlement: CreditSettlement,
    now: datetime,
    actor: str,
    payment_id: int | None = None,
) -> CreditNote:
    """Try again to give back a credit note's outside part whose refund failed: another refund
    or account credit. Idempotent once settled (a settled or pending credit note is returned
    as it is). Raises ValidationFailed, NotFound. Commits."""
    note = _lock_note(session, credit_note_id)
    if note.settlement_status != SettlementStatus.FAILED:
        session.rollback()
        return note
    invoice = session.get(Invoice, note.invoice_id)
    try:
        if settlement == CreditSettlement.ACCOUNT_CREDIT:
            _grant(session, note, invoice, now=now, actor=actor)
            payment = None
        elif settlement == CreditSettlement.REFUND:
            payment = _refund_payment_for(session, invoice, payment_id, note.outside_minor)
            note.settlement = CreditSettlement.REFUND
        else:
            raise ValidationFailed({"settlement": "Choose a refund or account credit."})
        audit.record(
            session,
            actor=actor,
            action="credit_note.settlement_retried",
            subject=note,
            now=now,
            account_id=note.account_id,
            before={"settlement_status": "failed"},
            after={"settlement": str(settlement)},
        )
    except Exception:
        session.rollback()
        raise
    session.commit()
    if payment is not None:
        _refund(session, gateway, note.id, payment, now=now, actor=actor)
    return session.get(CreditNote, credit_note_id)
