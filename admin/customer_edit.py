"""Creating and editing customers, and managing who can sign in to their portal: invite
(an emailed set-password link that expires), change a role, deactivate (their sessions end) and
reactivate. Administrators and accountants only; every change is audited by its service."""

from __future__ import annotations

from flask import current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user

from admin.customer_forms import CustomerForm, InviteForm, RoleForm, show_errors
from billing import queries
from billing.audit import actor_of
from billing.clock import utcnow
from billing.errors import ValidationFailed
from billing.models import StaffRole
from billing.services import customers as customer_service
from web.auth import staff_role_required
from web.extensions import db
from web.forms import ConfirmForm

CAN_EDIT = (StaffRole.ADMIN, StaffRole.ACCOUNTANT)


def _render(form: CustomerForm, account=None, status: int = 200):
    return render_template("admin/customers/edit.html", form=form, account=account), status


def _default_currency() -> str:
    return queries.company(db.session).default_currency or "USD"


@staff_role_required(*CAN_EDIT)
def customer_new():
    form = CustomerForm(default_currency=_default_currency())
    if request.method == "GET":
        return _render(form)
    if not form.validate_on_submit():
        return _render(form, status=422)
    try:
        account = customer_service.create_customer(
            db.session, values=form.values(), now=utcnow(), actor=actor_of(current_user)
        )
    except ValidationFailed as exc:
        show_errors(form, exc.errors)
        return _render(form, status=422)
    flash(f"{account.name} added. Invite the people who pay its invoices below.", "success")
    return redirect(url_for("admin.customer_show", account_id=account.id))


@staff_role_required(*CAN_EDIT)
def customer_edit(account_id: int):
    account = queries.get_account(db.session, account_id)
    form = CustomerForm(account=account, default_currency=_default_currency())
    if request.method == "GET":
        return _render(form, account)
    if not form.validate_on_submit():
        return _render(form, account, 422)
    try:
        customer_service.update_customer(
            db.session,
            account_id=account_id,
            values=form.values(),
            now=utcnow(),
            actor=actor_of(current_user),
        )
    except ValidationFailed as exc:
        show_errors(form, exc.errors)
        return _render(form, account, 422)
    flash("Customer saved.", "success")
    return redirect(url_for("admin.customer_show", account_id=account_id))


def _users(account_id: int):
    return redirect(url_for("admin.customer_show", account_id=account_id, _anchor="portal-users"))


@staff_role_required(*CAN_EDIT)
def portal_user_invite(account_id: int):
    form = InviteForm()
    if not form.validate_on_submit():
        flash(next(iter(form.errors.values()), ["Check the invitation."])[0], "error")
        return _users(account_id)
    try:
        user = customer_service.invite_portal_user(
            db.session,
            account_id=account_id,
            unsafe_email=form.email.data or "",
            name=form.name.data or "",
            role=form.role.data,
            now=utcnow(),
            actor=actor_of(current_user),
            base_url=current_app.extensions["paydesk.settings"].base_url,
        )
    except ValidationFailed as exc:
        flash("Not invited: " + " ".join(exc.errors.values()), "error")
        return _users(account_id)
    flash(f"Invitation sent to {user.email}. The link works for 7 days.", "success")
    return _users(account_id)


@staff_role_required(*CAN_EDIT)
def portal_user_role(account_id: int, portal_user_id: int):
    form = RoleForm()
    if form.validate_on_submit():
        try:
            user = customer_service.change_portal_user_role(
                db.session,
                portal_user_id=portal_user_id,
                role=form.role.data,
                account_id=account_id,
                now=utcnow(),
                actor=actor_of(current_user),
            )
        except ValidationFailed as exc:
            flash(" ".join(exc.errors.values()), "error")
        else:
            flash(f"{user.email} is now {user.role}.", "success")
    return _users(account_id)


def _set_active(account_id: int, portal_user_id: int, active: bool):
    if ConfirmForm().validate_on_submit():
        change = (
            customer_service.reactivate_portal_user
            if active
            else customer_service.deactivate_portal_user
        )
        user = change(
            db.session,
            portal_user_id=portal_user_id,
            account_id=account_id,
            now=utcnow(),
            actor=actor_of(current_user),
        )
        flash(
            f"{user.email} can sign in again."
            if active
            else f"{user.email} is deactivated and signed out everywhere.",
            "success",
        )
    return _users(account_id)


@staff_role_required(*CAN_EDIT)
def portal_user_deactivate(account_id: int, portal_user_id: int):
    return _set_active(account_id, portal_user_id, False)


@staff_role_required(*CAN_EDIT)
def portal_user_reactivate(account_id: int, portal_user_id: int):
    return _set_active(account_id, portal_user_id, True)
