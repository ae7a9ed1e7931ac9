"""Admin → Settings → Payments: link the Stripe account (secret key, publishable key, webhook
signing secret), choose whether customers may pay part of an invoice, and test the connection.

Secrets are never shown back (only "sk_…••••1234"); a blank secret field keeps the stored one.
Every staff member may look; only administrators may save or test.
"""

from __future__ import annotations

from flask import current_app, flash, redirect, render_template, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import BooleanField, PasswordField, StringField
from wtforms.validators import Length

from billing.audit import actor_of
from billing.clock import utcnow
from billing.errors import GatewayPermanent, GatewayRetryable, ValidationFailed
from billing.models import StaffRole
from billing.secrets import Cipher
from billing.services import processor_settings
from billing.services.processor_settings import EnvKeys
from web.auth import staff_login_required, staff_role_required
from web.extensions import db
from web.forms import ConfirmForm
from web.processor import gateway, webhook_url


class PaymentSettingsForm(FlaskForm):
    secret_key = PasswordField("Secret key", validators=[Length(max=255)])
    publishable_key = StringField("Publishable key", validators=[Length(max=255)])
    webhook_secret = PasswordField("Webhook signing secret", validators=[Length(max=255)])
    allow_partial_payments = BooleanField("Customers may pay part of an invoice")


def _env_and_cipher() -> tuple[EnvKeys, Cipher]:
    settings = current_app.extensions["paydesk.settings"]
    env = EnvKeys(
        settings.stripe_secret_key, settings.stripe_publishable_key, settings.stripe_webhook_secret
    )
    return env, Cipher(settings.encryption_keys)


def _render(form: PaymentSettingsForm, status: int = 200):
    env, cipher = _env_and_cipher()
    overview = processor_settings.overview(db.session, env=env, cipher=cipher)
    if not form.is_submitted():
        form.publishable_key.data = overview.publishable_key
        form.allow_partial_payments.data = overview.allow_partial_payments
    return render_template(
        "admin/payment_settings/edit.html",
        form=form,
        test_form=ConfirmForm(),
        o=overview,
        can_edit=current_user.role == StaffRole.ADMIN,
        webhook_url=webhook_url(),
    ), status


@staff_login_required
def payment_settings_edit():
    return _render(PaymentSettingsForm())


@staff_role_required(StaffRole.ADMIN)
def payment_settings_update():
    form = PaymentSettingsForm()
    if not form.validate_on_submit():
        return _render(form, 422)
    _env, cipher = _env_and_cipher()
    try:
        processor_settings.update_processor_settings(
            db.session,
            unsafe_secret_key=form.secret_key.data,
            unsafe_publishable_key=form.publishable_key.data,
            unsafe_webhook_secret=form.webhook_secret.data,
            allow_partial_payments=bool(form.allow_partial_payments.data),
            cipher=cipher,
            now=utcnow(),
            actor=actor_of(current_user),
        )
    except ValidationFailed as exc:
        for name, message in exc.errors.items():
            getattr(form, name).errors = [message]
        return _render(form, 422)
    current_app.extensions["paydesk.keys"].forget()
    flash("Payment settings saved.", "success")
    return redirect(url_for("admin.payment_settings_edit"))


@staff_role_required(StaffRole.ADMIN)
def payment_settings_test():
    """Call Stripe with the keys in force and show who answered, or Stripe's exact error."""
    if ConfirmForm().validate_on_submit():
        current_app.extensions["paydesk.keys"].forget()
        try:
            info = gateway().account_info()
        except (GatewayPermanent, GatewayRetryable) as exc:
            flash(f"The connection failed: {exc}", "error")
        else:
            mode = "test mode" if info.test_mode else "live mode"
            who = info.display_name + (f" ({info.account_id})" if info.account_id else "")
            flash(f"Connected to Stripe: {who}, {mode}.", "success")
    return redirect(url_for("admin.payment_settings_edit"))
