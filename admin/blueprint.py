"""The staff admin's URL table."""

from flask import Blueprint, redirect, url_for

from admin import customers, emails, invoices, payments, settings
from billing import queries
from billing.clock import utcnow
from billing.models import Realm
from web import sign_in
from web.auth import staff_login_required
from web.extensions import db

blueprint = Blueprint("admin", __name__)
sign_in.register(blueprint, Realm.STAFF, home_endpoint="admin.home")


@blueprint.get("/", endpoint="home")
@staff_login_required
def home():
    return redirect(url_for("admin.customer_list"))


blueprint.add_url_rule("/customers", "customer_list", customers.customer_list)
blueprint.add_url_rule("/customers/<int:account_id>", "customer_show", customers.customer_show)
blueprint.add_url_rule("/invoices", "invoice_list", invoices.invoice_list)
blueprint.add_url_rule("/invoices/<int:invoice_id>", "invoice_show", invoices.invoice_show)
blueprint.add_url_rule("/invoices/<int:invoice_id>.pdf", "invoice_pdf", invoices.invoice_pdf)
blueprint.add_url_rule("/payments", "payment_list", payments.payment_list)
blueprint.add_url_rule("/payments/<int:payment_id>", "payment_show", payments.payment_show)
blueprint.add_url_rule(
    "/payments/<int:payment_id>/receipt.pdf", "payment_receipt_pdf", payments.payment_receipt_pdf
)
blueprint.add_url_rule("/emails", "email_list", emails.email_list)
blueprint.add_url_rule("/emails/<int:email_id>", "email_show", emails.email_show)
blueprint.add_url_rule("/settings", "settings_edit", settings.settings_edit, methods=["GET"])
blueprint.add_url_rule("/settings", "settings_update", settings.settings_update, methods=["POST"])
blueprint.add_app_template_filter(emails.linkify, "linkify")


@blueprint.context_processor
def _page_context():
    company = queries.company(db.session)
    return {
        "brand_name": company.name,
        "brand_logo": company.logo_mime is not None,
        "today": utcnow().date(),
    }
