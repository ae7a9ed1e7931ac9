"""Refunding a payment from its admin page, in full or in part.

The form (templates/admin/payments/_refund.html) is prefilled with what can still be refunded.
Card payments go back through the gateway; for offline payments staff say how the money went
back (check, cash, bank transfer, other) and may give a reference; payments made from account
credit go back to the credit. billing.services.refunds enforces the remainder; a refused form
is shown again on the payment page with its messages (422). Administrators and accountants may
refund; read-only staff see no form.
"""

from __future__ import annotations

from flask import flash, g, make_response, redirect, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import SelectField, StringField
from wtforms.validators import InputRequired, Length

from admin import payments
from admin.offline_payments import OFFLINE_CHOICES, parse_amount, show_errors
from billing import queries
from billing.audit import actor_of
from billing.clock import utcnow
from billing.errors import InvalidTransition, ValidationFailed
from billing.formatting import format_money
from billing.models import Payment, PaymentMethod, RefundStatus, StaffRole
from billing.money import to_major
from billing.services import refunds
from web.auth import staff_role_required
from web.extensions import db
from web.processor import gateway

CAN_REFUND = (StaffRole.ADMIN, StaffRole.ACCOUNTANT)


class RefundForm(FlaskForm):
    amount = StringField(
        "Amount to refund", validators=[InputRequired(message="Enter the amount.")]
    )
    reason = StringField(
        "Reason", validators=[Length(max=500, message="Use at most 500 characters.")]
    )
    method = SelectField("How the money went back", choices=OFFLINE_CHOICES)
    reference = StringField(
        "Reference", validators=[Length(max=200, message="Use at most 200 characters.")]
    )


def form_for(payment: Payment, refundable_minor: int) -> RefundForm:
    """The payment page's form: the one just refused, else one prefilled with the remainder
    and, for an offline payment, the payment's own method."""
    refused = g.get("refund_form")
    if refused is not None:
        return refused
    form = RefundForm(formdata=None)
    form.amount.data = f"{to_major(refundable_minor, payment.currency):f}"
    if payment.method in {choice.value for choice in OFFLINE_CHOICES}:
        form.method.data = str(payment.method)
    return form


def template_helpers() -> dict:
    """For the payment page's partial: what is refundable, the form, who may use it."""
    return {
        "refundable_minor": lambda payment: refunds.refundable_minor(
            db.session, payment_id=payment.id
        ),
        "refund_form": form_for,
        "can_refund": lambda: getattr(current_user, "role", None) in CAN_REFUND,
    }


@staff_role_required(*CAN_REFUND)
def payment_refund(payment_id: int):
    payment = queries.get_payment(db.session, payment_id=payment_id, account_id=None)
    form = RefundForm()
    if form.validate_on_submit():
        amount = parse_amount(form.amount, payment.currency)
        if amount is not None:
            try:
                refund = refunds.refund_payment(
                    db.session,
                    gateway(),
                    payment_id=payment_id,
                    amount_minor=amount,
                    reason=form.reason.data or "",
                    method_for_offline=PaymentMethod(form.method.data),
                    reference=form.reference.data or "",
                    now=utcnow(),
                    actor=actor_of(current_user),
                )
            except ValidationFailed as exc:
                show_errors(form, exc.errors)
            except InvalidTransition as exc:
                flash(str(exc), "error")
                return redirect(url_for("admin.payment_show", payment_id=payment_id))
            else:
                flash(*_outcome(refund))
                return redirect(
                    url_for("admin.payment_show", payment_id=payment_id, _anchor="refunds")
                )
    g.refund_form = form
    response = make_response(payments.payment_show(payment_id))
    response.status_code = 422
    return response


def _outcome(refund) -> tuple[str, str]:
    amount = format_money(refund.amount_minor, refund.payment.currency)
    if refund.status == RefundStatus.SUCCEEDED:
        where = {
            PaymentMethod.CARD: "to the card",
            PaymentMethod.ACCOUNT_CREDIT: "to the customer's account credit",
        }.get(refund.method, f"by {PaymentMethod(refund.method).label.lower()}")
        return f"Refunded {amount} {where}. The customer was emailed.", "success"
    if refund.status == RefundStatus.FAILED:
        return f"The refund of {amount} failed: {refund.failure_message}", "error"
    return (
        f"The refund of {amount} is pending: {refund.failure_message or 'waiting for Stripe.'}",
        "info",
    )
