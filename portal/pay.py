"""Paying invoices in the portal: choose open invoices (full or, where allowed, partial
amounts), a saved card or a new one, pay; finish 3-D Secure in the browser when the bank asks.

The invoices change only when the payment is confirmed (here, by the webhook, or by
reconciliation, whichever comes first); a decline shows the bank's reason and what to do.
"""

from __future__ import annotations

from flask import current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user

from billing.audit import actor_of
from billing.clock import utcnow
from billing.errors import (
    AuthenticationRequired,
    GatewayPermanent,
    GatewayRetryable,
    PaymentDeclined,
    ValidationFailed,
)
from billing.money import to_major
from billing.services import card_payments
from portal.cards import processor_problem
from portal.forms import PayForm
from web.auth import CAN_PAY, portal_role_required
from web.extensions import db
from web.forms import ConfirmForm
from web.processor import base_url, gateway, stripe_js

RETRY_LATER = (
    "We could not hear back from the card processor. If your card was charged, your invoices "
    "update within a few minutes; you will not be charged twice."
)


def _major(minor: int, currency: str) -> str:
    return f"{to_major(minor, currency):f}"


def _render(form, page, *, errors=None, declined=None, problem=None, status=200, again=None):
    """The pay page. `again`: the shares of a payment that just failed, chosen once more."""
    amounts = {k[len("amount_") :]: v for k, v in request.form.items() if k.startswith("amount_")}
    if again:
        selected = [str(share.invoice_id) for share in again]
        currencies = {inv.id: inv.currency for inv in page.invoices}
        amounts = {
            str(share.invoice_id): _major(share.amount_minor, currencies[share.invoice_id])
            for share in again
            if share.invoice_id in currencies
        }
    elif request.method == "POST":
        selected = request.form.getlist("invoice")
    else:
        selected = request.args.getlist("invoice") or [str(inv.id) for inv in page.invoices[:1]]
    return render_template(
        "portal/pay/new.html",
        form=form,
        page=page,
        selected=set(selected),
        amounts=amounts,
        errors=errors or {},
        declined=declined,
        problem=problem,
        major=_major,
        **stripe_js(),
    ), status


@portal_role_required(*CAN_PAY)
def pay_new():
    page = card_payments.pay_page(db.session, account_id=current_user.account_id)
    return _render(_with_default_card(PayForm(), page), page)


def _with_default_card(form: PayForm, page) -> PayForm:
    """Preselect the default (first) saved card, or a new card when there is none."""
    if not form.card.data:
        form.card.data = str(page.cards[0].id) if page.cards else "new"
    return form


@portal_role_required(*CAN_PAY)
def pay_create():
    page = card_payments.pay_page(db.session, account_id=current_user.account_id)
    form = PayForm()
    if not form.validate_on_submit():
        expired = {"form": "The form expired. Please try again."}
        return _render(form, page, errors=expired, status=400)
    amounts = {k[len("amount_") :]: v for k, v in request.form.items() if k.startswith("amount_")}
    choice = form.card.data or ""
    try:
        shares = card_payments.parse_shares(page.invoices, request.form.getlist("invoice"), amounts)
        payment = card_payments.pay_with_card(
            db.session,
            gateway(),
            account_id=current_user.account_id,
            shares=shares,
            card_id=int(choice) if choice.isdigit() else None,
            setup_intent_id=form.setup_intent_id.data if choice == "new" else None,
            allow_partial=page.allow_partial,
            now=utcnow(),
            actor=actor_of(current_user),
            base_url=base_url(),
        )
    except ValidationFailed as exc:
        return _render(form, page, errors=exc.errors, status=422)
    except PaymentDeclined as exc:
        page = card_payments.pay_page(db.session, account_id=current_user.account_id)
        return _render(form, page, declined=exc, status=402)
    except AuthenticationRequired as exc:
        return redirect(url_for("portal.payment_authenticate", payment_id=exc.payment_id))
    except GatewayRetryable:
        flash(RETRY_LATER, "info")
        return redirect(url_for("portal.payment_list"))
    except GatewayPermanent as exc:
        return _render(form, page, problem=processor_problem(exc), status=503)
    flash(f"Thank you! We received {_money(payment)}. A receipt is on its way.", "success")
    return redirect(url_for("portal.payment_show", payment_id=payment.id))


def _money(payment) -> str:
    return current_app.jinja_env.filters["money"](payment.amount_minor, payment.currency)


@portal_role_required(*CAN_PAY)
def payment_authenticate(payment_id: int):
    """The page that finishes 3-D Secure: Stripe.js opens the bank's check, then the page
    posts to payment_confirm."""
    try:
        secret = card_payments.client_secret_for(
            db.session, gateway(), payment_id=payment_id, account_id=current_user.account_id
        )
    except (GatewayPermanent, GatewayRetryable) as exc:
        flash(processor_problem(exc), "error")
        return redirect(url_for("portal.payment_show", payment_id=payment_id))
    if secret is None:
        return redirect(url_for("portal.payment_show", payment_id=payment_id))
    return render_template(
        "portal/pay/authenticate.html",
        client_secret=secret,
        confirm_url=url_for("portal.payment_confirm", payment_id=payment_id),
        cancel_url=url_for("portal.pay_new"),
        form=ConfirmForm(),
        **stripe_js(),
    )


@portal_role_required(*CAN_PAY)
def payment_confirm(payment_id: int):
    if not ConfirmForm().validate_on_submit():
        return redirect(url_for("portal.payment_authenticate", payment_id=payment_id))
    try:
        payment = card_payments.confirm_card_payment(
            db.session,
            gateway(),
            payment_id=payment_id,
            account_id=current_user.account_id,
            now=utcnow(),
            actor=actor_of(current_user),
            base_url=base_url(),
        )
    except AuthenticationRequired:
        return redirect(url_for("portal.payment_authenticate", payment_id=payment_id))
    except PaymentDeclined as exc:
        account_id = current_user.account_id
        page = card_payments.pay_page(db.session, account_id=account_id)
        again = card_payments.shares_of(db.session, payment_id=payment_id, account_id=account_id)
        form = _with_default_card(PayForm(formdata=None), page)
        return _render(form, page, declined=exc, status=402, again=again)
    except GatewayRetryable:
        flash(RETRY_LATER, "info")
        return redirect(url_for("portal.payment_show", payment_id=payment_id))
    if str(payment.status) == "succeeded":
        flash(f"Thank you! We received {_money(payment)}. A receipt is on its way.", "success")
    return redirect(url_for("portal.payment_show", payment_id=payment.id))
