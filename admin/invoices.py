"""Every account's invoices, drafts included: list (filter, search, keyset pages), one invoice
with its audit trail, its PDF. Read-only for now."""

from flask import render_template, request

from billing import admin_queries, queries
from billing.models import InvoiceStatus
from billing.services import documents
from web.auth import staff_login_required
from web.extensions import db
from web.responses import pdf_response

STATUSES = list(InvoiceStatus)


@staff_login_required
def invoice_list():
    unsafe_status = request.args.get("status") or None
    status = unsafe_status if unsafe_status in STATUSES else None
    search = (request.args.get("q") or "").strip()[:40] or None
    page = queries.invoice_page(
        db.session,
        account_id=None,
        include_drafts=True,
        status=status,
        search=search,
        older=request.args.get("older"),
        newer=request.args.get("newer"),
    )
    return render_template(
        "admin/invoices/list.html", page=page, status=status, search=search, statuses=STATUSES
    )


@staff_login_required
def invoice_show(invoice_id: int):
    overview = admin_queries.invoice_overview(db.session, invoice_id=invoice_id)
    return render_template("admin/invoices/show.html", o=overview, invoice=overview.invoice)


@staff_login_required
def invoice_pdf(invoice_id: int):
    filename, data = documents.invoice_pdf(db.session, invoice_id=invoice_id, account_id=None)
    return pdf_response(filename, data)
