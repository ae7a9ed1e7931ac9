"""Documents customers receive: invoice, receipt, credit note and quote PDFs. Loads what a document
shows (through account-scoped queries), renders it with billing.documents.pdf, and registers
each kind as an email attachment. Read-only."""

from __future__ import annotations

from sqlalchemy.orm import Session

from billing import queries, quote_queries
from billing.documents.pdf import (
    render_credit_note_pdf,
    render_invoice_pdf,
    render_quote_pdf,
    render_receipt_pdf,
)
from billing.errors import NotFound
from billing.models import PaymentStatus
from billing.services import emails


def invoice_pdf(session: Session, *, invoice_id: int, account_id: int | None) -> tuple[str, bytes]:
    """(filename, PDF bytes) of an invoice; raises NotFound outside `account_id`."""
    invoice = queries.get_invoice(session, invoice_id=invoice_id, account_id=account_id)
    data = render_invoice_pdf(
        invoice,
        account=queries.get_account(session, invoice.account_id),
        company=queries.company(session),
        payments=queries.invoice_payments(session, invoice.id),
        refunds=queries.invoice_refunds(session, invoice.id),
    )
    return f"invoice-{invoice.display_number}.pdf".replace(" ", "-"), data


def receipt_pdf(session: Session, *, payment_id: int, account_id: int | None) -> tuple[str, bytes]:
    """(filename, PDF bytes) of a payment receipt; raises NotFound outside `account_id`, and
    for a payment that did not (or not yet) succeed: a receipt says the money was received."""
    payment = queries.get_payment(session, payment_id=payment_id, account_id=account_id)
    if payment.status != PaymentStatus.SUCCEEDED:
        raise NotFound(f"receipt of payment {payment_id} ({payment.status})")
    data = render_receipt_pdf(
        payment,
        account=queries.get_account(session, payment.account_id),
        company=queries.company(session),
        applied=[(a.invoice, a.amount_minor) for a in payment.allocations],
    )
    return f"receipt-{payment.receipt_number}.pdf", data


def credit_note_pdf(
    session: Session, *, credit_note_id: int, account_id: int | None
) -> tuple[str, bytes]:
    """(filename, PDF bytes) of a credit note; raises NotFound outside `account_id`."""
    note = queries.get_credit_note(session, credit_note_id=credit_note_id, account_id=account_id)
    data = render_credit_note_pdf(
        note,
        invoice=queries.get_invoice(session, invoice_id=note.invoice_id, account_id=None),
        account=queries.get_account(session, note.account_id),
        company=queries.company(session),
    )
    return f"credit-note-{note.number}.pdf", data


def _credit_note_attachment(session: Session, credit_note_id: int) -> tuple[str, str, bytes]:
    filename, data = credit_note_pdf(session, credit_note_id=credit_note_id, account_id=None)
    return filename, "application/pdf", data


def _invoice_attachment(session: Session, invoice_id: int) -> tuple[str, str, bytes]:
    filename, data = invoice_pdf(session, invoice_id=invoice_id, account_id=None)
    return filename, "application/pdf", data


def _receipt_attachment(session: Session, payment_id: int) -> tuple[str, str, bytes]:
    filename, data = receipt_pdf(session, payment_id=payment_id, account_id=None)
    return filename, "application/pdf", data


emails.ATTACHMENT_RENDERERS["invoice_pdf"] = _invoice_attachment
emails.ATTACHMENT_RENDERERS["receipt_pdf"] = _receipt_attachment
emails.ATTACHMENT_RENDERERS["credit_note_pdf"] = _credit_note_attachment


def quote_pdf(session: Session, *, quote_id: int, account_id: int | None) -> tuple[str, bytes]:
    """(filename, PDF bytes) of a quote; raises NotFound outside `account_id` (and for a draft
    seen by a customer)."""
    quote = quote_queries.get_quote(session, quote_id=quote_id, account_id=account_id)
    data = render_quote_pdf(quote, account=quote.account, company=queries.company(session))
    return f"quote-{quote.display_number}.pdf".replace(" ", "-"), data


def _quote_attachment(session: Session, quote_id: int) -> tuple[str, str, bytes]:
    filename, data = quote_pdf(session, quote_id=quote_id, account_id=None)
    return filename, "application/pdf", data


emails.ATTACHMENT_RENDERERS["quote_pdf"] = _quote_attachment
