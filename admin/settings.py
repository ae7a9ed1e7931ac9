"""Company details (name, address, currency, logo, invoice footer). Every staff member can read
them; only administrators can save."""

from flask import flash, redirect, render_template, url_for
from flask_login import current_user

from admin.forms import CompanySettingsEditForm
from billing import queries
from billing.audit import actor_of
from billing.clock import utcnow
from billing.errors import ValidationFailed
from billing.models import CompanySettings, StaffRole
from billing.services import company as company_service
from web.auth import staff_login_required, staff_role_required
from web.extensions import db


def _render(form: CompanySettingsEditForm, company: CompanySettings, status: int = 200):
    return render_template(
        "admin/settings/edit.html",
        form=form,
        company=company,
        can_edit=current_user.role == StaffRole.ADMIN,
    ), status


@staff_login_required
def settings_edit():
    company = queries.company(db.session)
    return _render(CompanySettingsEditForm(company=company), company)


@staff_role_required(StaffRole.ADMIN)
def settings_update():
    form = CompanySettingsEditForm()
    if not form.validate_on_submit():
        return _render(form, queries.company(db.session), 422)
    logo, logo_mime = form.logo_upload()
    try:
        company_service.update_company_settings(
            db.session,
            values=form.values(),
            logo=logo,
            logo_mime=logo_mime,
            remove_logo=bool(form.remove_logo.data),
            now=utcnow(),
            actor=actor_of(current_user),
        )
    except ValidationFailed as exc:
        form.show_errors(exc.errors)
        return _render(form, queries.company(db.session), 422)
    flash("Settings saved.", "success")
    return redirect(url_for("admin.settings_edit"))
