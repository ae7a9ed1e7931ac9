"""Emailing finalized invoices and credit notes to the customer's billing email (with the
account's extra CC addresses), the PDF attached and, while something is due, the invoice's pay
link. Emails go through the outbox (billing/services/emails.py): the row is written in the same
transaction as `sent_at` and the audit entry, and delivered after commit.

Sending again is allowed and says so ("Reminder: …"); each send is one email and one audit
entry, so calling twice sends twice (a person asked twice).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from billing import audit, queries
from billing.errors import InvalidTransition, NotFound
from billing.models import Account, CreditNote, Email, Invoice, InvoiceStatus
from billing.services import emails, pay_links
from billing.services.invoices import lock_invoice

SENDABLE = frozenset({InvoiceStatus.OPEN, InvoiceStatus.UNCOLLECTIBLE, InvoiceStatus.PAID})


def _account(session: Session, account_id: int) -> Account:
    return queries.get_account(session, account_id)


def queue_invoice_email(
    session: Session,
    invoice: Invoice,
    *,
    now: datetime,
    secret: str,
    base_url: str,
    pay_link_days: int = pay_links.DEFAULT_DAYS_AFTER_DUE,
) -> Email:
    """Queue the invoice email in the caller's transaction (the caller audits and commits)."""
    account = _account(session, invoice.account_id)
    link = None
    if pay_links.is_payable(invoice):
        link = pay_links.pay_link_url(
            session,
            invoice=invoice,
            secret=secret,
            base_url=base_url,
            now=now,
            days_after_due=pay_link_days,
        )
    return emails.queue_email(
        session,
        to=account.billing_email,
        cc=account.cc_addresses,
        template="invoice",
        context={
            "company_name": queries.company(session).name,
            "account_name": account.name,
            "number": invoice.display_number,
            "currency": invoice.currency,
            "locale": account.locale,
            "total_minor": invoice.total_minor,
            "amount_paid_minor": invoice.amount_paid_minor,
            "amount_credited_minor": invoice.amount_credited_minor,
            "amount_due_minor": invoice.amount_due_minor,
            "due_date": invoice.due_date,
            "memo": invoice.memo,
            "pay_link": link,
            "resend": invoice.sent_at is not None,
        },
        attachments=[{"kind": "invoice_pdf", "id": invoice.id}],
        account_id=account.id,
        now=now,
    )


def send_invoice(
    session: Session,
    *,
    invoice_id: int,
    now: datetime,
    actor: str,
    secret: str,
    base_url: str,
    pay_link_days: int = pay_links.DEFAULT_DAYS_AFTER_DUE,
) -> Email:
    """Email a finalized invoice (open, uncollectible or paid) with its PDF and pay link, and
    note when. Raises InvalidTransition for a draft (finalize it first) or a void invoice,
    NotFound. Commits with an audit entry ("invoice.sent", or "invoice.resent" after the first)."""
    invoice = lock_invoice(session, invoice_id)
    try:
        email = send_locked(
            session,
            invoice,
            now=now,
            actor=actor,
            secret=secret,
            base_url=base_url,
            pay_link_days=pay_link_days,
        )
    except InvalidTransition:
        session.rollback()
        raise
    session.commit()
    return email


def send_locked(
    session: Session,
    invoice: Invoice,
    *,
    now: datetime,
    actor: str,
    secret: str,
    base_url: str,
    pay_link_days: int = pay_links.DEFAULT_DAYS_AFTER_DUE,
) -> Email:
    """`send_invoice` in the caller's transaction, for an invoice the caller locked or created
    in it: the email joins the outbox (delivered only if the caller commits), `sent_at` and the
    audit entry are written; the caller commits. Raises InvalidTransition (draft or void)."""
    if invoice.status not in SENDABLE:
        what = "Finalize it first." if invoice.status == InvoiceStatus.DRAFT else ""
        raise InvalidTransition(f"A {invoice.status} invoice cannot be sent. {what}".strip())
    action = "invoice.resent" if invoice.sent_at else "invoice.sent"
    email = queue_invoice_email(
        session,
        invoice,
        now=now,
        secret=secret,
        base_url=base_url,
        pay_link_days=pay_link_days,
    )
    invoice.sent_at = now
    audit.record(
        session,
        actor=actor,
        action=action,
        subject=invoice,
        now=now,
        account_id=invoice.account_id,
        after={"to": ", ".join(filter(None, [email.to_address, email.cc])), "email_id": email.id},
    )
    return email


def queue_credit_note_email(session: Session, note: CreditNote, invoice: Invoice, *, now: datetime):
    """Queue the credit note email in the caller's transaction (the caller audits, commits)."""
    account = _account(session, note.account_id)
    return emails.queue_email(
        session,
        to=account.billing_email,
        cc=account.cc_addresses,
        template="credit_note",
        context={
            "company_name": queries.company(session).name,
            "account_name": account.name,
            "number": note.number,
            "invoice_number": invoice.display_number,
            "currency": note.currency,
            "locale": account.locale,
            "amount_minor": note.amount_minor,
            "applied_to_due_minor": note.applied_to_due_minor,
            "outside_minor": note.outside_minor,
            "settlement": str(note.settlement),
            "amount_due_minor": invoice.amount_due_minor,
            "reason": note.reason,
        },
        attachments=[{"kind": "credit_note_pdf", "id": note.id}],
        account_id=account.id,
        now=now,
    )


def send_credit_note(session: Session, *, credit_note_id: int, now: datetime, actor: str) -> Email:
    """Email a credit note with its PDF to the customer. Raises NotFound. Commits with an audit
    entry."""
    note = session.scalar(
        select(CreditNote).where(CreditNote.id == credit_note_id).with_for_update()
    )
    if note is None:
        raise NotFound(f"credit note {credit_note_id}")
    invoice = session.get(Invoice, note.invoice_id)
    email = queue_credit_note_email(session, note, invoice, now=now)
    note.sent_at = now
    audit.record(
        session,
        actor=actor,
        action="credit_note.sent",
        subject=note,
        now=now,
        account_id=note.account_id,
        after={"to": ", ".join(filter(None, [email.to_address, email.cc])), "email_id": email.id},
    )
    session.commit()
    return email
