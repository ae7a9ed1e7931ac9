"""A customer's saved cards: list, add (SetupIntent + Stripe.js), remove, make default.

Everyone in the account sees the cards (brand, last four, expiry); only owners and billing
users may change them (viewers get 403 and see no buttons).
"""

from __future__ import annotations

import logging

from flask import flash, redirect, render_template, url_for
from flask_login import current_user

from billing.audit import actor_of
from billing.clock import utcnow
from billing.errors import (
    GatewayPermanent,
    GatewayRetryable,
    PaymentDeclined,
    ValidationFailed,
)
from billing.services import cards as card_service
from portal.forms import CardForm
from web.auth import CAN_PAY, portal_login_required, portal_role_required
from web.extensions import db
from web.forms import ConfirmForm
from web.processor import gateway, stripe_js

log = logging.getLogger(__name__)
UNAVAILABLE = "Card payments are not available right now. Please try again later or contact us."


def processor_problem(exc: Exception) -> str:
    """What a customer is told when the processor fails (staff details go to the log)."""
    if isinstance(exc, GatewayRetryable):
        return "We could not reach the card processor. Please try again in a moment."
    log.warning("card processor refused a request: %s", exc)
    return UNAVAILABLE


@portal_login_required
def card_list():
    return render_template(
        "portal/cards/list.html",
        cards=card_service.active_cards(db.session, account_id=current_user.account_id),
        can_change=current_user.role in CAN_PAY,
        form=ConfirmForm(),
    )


@portal_role_required(*CAN_PAY)
def card_new():
    return render_template("portal/cards/new.html", form=CardForm(), **stripe_js())


@portal_role_required(*CAN_PAY)
def card_setup():
    """JSON for Stripe.js: a SetupIntent's client secret (the form's CSRF token is required)."""
    try:
        setup = card_service.start_card_setup(
            db.session,
            gateway(),
            account_id=current_user.account_id,
            now=utcnow(),
            actor=actor_of(current_user),
        )
    except (GatewayPermanent, GatewayRetryable) as exc:
        return {"error": processor_problem(exc)}, 503
    return {"client_secret": setup.client_secret}


@portal_role_required(*CAN_PAY)
def card_create():
    form = CardForm()
    if form.validate_on_submit():
        try:
            card = card_service.finish_card_setup(
                db.session,
                gateway(),
                account_id=current_user.account_id,
                setup_intent_id=form.setup_intent_id.data,
                now=utcnow(),
                actor=actor_of(current_user),
            )
        except ValidationFailed as exc:
            form.setup_intent_id.errors = list(exc.errors.values())
        except PaymentDeclined as exc:
            form.setup_intent_id.errors = [f"{exc.reason} {exc.advice}"]
        except (GatewayPermanent, GatewayRetryable) as exc:
            form.setup_intent_id.errors = [processor_problem(exc)]
        else:
            flash(f"Your {card.brand_label} ending {card.last4} is saved.", "success")
            return redirect(url_for("portal.card_list"))
    elif not form.setup_intent_id.errors:
        form.setup_intent_id.errors = ["Enter your card details, then choose Save card."]
    return render_template("portal/cards/new.html", form=form, **stripe_js()), 422


@portal_role_required(*CAN_PAY)
def card_remove(card_id: int):
    if ConfirmForm().validate_on_submit():
        try:
            card_service.remove_card(
                db.session,
                gateway(),
                account_id=current_user.account_id,
                card_id=card_id,
                now=utcnow(),
                actor=actor_of(current_user),
            )
        except (GatewayPermanent, GatewayRetryable) as exc:
            flash(processor_problem(exc), "error")
        else:
            flash("The card was removed.", "success")
    return redirect(url_for("portal.card_list"))


@portal_role_required(*CAN_PAY)
def card_make_default(card_id: int):
    if ConfirmForm().validate_on_submit():
        card = card_service.set_default_card(
            db.session,
            account_id=current_user.account_id,
            card_id=card_id,
            now=utcnow(),
            actor=actor_of(current_user),
        )
        flash(f"Payments now use your {card.brand_label} ending {card.last4} first.", "success")
    return redirect(url_for("portal.card_list"))
