"""A customer's invoices: list (filter, search, keyset pages), one invoice, its PDF."""

from flask import render_template, request
from flask_login import current_user

from billing import invoicing_queries, queries
from billing.models import InvoiceStatus
from billing.services import documents
from web.auth import portal_login_required
from web.extensions import db, read_only
from web.responses import pdf_response

PORTAL_STATUSES = [s for s in InvoiceStatus if s != InvoiceStatus.DRAFT]


@read_only
@portal_login_required
def invoice_list():
    unsafe_status = request.args.get("status") or None
    status = unsafe_status if unsafe_status in PORTAL_STATUSES else None
    search = (request.args.get("q") or "").strip()[:40] or None
    page = queries.invoice_list_page(
        db.session,
        account_id=current_user.account_id,
        status=status,
        search=search,
        older=request.args.get("older"),
        newer=request.args.get("newer"),
    )
    return render_template(
        "portal/invoices/list.html",
        page=page,
        status=status,
        search=search,
        statuses=PORTAL_STATUSES,
    )


@portal_login_required
def invoice_show(invoice_id: int):
    invoice = queries.get_invoice(
        db.session, invoice_id=invoice_id, account_id=current_user.account_id
    )
    return render_template(
        "portal/invoices/show.html",
        invoice=invoice,
        payments=queries.invoice_payments(db.session, invoice.id),
        refunds=queries.invoice_refunds(db.session, invoice.id),
        credit_notes=invoicing_queries.credit_notes_of(db.session, invoice.id),
    )


@portal_login_required
def invoice_pdf(invoice_id: int):
    filename, data = documents.invoice_pdf(
        db.session, invoice_id=invoice_id, account_id=current_user.account_id
    )
    return pdf_response(filename, data)


@portal_login_required
def credit_note_pdf(credit_note_id: int):
    """A credit note of the signed-in customer's account as PDF; another account's is a 404."""
    filename, data = documents.credit_note_pdf(
        db.session, credit_note_id=credit_note_id, account_id=current_user.account_id
    )
    return pdf_response(filename, data)
