"""Staff actions on an invoice's pay link: show it (to copy), regenerate it (the old link stops
working), revoke it."""

from __future__ import annotations

from flask import current_app, flash, redirect, url_for
from flask_login import current_user

from billing.audit import actor_of
from billing.clock import utcnow
from billing.errors import InvalidTransition
from billing.models import Invoice, StaffRole
from billing.services import pay_links
from web.auth import staff_role_required
from web.extensions import db
from web.forms import ConfirmForm

CAN_MANAGE = (StaffRole.ADMIN, StaffRole.ACCOUNTANT)


def current_url(invoice: Invoice) -> str | None:
    """The invoice's live pay link (for the invoice page), or None. Creates nothing."""
    settings = current_app.extensions["paydesk.settings"]
    return pay_links.current_pay_link_url(
        db.session,
        invoice=invoice,
        secret=settings.secret_key,
        base_url=settings.base_url,
        now=utcnow(),
    )


def _back(invoice_id: int):
    return redirect(url_for("admin.invoice_show", invoice_id=invoice_id, _anchor="pay-link"))


@staff_role_required(*CAN_MANAGE)
def pay_link_regenerate(invoice_id: int):
    if ConfirmForm().validate_on_submit():
        settings = current_app.extensions["paydesk.settings"]
        try:
            pay_links.regenerate_pay_link(
                db.session,
                invoice_id=invoice_id,
                secret=settings.secret_key,
                base_url=settings.base_url,
                now=utcnow(),
                actor=actor_of(current_user),
                days_after_due=settings.pay_link_days,
            )
        except InvalidTransition as exc:
            flash(str(exc), "error")
        else:
            flash("A new pay link is ready. Any earlier link no longer works.", "success")
    return _back(invoice_id)


@staff_role_required(*CAN_MANAGE)
def pay_link_revoke(invoice_id: int):
    if ConfirmForm().validate_on_submit():
        pay_links.revoke_pay_link(
            db.session, invoice_id=invoice_id, now=utcnow(), actor=actor_of(current_user)
        )
        flash("The pay link was revoked: it no longer opens the invoice.", "success")
    return _back(invoice_id)
