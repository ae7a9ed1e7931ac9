"""A customer's payment history and receipts."""

from flask import render_template, request
from flask_login import current_user

from billing import queries
from billing.services import credit, documents
from web.auth import portal_login_required
from web.extensions import db
from web.responses import pdf_response


@portal_login_required
def payment_list():
    page = queries.payment_page(
        db.session,
        account_id=current_user.account_id,
        older=request.args.get("older"),
        newer=request.args.get("newer"),
    )
    return render_template(
        "portal/payments/list.html",
        page=page,
        credit=credit.credit_summary(db.session, account_id=current_user.account_id),
    )


@portal_login_required
def payment_show(payment_id: int):
    payment = queries.get_payment(
        db.session, payment_id=payment_id, account_id=current_user.account_id
    )
    return render_template("portal/payments/show.html", payment=payment)


@portal_login_required
def payment_receipt_pdf(payment_id: int):
    filename, data = documents.receipt_pdf(
        db.session, payment_id=payment_id, account_id=current_user.account_id
    )
    return pdf_response(filename, data)
