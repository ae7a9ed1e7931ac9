"""API keys for other systems: administrators create them (the key is shown once, on the page
that answers the POST, never again) and revoke them. Everyone on staff can see the list."""

from __future__ import annotations

from flask import flash, redirect, render_template, url_for
from flask_login import current_user

from admin.quote_forms import ApiKeyCreateForm
from billing.audit import actor_of
from billing.clock import utcnow
from billing.errors import ValidationFailed
from billing.models import StaffRole
from billing.services import api_keys
from web.auth import staff_login_required, staff_role_required
from web.extensions import db
from web.forms import ConfirmForm


def _page(form: ApiKeyCreateForm, *, created=None, token: str | None = None, status: int = 200):
    return render_template(
        "admin/api_keys/list.html",
        keys=api_keys.list_api_keys(db.session),
        form=form,
        revoke_form=ConfirmForm(),
        created=created,
        token=token,
        can_edit=current_user.role == StaffRole.ADMIN,
    ), status


@staff_login_required
def api_key_list():
    return _page(ApiKeyCreateForm())


@staff_role_required(StaffRole.ADMIN)
def api_key_create():
    form = ApiKeyCreateForm()
    if not form.validate_on_submit():
        return _page(form, status=422)
    try:
        key, token = api_keys.create_api_key(
            db.session,
            unsafe_name=form.name.data,
            scopes=form.scopes.data or [],
            now=utcnow(),
            actor=actor_of(current_user),
        )
    except ValidationFailed as exc:
        for name, message in exc.errors.items():
            getattr(form, name).errors = [*getattr(form, name).errors, message]
        return _page(form, status=422)
    return _page(ApiKeyCreateForm(formdata=None), created=key, token=token)


@staff_role_required(StaffRole.ADMIN)
def api_key_revoke(api_key_id: int):
    if ConfirmForm().validate_on_submit():
        key = api_keys.revoke_api_key(
            db.session, api_key_id=api_key_id, now=utcnow(), actor=actor_of(current_user)
        )
        flash(f"The key {key.prefix}… ({key.name}) no longer works.", "success")
    return redirect(url_for("admin.api_key_list"))
