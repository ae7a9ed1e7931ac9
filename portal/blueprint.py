"""The customer portal's URL table."""

from flask import Blueprint

from billing import queries
from billing.clock import utcnow
from billing.models import Realm
from portal import home, invoices, payments
from web import sign_in
from web.extensions import db

blueprint = Blueprint("portal", __name__)
sign_in.register(blueprint, Realm.PORTAL, home_endpoint="portal.home")

blueprint.add_url_rule("/", "home", home.home)
blueprint.add_url_rule("/invoices", "invoice_list", invoices.invoice_list)
blueprint.add_url_rule("/invoices/<int:invoice_id>", "invoice_show", invoices.invoice_show)
blueprint.add_url_rule("/invoices/<int:invoice_id>.pdf", "invoice_pdf", invoices.invoice_pdf)
blueprint.add_url_rule("/payments", "payment_list", payments.payment_list)
blueprint.add_url_rule("/payments/<int:payment_id>", "payment_show", payments.payment_show)
blueprint.add_url_rule(
    "/payments/<int:payment_id>/receipt.pdf", "payment_receipt_pdf", payments.payment_receipt_pdf
)
blueprint.add_url_rule("/brand/logo", "brand_logo", home.brand_logo)


@blueprint.context_processor
def _page_context():
    company = queries.company(db.session)
    return {
        "brand_name": company.name,
        "brand_logo": company.logo_mime is not None,
        "today": utcnow().date(),
    }
