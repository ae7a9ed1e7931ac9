"""Admin → Settings → Pay Now widget: configure the embeddable card payment form, copy its
<iframe> snippet, and see the payments made through it.

Every staff member may look; only administrators may save. The snippet names its <iframe>
(Stripe.js, and localstripe's fake of it, need a named frame) and points at the public URL.
"""

from __future__ import annotations

from flask import current_app, flash, redirect, render_template, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from markupsafe import escape
from wtforms import (
    BooleanField,
    RadioField,
    SelectChoice,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import Length

from admin.forms import COMMON_CURRENCIES
from admin.offline_payments import parse_amount, show_errors
from billing.audit import actor_of
from billing.clock import utcnow
from billing.errors import ValidationFailed
from billing.models import PayWidget, StaffRole
from billing.money import to_major
from billing.services import widgets
from web.auth import staff_login_required, staff_role_required
from web.extensions import db

FRAME_NAME = "paydesk-pay-now"


class WidgetForm(FlaskForm):
    title = StringField(
        "Title", validators=[Length(max=100, message="Use at most 100 characters.")]
    )
    currency = SelectField("Currency", choices=[SelectChoice(c, c) for c in COMMON_CURRENCIES])
    amount_mode = RadioField(
        "Amount",
        choices=[
            SelectChoice("payer", "The payer enters the amount"),
            SelectChoice("fixed", "A fixed amount"),
        ],
        default="payer",
    )
    fixed_amount = StringField("Fixed amount", validators=[Length(max=30)])
    min_amount = StringField("Smallest amount", validators=[Length(max=30)])
    max_amount = StringField("Largest amount", validators=[Length(max=30)])
    allowed_origins = TextAreaField(
        "Sites that may show the widget",
        validators=[Length(max=4000, message="Use at most 4000 characters.")],
    )
    create_invoice = BooleanField("Also create a paid invoice for each payment")
    is_active = BooleanField("Taking payments", default=True)

    def fill(self, widget: PayWidget) -> None:
        def major(minor: int | None) -> str:
            return "" if minor is None else f"{to_major(minor, widget.currency):f}"

        self.title.data = widget.title
        self.currency.data = widget.currency
        self.amount_mode.data = "fixed" if widget.fixed_amount_minor else "payer"
        self.fixed_amount.data = major(widget.fixed_amount_minor)
        self.min_amount.data = major(widget.min_amount_minor)
        self.max_amount.data = major(widget.max_amount_minor)
        self.allowed_origins.data = widget.allowed_origins
        self.create_invoice.data = widget.create_invoice
        self.is_active.data = widget.is_active

    def values(self) -> dict | None:
        """What save_widget takes, or None after putting messages on unreadable amounts."""
        currency = self.currency.data
        amounts = {}
        fields = [("min_amount", self.min_amount), ("max_amount", self.max_amount)]
        if self.amount_mode.data == "fixed":
            fields.append(("fixed_amount", self.fixed_amount))
        for name, field in fields:
            if not (field.data or "").strip():
                amounts[name] = None
                continue
            amounts[name] = parse_amount(field, currency)
            if amounts[name] is None:
                return None
        if self.amount_mode.data == "fixed" and amounts.get("fixed_amount") is None:
            self.fixed_amount.errors = [*self.fixed_amount.errors, "Enter the fixed amount."]
            return None
        return {
            "title": self.title.data,
            "currency": currency,
            "fixed_amount_minor": amounts.get("fixed_amount"),
            "min_amount_minor": amounts["min_amount"],
            "max_amount_minor": amounts["max_amount"],
            "allowed_origins": self.allowed_origins.data or "",
            "create_invoice": bool(self.create_invoice.data),
            "is_active": bool(self.is_active.data),
        }


def snippet(widget: PayWidget) -> str:
    """The HTML staff paste into their site."""
    base = current_app.extensions["paydesk.settings"].base_url.rstrip("/")
    src = base + url_for("portal.widget_show", public_key=widget.public_key)
    return (
        f'<iframe name="{FRAME_NAME}" title="{escape(widget.title)}" src="{src}" '
        'width="100%" height="760" style="border:0;max-width:560px" loading="lazy"></iframe>'
    )


def _render(form: WidgetForm, status: int = 200):
    activity = widgets.widget_activity(db.session)
    widget = activity.widget
    if widget is not None and not form.is_submitted():
        form.fill(widget)
    return render_template(
        "admin/widget/edit.html",
        form=form,
        widget=widget,
        recent=activity.recent,
        snippet=snippet(widget) if widget else "",
        can_edit=current_user.role == StaffRole.ADMIN,
    ), status


@staff_login_required
def widget_edit():
    form = WidgetForm()
    if not form.is_submitted():
        form.title.data = "Pay us online"
    return _render(form)


@staff_role_required(StaffRole.ADMIN)
def widget_update():
    form = WidgetForm()
    values = form.values() if form.validate_on_submit() else None
    if values is None:
        return _render(form, 422)
    try:
        widgets.save_widget(db.session, values=values, now=utcnow(), actor=actor_of(current_user))
    except ValidationFailed as exc:
        show_errors(form, exc.errors)
        return _render(form, 422)
    flash("Pay Now widget saved.", "success")
    return redirect(url_for("admin.widget_edit"))
