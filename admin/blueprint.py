"""The staff admin's URL table."""

from flask import Blueprint, current_app, redirect, url_for

from admin import (
    api_keys,
    audit,
    catalog,
    credit_notes,
    customer_edit,
    customers,
    emails,
    invoice_actions,
    invoice_editor,
    invoices,
    offline_payments,
    pay_links,
    payment_settings,
    payments,
    quotes,
    refunds,
    settings,
    webhook_events,
    widget,
)
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

# Payments (payments-core): processor settings, webhook events, invoice pay links.
blueprint.add_url_rule(
    "/settings/payments", "payment_settings_edit", payment_settings.payment_settings_edit
)
blueprint.add_url_rule(
    "/settings/payments",
    "payment_settings_update",
    payment_settings.payment_settings_update,
    methods=["POST"],
)
blueprint.add_url_rule(
    "/settings/payments/test",
    "payment_settings_test",
    payment_settings.payment_settings_test,
    methods=["POST"],
)
blueprint.add_url_rule("/webhooks", "webhook_event_list", webhook_events.webhook_event_list)
blueprint.add_url_rule(
    "/webhooks/<int:event_id>/replay",
    "webhook_event_replay",
    webhook_events.webhook_event_replay,
    methods=["POST"],
)
blueprint.add_url_rule(
    "/invoices/<int:invoice_id>/pay-link/regenerate",
    "pay_link_regenerate",
    pay_links.pay_link_regenerate,
    methods=["POST"],
)
blueprint.add_url_rule(
    "/invoices/<int:invoice_id>/pay-link/revoke",
    "pay_link_revoke",
    pay_links.pay_link_revoke,
    methods=["POST"],
)

# Quotes and API keys (quotes-orders).
blueprint.add_url_rule("/quotes", "quote_list", quotes.quote_list)
blueprint.add_url_rule("/quotes.csv", "quote_export", quotes.quote_export)
blueprint.add_url_rule("/quotes/new", "quote_new", quotes.quote_new)
blueprint.add_url_rule("/quotes", "quote_create", quotes.quote_create, methods=["POST"])
blueprint.add_url_rule("/quotes/<int:quote_id>", "quote_show", quotes.quote_show)
blueprint.add_url_rule("/quotes/<int:quote_id>.pdf", "quote_pdf", quotes.quote_pdf)
blueprint.add_url_rule("/quotes/<int:quote_id>/edit", "quote_edit", quotes.quote_edit)
blueprint.add_url_rule(
    "/quotes/<int:quote_id>/edit", "quote_update", quotes.quote_update, methods=["POST"]
)
blueprint.add_url_rule(
    "/quotes/<int:quote_id>/send", "quote_send", quotes.quote_send, methods=["POST"]
)
blueprint.add_url_rule(
    "/quotes/<int:quote_id>/convert", "quote_convert", quotes.quote_convert, methods=["POST"]
)
blueprint.add_url_rule("/api-keys", "api_key_list", api_keys.api_key_list)
blueprint.add_url_rule("/api-keys", "api_key_create", api_keys.api_key_create, methods=["POST"])
blueprint.add_url_rule(
    "/api-keys/<int:api_key_id>/revoke",
    "api_key_revoke",
    api_keys.api_key_revoke,
    methods=["POST"],
)

# Money back and forward (money-back): offline payments on an invoice, refunds of a payment.
blueprint.add_url_rule(
    "/invoices/<int:invoice_id>/payments",
    "invoice_record_payment",
    offline_payments.invoice_record_payment,
    methods=["POST"],
)
blueprint.add_url_rule(
    "/payments/<int:payment_id>/refunds",
    "payment_refund",
    refunds.payment_refund,
    methods=["POST"],
)
blueprint.context_processor(offline_payments.template_helpers)
blueprint.context_processor(refunds.template_helpers)
blueprint.add_url_rule("/settings/widget", "widget_edit", widget.widget_edit)
blueprint.add_url_rule("/settings/widget", "widget_update", widget.widget_update, methods=["POST"])


