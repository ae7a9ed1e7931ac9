"""The Pay Now widget's public pages at /widget/<public_key>, made to live inside an <iframe> on
another web site.

- Framing: these responses carry their own Content-Security-Policy whose frame-ancestors lists
  the origins staff configured (none configured: 'none'); every other route keeps
  frame-ancestors 'none' and X-Frame-Options DENY (web/security.py).
- No cookies are needed or trusted: inside a third-party frame the browser withholds our
  SameSite cookies, so these routes are exempt from CSRF (registered in portal/blueprint.py).
  Nothing here acts for a signed-in person: a payment needs a card that this browser just
  confirmed with Stripe.js for this widget, and every attempt counts toward a per-IP limit.
- 3-D Secure: the pay POST answers with the bank-check page itself; its confirm URL carries a
  signed ticket for that payment, so nobody can look up or settle payments by guessing ids.
"""

from __future__ import annotations

from flask import current_app, make_response, render_template, url_for
from flask_wtf import FlaskForm
from itsdangerous import BadSignature, URLSafeSerializer
from wtforms import EmailField, HiddenField, StringField
from wtforms.validators import Length, Optional

from billing.clock import utcnow
from billing.errors import (
    AuthenticationRequired,
    GatewayPermanent,
    GatewayRetryable,
    NotFound,
    PaymentDeclined,
    RateLimited,
    ValidationFailed,
)
from billing.money import to_major
from billing.services import widgets
from portal.cards import processor_problem
from web.auth import client_ip
from web.extensions import db
from web.processor import base_url, gateway, stripe_js
from web.security import content_security_policy, origin_of

RETRY_LATER = (
    "We could not hear back from the card processor. If your card was charged you will get a "
    "receipt by email within a few minutes; you will not be charged twice."
)


class WidgetPayForm(FlaskForm):
    class Meta:
        csrf = False  # see the module docstring

    amount = StringField("Amount", validators=[Optional(), Length(max=30)])
    description = StringField("What is this payment for?", validators=[Length(max=500)])
    name = StringField("Your name", validators=[Length(max=200)])
    email = EmailField("Your email", validators=[Length(max=320)])
    setup_intent_id = HiddenField("Card", validators=[Length(max=255)])


def _framable(response, widget):
    """Let exactly the configured origins frame this response."""
    settings = current_app.extensions["paydesk.settings"]
    ancestors = " ".join(widget.origins) if widget and widget.origins else "'none'"
    policy = content_security_policy(
        origin_of(settings.stripe_js_url), origin_of(settings.stripe_api_base)
    ).replace("frame-ancestors 'none'", f"frame-ancestors {ancestors}")
    response.headers["Content-Security-Policy"] = policy
    return response


def _page(widget, template: str, status: int = 200, **context):
    body = render_template(
        template,
        widget=widget,
        major=lambda minor: f"{to_major(minor, widget.currency):f}",
        **context,
        **stripe_js(),
    )
    return _framable(make_response(body, status), widget)


def _show(widget, form: WidgetPayForm, status: int = 200, **context):
    return _page(widget, "widget/show.html", status, form=form, **context)


def _tickets() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt="paydesk.widget-payment")


def _gone(message: str, status: int):
    return render_template("widget/unavailable.html", message=message), status


def widget_show(public_key: str):
    try:
        widget = widgets.widget_for_key(db.session, public_key)
    except NotFound:
        return _gone("This payment form is not available.", 404)
    return _show(widget, WidgetPayForm())


def widget_setup(public_key: str):
    """JSON for Stripe.js: a one-time SetupIntent for this widget."""
    try:
        setup = widgets.start_setup(
            db.session, gateway(), public_key=public_key, ip=client_ip(), now=utcnow()
        )
    except NotFound:
        return {"error": "This payment form is not available."}, 404
    except RateLimited as exc:
        return {"error": str(exc)}, 429
    except (GatewayPermanent, GatewayRetryable) as exc:
        return {"error": processor_problem(exc)}, 503
    return {"client_secret": setup.client_secret}


def widget_pay(public_key: str):
    try:
        widget = widgets.widget_for_key(db.session, public_key)
    except NotFound:
        return _gone("This payment form is not available.", 404)
    form = WidgetPayForm()
    form.validate()
    payer = widgets.PayerInput(
        unsafe_amount=form.amount.data or "",
        description=form.description.data or "",
        name=form.name.data or "",
        email=form.email.data or "",
    )
    try:
        payment = widgets.pay_with_widget(
            db.session,
            gateway(),
            public_key=public_key,
            payer=payer,
            setup_intent_id=form.setup_intent_id.data or "",
            ip=client_ip(),
            now=utcnow(),
            base_url=base_url(),
        )
    except ValidationFailed as exc:
        return _show(widget, form, 422, errors=exc.errors)
    except RateLimited as exc:
        return _show(widget, form, 429, problem=str(exc))
    except PaymentDeclined as exc:
        return _show(widget, form, 402, declined=exc)
    except AuthenticationRequired as exc:
        return _authenticate(widget, exc)
    except GatewayRetryable:
        return _show(widget, form, 503, problem=RETRY_LATER)
    except GatewayPermanent as exc:
        return _show(widget, form, 503, problem=processor_problem(exc))
    return _page(widget, "widget/thanks.html", payment=payment)


def _authenticate(widget, exc: AuthenticationRequired):
    ticket = _tickets().dumps(exc.payment_id)
    return _page(
        widget,
        "widget/authenticate.html",
        client_secret=exc.client_secret,
        confirm_url=url_for("portal.widget_confirm", public_key=widget.public_key, ticket=ticket),
        cancel_url=url_for("portal.widget_show", public_key=widget.public_key),
        form=WidgetPayForm(formdata=None),
    )


def widget_confirm(public_key: str, ticket: str):
    try:
        widget = widgets.widget_for_key(db.session, public_key)
        payment_id = int(_tickets().loads(ticket))
    except (NotFound, BadSignature, ValueError, TypeError):
        return _gone("This payment form is not available.", 404)
    try:
        payment = widgets.confirm_widget_payment(
            db.session,
            gateway(),
            public_key=public_key,
            payment_id=payment_id,
            now=utcnow(),
            base_url=base_url(),
        )
    except NotFound:
        return _gone("This payment form is not available.", 404)
    except AuthenticationRequired as exc:
        return _authenticate(widget, exc)
    except PaymentDeclined as exc:
        return _show(widget, WidgetPayForm(formdata=None), 402, declined=exc)
    except (GatewayRetryable, GatewayPermanent):
        return _show(widget, WidgetPayForm(formdata=None), 503, problem=RETRY_LATER)
    return _page(widget, "widget/thanks.html", payment=payment)
