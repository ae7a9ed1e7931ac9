"""Recording an offline payment (check, cash, bank transfer, other) from an invoice's page.

The form sits on the invoice page (templates/admin/invoices/_record_payment.html), prefilled with
today's date and the amount due. Posting it records the payment through
billing.services.payments; an overpayment becomes account credit, or is refused with the
service's message when the company turned credit off. A refused form is shown again on the
invoice page with its messages (422); nothing is written. Administrators and accountants may
record payments; read-only staff see no form.
"""

from __future__ import annotations

from flask import flash, g, make_response, redirect, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import DateField, SelectChoice, SelectField, StringField
from wtforms.validators import InputRequired, Length

from admin import invoices
from billing import queries
from billing.audit import actor_of
from billing.clock import utcnow
from billing.errors import InvalidTransition, ValidationFailed
from billing.formatting import format_money
from billing.models import Invoice, PaymentMethod, StaffRole
from billing.money import Money, to_major
from billing.services import credit
from billing.services import payments as payment_service
from web.auth import staff_role_required
from web.extensions import db

CAN_RECORD = (StaffRole.ADMIN, StaffRole.ACCOUNTANT)
OFFLINE_CHOICES = [
    SelectChoice(m.value, m.label)
    for m in (
        PaymentMethod.CHECK,
        PaymentMethod.BANK_TRANSFER,
        PaymentMethod.CASH,
        PaymentMethod.OTHER,
    )
]


def parse_amount(field, currency: str) -> int | None:
    """The field's amount in minor units of `currency`, or None with a message on the field."""
    try:
        amount = Money.parse(field.data or "", currency).amount_minor
    except ValueError as exc:
        field.errors = [*field.errors, str(exc)]
        return None
    return amount


def show_errors(form: FlaskForm, errors: dict[str, str]) -> None:
    """Attach a service's ValidationFailed messages to the fields they are about."""
    for name, message in errors.items():
        field = form._fields.get(name)
        if field is not None:
            field.errors = [*field.errors, message]
        else:
            form.form_errors.append(message)


class OfflinePaymentForm(FlaskForm):
    method = SelectField("Method", choices=OFFLINE_CHOICES)
    received_date = DateField(
        "Date received", validators=[InputRequired(message="Enter the date the money arrived.")]
    )
    reference = StringField(
        "Reference", validators=[Length(max=200, message="Use at most 200 characters.")]
    )
    amount = StringField("Amount", validators=[InputRequired(message="Enter the amount.")])


def form_for(invoice: Invoice) -> OfflinePaymentForm:
    """The invoice page's form: the one just refused (with its messages), else a fresh one with
    today's date and the amount due."""
    refused = g.get("offline_payment_form")
    if refused is not None:
        return refused
    form = OfflinePaymentForm(formdata=None)
    form.received_date.data = utcnow().date()
    form.amount.data = f"{to_major(invoice.amount_due_minor, invoice.currency):f}"
    return form


def template_helpers() -> dict:
    """For the invoice page's partial: the form, who may use it, whether credit is on."""
    return {
        "offline_payment_form": form_for,
        "can_record_payments": lambda: getattr(current_user, "role", None) in CAN_RECORD,
        "account_credit_on": lambda: credit.credit_allowed(db.session),
    }


@staff_role_required(*CAN_RECORD)
def invoice_record_payment(invoice_id: int):
    invoice = queries.get_invoice(db.session, invoice_id=invoice_id, account_id=None)
    form = OfflinePaymentForm()
    if form.validate_on_submit():
        amount = parse_amount(form.amount, invoice.currency)
        if amount is not None:
            try:
                payment = payment_service.record_offline_payment(
                    db.session,
                    invoice_id=invoice_id,
                    amount_minor=amount,
                    method=PaymentMethod(form.method.data),
                    received_date=form.received_date.data,
                    reference=form.reference.data or "",
                    now=utcnow(),
                    actor=actor_of(current_user),
                )
            except ValidationFailed as exc:
                show_errors(form, exc.errors)
            except InvalidTransition as exc:
                flash(str(exc), "error")
                return redirect(url_for("admin.invoice_show", invoice_id=invoice_id))
            else:
                flash(_recorded_message(payment), "success")
                return redirect(
                    url_for("admin.invoice_show", invoice_id=invoice_id, _anchor="payments")
                )
    g.offline_payment_form = form
    response = make_response(invoices.invoice_show(invoice_id))
    response.status_code = 422
    return response


def _recorded_message(payment) -> str:
    amount = format_money(payment.amount_minor, payment.currency)
    credited = payment.amount_minor - sum(a.amount_minor for a in payment.allocations)
    message = f"Recorded {PaymentMethod(payment.method).label.lower()} payment of {amount} "
    message += f"(receipt {payment.receipt_number})."
    if credited:
        message += (
            f" {format_money(credited, payment.currency)} was more than the invoice owed and is "
            "now account credit for the customer's next invoice."
        )
    return message
