"""Every account's payments (filters, sort, keyset pages, CSV export), one payment with its audit
trail, and its receipt PDF."""

from flask import render_template, request

from admin import lists
from billing import admin_lists, admin_queries, invoicing_queries
from billing.clock import utcnow
from billing.models import PaymentStatus
from billing.services import documents
from web.auth import staff_login_required
from web.extensions import db
from web.responses import pdf_response

PAYMENT_STATUSES = [str(s) for s in PaymentStatus]


@staff_login_required
def payment_list():
    """Payments newest first (or as sorted), filtered by status, customer, dates and currency,
    searched by customer, receipt, reference or invoice number."""
    filters, errors = lists.parse_filters(PAYMENT_STATUSES, admin_lists.PAYMENT_SORTS)
    listing = admin_lists.payment_list(
        db.session, filters, older=request.args.get("older"), newer=request.args.get("newer")
    )
    return render_template(
        "admin/payments/list.html",
        page=listing.page,
        account_names=listing.account_names,
        filters=filters,
        filter_errors=errors,
        args=lists.filter_args(filters),
        statuses=PAYMENT_STATUSES,
        sorts=admin_lists.PAYMENT_SORTS,
        customers=invoicing_queries.customer_choices(db.session),
    )


@staff_login_required
def payment_export():
    filters, _errors = lists.parse_filters(PAYMENT_STATUSES, admin_lists.PAYMENT_SORTS)
    return lists.csv_response(
        f"payments-{utcnow():%Y%m%d}.csv",
        lambda session: admin_lists.payment_csv_rows(session, filters),
    )


@staff_login_required
def payment_show(payment_id: int):
    overview = admin_queries.payment_overview(db.session, payment_id=payment_id)
    return render_template("admin/payments/show.html", o=overview, payment=overview.payment)


@staff_login_required
def payment_receipt_pdf(payment_id: int):
    filename, data = documents.receipt_pdf(db.session, payment_id=payment_id, account_id=None)
    return pdf_response(filename, data)