# Invoicing (invoicing): customers and portal users, catalog, draft editor, invoice actions,
# credit notes, CSV exports and the audit log.
_GET_POST = ["GET", "POST"]
for _rule, _endpoint, _view, _methods in [
    ("/customers.csv", "customer_export", customers.customer_export, None),
    ("/customers/new", "customer_new", customer_edit.customer_new, _GET_POST),
    ("/customers/<int:account_id>/edit", "customer_edit", customer_edit.customer_edit, _GET_POST),
    ("/customers/<int:account_id>/users", "portal_user_invite", customer_edit.portal_user_invite,
     ["POST"]),
    ("/customers/<int:account_id>/users/<int:portal_user_id>/role", "portal_user_role",
     customer_edit.portal_user_role, ["POST"]),
    ("/customers/<int:account_id>/users/<int:portal_user_id>/deactivate",
     "portal_user_deactivate", customer_edit.portal_user_deactivate, ["POST"]),
    ("/customers/<int:account_id>/users/<int:portal_user_id>/reactivate",
     "portal_user_reactivate", customer_edit.portal_user_reactivate, ["POST"]),
    ("/catalog", "catalog_list", catalog.catalog_list, None),
    ("/catalog/products/new", "product_new", catalog.product_new, _GET_POST),
    ("/catalog/products/<int:product_id>", "product_edit", catalog.product_edit, _GET_POST),
    ("/catalog/tax-rates/new", "tax_rate_new", catalog.tax_rate_new, _GET_POST),
    ("/catalog/tax-rates/<int:tax_rate_id>", "tax_rate_edit", catalog.tax_rate_edit, _GET_POST),
    ("/invoices.csv", "invoice_export", invoice_actions.invoice_export, None),
    ("/invoices/new", "invoice_new", invoice_editor.invoice_new, _GET_POST),
    ("/invoices/<int:invoice_id>/edit", "invoice_edit", invoice_editor.invoice_edit, _GET_POST),
    ("/invoices/<int:invoice_id>/finalize", "invoice_finalize", invoice_actions.invoice_finalize,
     ["POST"]),
    ("/invoices/<int:invoice_id>/send", "invoice_send", invoice_actions.invoice_send, ["POST"]),
    ("/invoices/<int:invoice_id>/void", "invoice_void", invoice_actions.invoice_void, ["POST"]),
    ("/invoices/<int:invoice_id>/uncollectible", "invoice_uncollectible",
     invoice_actions.invoice_uncollectible, ["POST"]),
    ("/invoices/<int:invoice_id>/duplicate", "invoice_duplicate",
     invoice_actions.invoice_duplicate, ["POST"]),
    ("/invoices/<int:invoice_id>/delete", "invoice_delete", invoice_actions.invoice_delete,
     ["POST"]),
    ("/invoices/<int:invoice_id>/credit-notes/new", "credit_note_new",
     credit_notes.credit_note_new, _GET_POST),
    ("/credit-notes", "credit_note_list", credit_notes.credit_note_list, None),
    ("/credit-notes.csv", "credit_note_export", credit_notes.credit_note_export, None),
    ("/credit-notes/<int:credit_note_id>", "credit_note_show", credit_notes.credit_note_show,
     None),
    ("/credit-notes/<int:credit_note_id>.pdf", "credit_note_pdf", credit_notes.credit_note_pdf,
     None),
    ("/credit-notes/<int:credit_note_id>/send", "credit_note_send",
     credit_notes.credit_note_send, ["POST"]),
    ("/credit-notes/<int:credit_note_id>/settle", "credit_note_settle",
     credit_notes.credit_note_settle, ["POST"]),
    ("/payments.csv", "payment_export", payments.payment_export, None),
    ("/audit", "audit_list", audit.audit_list, None),
]:  # fmt: skip
    blueprint.add_url_rule(_rule, _endpoint, _view, methods=_methods)


@blueprint.context_processor
def _page_context():
    """Header branding (cached per process, see BrandingCache) and today's date."""
    branding = current_app.extensions["paydesk.branding"].get(db.session)
    return {
        "brand_name": branding.name,
        "brand_logo": branding.has_logo,
        "today": utcnow().date(),
    }
