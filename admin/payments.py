"""Every account's payments, one payment with its audit trail, and its receipt PDF."""

from flask import render_template, request

from billing import admin_queries
from billing.services import documents
from web.auth import staff_login_required
from web.extensions import db
from web.responses import pdf_response


@staff_login_required
def payment_list():
    listing = admin_queries.payment_list(
        db.session, older=request.args.get("older"), newer=request.args.get("newer")
    )
    return render_template(
        "admin/payments/list.html", page=listing.page, account_names=listing.account_names
    )


@staff_login_required
def payment_show(payment_id: int):
    overview = admin_queries.payment_overview(db.session, payment_id=payment_id)
    return render_template("admin/payments/show.html", o=overview, payment=overview.payment)


@staff_login_required
def payment_receipt_pdf(payment_id: int):
    filename, data = documents.receipt_pdf(db.session, payment_id=payment_id, account_id=None)
    return pdf_response(filename, data)
