"""The customer portal's URL table."""

from flask import Blueprint, current_app

from billing.clock import utcnow
from billing.models import Realm
from portal import (
    cards,
    home,
    invitations,
    invoices,
    pay,
    pay_link,
    payments,
    quote_link,
    quotes,
    widget,
)
from web import sign_in
from web.extensions import csrf, db

blueprint = Blueprint("portal", __name__)
sign_in.register(blueprint, Realm.PORTAL, home_endpoint="portal.home")

blueprint.add_url_rule("/", "home", home.home)
blueprint.add_url_rule("/invoices", "invoice_list", invoices.invoice_list)
blueprint.add_url_rule("/invoices/<int:invoice_id>", "invoice_show", invoices.invoice_show)
blueprint.add_url_rule("/invoices/<int:invoice_id>.pdf", "invoice_pdf", invoices.invoice_pdf)
blueprint.add_url_rule(
    "/credit-notes/<int:credit_note_id>.pdf", "credit_note_pdf", invoices.credit_note_pdf
)
blueprint.add_url_rule("/payments", "payment_list", payments.payment_list)
blueprint.add_url_rule("/payments/<int:payment_id>", "payment_show", payments.payment_show)
blueprint.add_url_rule(
    "/payments/<int:payment_id>/receipt.pdf", "payment_receipt_pdf", payments.payment_receipt_pdf
)
blueprint.add_url_rule("/brand/logo", "brand_logo", home.brand_logo)
blueprint.add_url_rule(
    "/invite/<token>",
    "invitation_accept",
    invitations.invitation_accept,
    methods=["GET", "POST"],
)

# Cards and paying (payments-core).
blueprint.add_url_rule("/cards", "card_list", cards.card_list)
blueprint.add_url_rule("/cards/new", "card_new", cards.card_new)
blueprint.add_url_rule("/cards", "card_create", cards.card_create, methods=["POST"])
blueprint.add_url_rule("/cards/setup", "card_setup", cards.card_setup, methods=["POST"])
blueprint.add_url_rule(
    "/cards/<int:card_id>/remove", "card_remove", cards.card_remove, methods=["POST"]
)
blueprint.add_url_rule(
    "/cards/<int:card_id>/default", "card_make_default", cards.card_make_default, methods=["POST"]
)
blueprint.add_url_rule("/invoices/pay", "pay_new", pay.pay_new)
blueprint.add_url_rule("/invoices/pay", "pay_create", pay.pay_create, methods=["POST"])
blueprint.add_url_rule(
    "/payments/<int:payment_id>/authenticate", "payment_authenticate", pay.payment_authenticate
)
blueprint.add_url_rule(
    "/payments/<int:payment_id>/confirm", "payment_confirm", pay.payment_confirm, methods=["POST"]
)
# Public pay links (no sign-in; one invoice each).
blueprint.add_url_rule("/pay/<token>", "pay_link_show", pay_link.pay_link_show)
blueprint.add_url_rule("/pay/<token>", "pay_link_pay", pay_link.pay_link_pay, methods=["POST"])
blueprint.add_url_rule("/pay/<token>/invoice.pdf", "pay_link_pdf", pay_link.pay_link_pdf)
blueprint.add_url_rule(
    "/pay/<token>/setup", "pay_link_setup", pay_link.pay_link_setup, methods=["POST"]
)
blueprint.add_url_rule(
    "/pay/<token>/payments/<int:payment_id>/authenticate",
    "pay_link_authenticate",
    pay_link.pay_link_authenticate,
)
blueprint.add_url_rule(
    "/pay/<token>/payments/<int:payment_id>/confirm",
    "pay_link_confirm",
    pay_link.pay_link_confirm,
    methods=["POST"],
)

# Quotes (quotes-orders): the customer's list and answers, and the public emailed link.
blueprint.add_url_rule("/quotes", "quote_list", quotes.quote_list)
blueprint.add_url_rule("/quotes/<int:quote_id>", "quote_show", quotes.quote_show)
blueprint.add_url_rule("/quotes/<int:quote_id>.pdf", "quote_pdf", quotes.quote_pdf)
blueprint.add_url_rule(
    "/quotes/<int:quote_id>/accept", "quote_accept", quotes.quote_accept, methods=["POST"]
)
blueprint.add_url_rule(
    "/quotes/<int:quote_id>/decline", "quote_decline", quotes.quote_decline, methods=["POST"]
)
blueprint.add_url_rule("/quote/<token>", "quote_link_show", quote_link.quote_link_show)
blueprint.add_url_rule("/quote/<token>/quote.pdf", "quote_link_pdf", quote_link.quote_link_pdf)
blueprint.add_url_rule(
    "/quote/<token>/accept", "quote_link_accept", quote_link.quote_link_accept, methods=["POST"]
)
blueprint.add_url_rule(
    "/quote/<token>/decline", "quote_link_decline", quote_link.quote_link_decline, methods=["POST"]
)

# The Pay Now widget (money-back): public, framed by configured sites, no cookies, so no CSRF
# (see portal/widget.py); every attempt is rate-limited per IP.
blueprint.add_url_rule("/widget/<public_key>", "widget_show", widget.widget_show)
blueprint.add_url_rule(
    "/widget/<public_key>", "widget_pay", csrf.exempt(widget.widget_pay), methods=["POST"]
)
blueprint.add_url_rule(
    "/widget/<public_key>/setup", "widget_setup", csrf.exempt(widget.widget_setup),
    methods=["POST"],
)
blueprint.add_url_rule(
    "/widget/<public_key>/confirm/<ticket>",
    "widget_confirm",
    csrf.exempt(widget.widget_confirm),
    methods=["POST"],
)


@blueprint.context_processor
def _page_context():
    """Header branding (cached per process, see BrandingCache) and today's date."""
    branding = current_app.extensions["paydesk.branding"].get(db.session)
    return {
        "brand_name": branding.name,
        "brand_logo": branding.has_logo,
        "today": utcnow().date(),
    }
