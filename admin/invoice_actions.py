"""Staff actions on one invoice: finalize, send (or send again), void, mark uncollectible,
duplicate, delete a draft; and the CSV export of the invoice list.

The invoice page offers only the actions its status allows (billing.services.invoices.
allowed_actions); each endpoint still goes through its service, which refuses the rest, and
the refusal comes back as a message on the invoice page. Every action is a POST with a CSRF
token, open to administrators and accountants.
"""

from __future__ import annotations

from collections.abc import Callable

from flask import current_app, flash, redirect, url_for
from flask_login import current_user

from admin import lists
from billing import admin_lists
from billing.audit import actor_of
from billing.clock import utcnow
from billing.errors import InvalidTransition, NotFound, ValidationFailed
from billing.models import StaffRole
from billing.services import invoices as invoice_service
from billing.services import sending
from web.auth import staff_login_required, staff_role_required
from web.extensions import db
from web.forms import ConfirmForm

CAN_ACT = (StaffRole.ADMIN, StaffRole.ACCOUNTANT)


def _show(invoice_id: int):
    return redirect(url_for("admin.invoice_show", invoice_id=invoice_id))


def _act(invoice_id: int, action: Callable[[], str]):
    """Run `action` (one service call returning a message) behind a CSRF check; refusals are
    flashed on the invoice page."""
    if not ConfirmForm().validate_on_submit():
        flash("This form expired. Reload the page and try again.", "error")
        return _show(invoice_id)
    try:
        flash(action(), "success")
    except (InvalidTransition, ValidationFailed) as exc:
        flash(str(exc) if not isinstance(exc, ValidationFailed) else _first(exc), "error")
    return _show(invoice_id)


def _first(exc: ValidationFailed) -> str:
    return next(iter(exc.errors.values()), "That is not possible.")


@staff_role_required(*CAN_ACT)
def invoice_finalize(invoice_id: int):
    def action() -> str:
        invoice = invoice_service.finalize_invoice(
            db.session, invoice_id=invoice_id, now=utcnow(), actor=actor_of(current_user)
        )
        return f"Invoice {invoice.number} is finalized. Its amounts can no longer change."

    return _act(invoice_id, action)


@staff_role_required(*CAN_ACT)
def invoice_send(invoice_id: int):
    def action() -> str:
        settings = current_app.extensions["paydesk.settings"]
        email = sending.send_invoice(
            db.session,
            invoice_id=invoice_id,
            now=utcnow(),
            actor=actor_of(current_user),
            secret=settings.secret_key,
            base_url=settings.base_url,
            pay_link_days=settings.pay_link_days,
        )
        to = ", ".join(filter(None, [email.to_address, email.cc]))
        return f"Sent to {to}."

    return _act(invoice_id, action)


@staff_role_required(*CAN_ACT)
def invoice_void(invoice_id: int):
    def action() -> str:
        invoice = invoice_service.void_invoice(
            db.session, invoice_id=invoice_id, now=utcnow(), actor=actor_of(current_user)
        )
        return f"Invoice {invoice.display_number} is void. The customer owes nothing on it."

    return _act(invoice_id, action)


@staff_role_required(*CAN_ACT)
def invoice_uncollectible(invoice_id: int):
    def action() -> str:
        invoice = invoice_service.mark_uncollectible(
            db.session, invoice_id=invoice_id, now=utcnow(), actor=actor_of(current_user)
        )
        return f"Invoice {invoice.display_number} is marked uncollectible. It can still be paid."

    return _act(invoice_id, action)


@staff_role_required(*CAN_ACT)
def invoice_duplicate(invoice_id: int):
    if not ConfirmForm().validate_on_submit():
        flash("This form expired. Reload the page and try again.", "error")
        return _show(invoice_id)
    try:
        copy = invoice_service.duplicate_invoice(
            db.session,
            invoice_id=invoice_id,
            today=utcnow().date(),
            now=utcnow(),
            actor=actor_of(current_user),
        )
    except ValidationFailed as exc:
        flash(f"It could not be copied: {_first(exc)}", "error")
        return _show(invoice_id)
    flash(f"A copy is ready as draft {copy.id}. Edit it, then finalize.", "success")
    return redirect(url_for("admin.invoice_edit", invoice_id=copy.id))


@staff_role_required(*CAN_ACT)
def invoice_delete(invoice_id: int):
    if not ConfirmForm().validate_on_submit():
        flash("This form expired. Reload the page and try again.", "error")
        return _show(invoice_id)
    try:
        invoice_service.delete_draft(
            db.session, invoice_id=invoice_id, now=utcnow(), actor=actor_of(current_user)
        )
    except InvalidTransition as exc:
        flash(str(exc), "error")
        return _show(invoice_id)
    except NotFound:
        flash("That draft was already deleted.", "info")
        return redirect(url_for("admin.invoice_list"))
    flash(f"Draft {invoice_id} deleted.", "success")
    return redirect(url_for("admin.invoice_list"))


@staff_login_required
def invoice_export():
    filters, _errors = lists.parse_filters(admin_lists.INVOICE_STATUSES, admin_lists.INVOICE_SORTS)
    today = utcnow().date()
    return lists.csv_response(
        f"invoices-{utcnow():%Y%m%d}.csv",
        lambda session: admin_lists.invoice_csv_rows(session, filters, today=today),
    )
