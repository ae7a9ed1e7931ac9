"""The public pay-link pages at /pay/<token>: no sign-in, one invoice only.

GET shows the invoice (summary, PDF, a card form) and changes nothing, because mail scanners
open links too; paying is a POST. Unknown, revoked or expired tokens answer 410 and count
toward the per-IP limit (429 past it). The page never links into the account.
"""

from __future__ import annotations

from flask import current_app, flash, redirect, render_template, url_for

from billing.clock import utcnow
from billing.errors import (
    AuthenticationRequired,
    GatewayPermanent,
    GatewayRetryable,
    InvalidTransition,
    NotFound,
    PaymentDeclined,
    RateLimited,
    TokenInvalid,
    ValidationFailed,
)
from billing.money import to_major
from billing.services import (
    card_payments,
    documents,
    pay_link_payments,
    pay_links,
    processor_settings,
)
from portal.cards import processor_problem
from portal.forms import PayLinkForm
from web.auth import client_ip, limits
from web.extensions import db
from web.forms import ConfirmForm
from web.processor import base_url, gateway, stripe_js
from web.responses import pdf_response

LINK_ERRORS = (TokenInvalid, RateLimited)


def _invalid(exc: Exception):
    status = 429 if isinstance(exc, RateLimited) else 410
    return render_template("pay_link/invalid.html", message=str(exc)), status


def _invoice(token: str):
    return pay_links.invoice_for_token(
        db.session, token=token, ip=client_ip(), now=utcnow(), limits=limits()
    )


def _show(token: str, invoice, form: PayLinkForm, *, status: int = 200, **extra):
    return render_template(
        "pay_link/show.html",
        token=token,
        invoice=invoice,
        form=form,
        payable=pay_links.is_payable(invoice),
        allow_partial=processor_settings.allows_partial_payments(db.session),
        major=lambda minor, currency: f"{to_major(minor, currency):f}",
        **extra,
        **stripe_js(),
    ), status


def pay_link_show(token: str):
    try:
        invoice = _invoice(token)
    except LINK_ERRORS as exc:
        return _invalid(exc)
    form = PayLinkForm()
    return _show(token, invoice, form)


def pay_link_pdf(token: str):
    try:
        invoice = _invoice(token)
    except LINK_ERRORS as exc:
        return _invalid(exc)
    filename, data = documents.invoice_pdf(db.session, invoice_id=invoice.id, account_id=None)
    return pdf_response(filename, data, download=True)


def pay_link_setup(token: str):
    """JSON for Stripe.js: a one-time SetupIntent for this invoice."""
    try:
        setup = pay_link_payments.start_setup(
            db.session, gateway(), token=token, ip=client_ip(), now=utcnow(), limits=limits()
        )
    except LINK_ERRORS as exc:
        return {"error": str(exc)}, 429 if isinstance(exc, RateLimited) else 410
    except InvalidTransition as exc:
        return {"error": str(exc)}, 409
    except (GatewayPermanent, GatewayRetryable) as exc:
        return {"error": processor_problem(exc)}, 503
    return {"client_secret": setup.client_secret}


def pay_link_pay(token: str):
    form = PayLinkForm()
    try:
        invoice = _invoice(token)
    except LINK_ERRORS as exc:
        return _invalid(exc)
    if not form.validate_on_submit():
        return _show(token, invoice, form, status=400, problem="The form expired. Try again.")
    try:
        payment = pay_link_payments.pay_invoice(
            db.session,
            gateway(),
            token=token,
            ip=client_ip(),
            unsafe_amount=form.amount.data,
            setup_intent_id=form.setup_intent_id.data or "",
            now=utcnow(),
            limits=limits(),
            base_url=base_url(),
        )
    except LINK_ERRORS as exc:
        return _invalid(exc)
    except AuthenticationRequired as exc:
        return redirect(
            url_for("portal.pay_link_authenticate", token=token, payment_id=exc.payment_id)
        )
    except ValidationFailed as exc:
        return _show(token, invoice, form, status=422, errors=exc.errors)
    except PaymentDeclined as exc:
        return _show(token, invoice, form, status=402, declined=exc)
    except InvalidTransition as exc:
        return _show(token, invoice, form, status=409, problem=str(exc))
    except GatewayRetryable:
        return _show(token, invoice, form, status=503, problem=RETRY_LATER)
    except GatewayPermanent as exc:
        return _show(token, invoice, form, status=503, problem=processor_problem(exc))
    _thank(payment)
    return redirect(url_for("portal.pay_link_show", token=token))


RETRY_LATER = (
    "We could not hear back from the card processor. If your card was charged, this page will "
    "show the invoice as paid within a few minutes; you will not be charged twice."
)


def _thank(payment) -> None:
    amount = current_app.jinja_env.filters["money"](payment.amount_minor, payment.currency)
    flash(
        f"Thank you! We received {amount} (receipt {payment.receipt_number}). "
        "A receipt is on its way to the account's billing email.",
        "success",
    )


def pay_link_authenticate(token: str, payment_id: int):
    try:
        invoice = _invoice(token)
        secret = card_payments.client_secret_for(
            db.session, gateway(), payment_id=payment_id, account_id=None, invoice_id=invoice.id
        )
    except LINK_ERRORS as exc:
        return _invalid(exc)
    except NotFound:
        return redirect(url_for("portal.pay_link_show", token=token))
    except (GatewayPermanent, GatewayRetryable) as exc:
        flash(processor_problem(exc), "error")
        return redirect(url_for("portal.pay_link_show", token=token))
    if secret is None:
        return redirect(url_for("portal.pay_link_show", token=token))
    return render_template(
        "pay_link/authenticate.html",
        client_secret=secret,
        confirm_url=url_for("portal.pay_link_confirm", token=token, payment_id=payment_id),
        cancel_url=url_for("portal.pay_link_show", token=token),
        form=ConfirmForm(),
        **stripe_js(),
    )


def pay_link_confirm(token: str, payment_id: int):
    try:
        invoice = _invoice(token)
    except LINK_ERRORS as exc:
        return _invalid(exc)
    if not ConfirmForm().validate_on_submit():
        return redirect(url_for("portal.pay_link_authenticate", token=token, payment_id=payment_id))
    try:
        payment = card_payments.confirm_card_payment(
            db.session,
            gateway(),
            payment_id=payment_id,
            account_id=None,
            invoice_id=invoice.id,
            now=utcnow(),
            actor="pay_link",
            base_url=base_url(),
        )
    except AuthenticationRequired:
        return redirect(url_for("portal.pay_link_authenticate", token=token, payment_id=payment_id))
    except PaymentDeclined as exc:
        db.session.refresh(invoice)
        return _show(token, invoice, PayLinkForm(formdata=None), status=402, declined=exc)
    except GatewayRetryable:
        flash(RETRY_LATER, "info")
        return redirect(url_for("portal.pay_link_show", token=token))
    if str(payment.status) == "succeeded":
        _thank(payment)
    return redirect(url_for("portal.pay_link_show", token=token))
