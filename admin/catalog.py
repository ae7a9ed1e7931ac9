"""The catalog: products (a unit price per currency, usual taxes) and tax rates, listed and
edited by administrators and accountants; everyone on staff can read them."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user

from admin.customer_forms import ProductForm, TaxRateForm, show_errors
from billing import invoicing_queries, queries
from billing.audit import actor_of
from billing.clock import utcnow
from billing.errors import ValidationFailed
from billing.models import StaffRole
from billing.services import catalog as catalog_service
from web.auth import staff_login_required, staff_role_required
from web.extensions import db

CAN_EDIT = (StaffRole.ADMIN, StaffRole.ACCOUNTANT)


@staff_login_required
def catalog_list():
    return render_template(
        "admin/catalog/list.html",
        products=invoicing_queries.products(db.session),
        tax_rates=invoicing_queries.tax_rates(db.session),
        can_edit=current_user.role in CAN_EDIT,
    )


def _product_form(product=None) -> ProductForm:
    return ProductForm(
        product=product,
        tax_rates=invoicing_queries.tax_rates(db.session),
        default_currency=queries.company(db.session).default_currency or "USD",
    )


def _save_product(product_id: int | None):
    product = invoicing_queries.get_product(db.session, product_id) if product_id else None
    form = _product_form(product)

    def render(status: int = 200):
        return render_template("admin/catalog/product.html", form=form, product=product), status

    if request.method == "GET":
        return render()
    if "add_price" in request.form:
        form.prices.append_entry()
        form.prices.entries[-1].form.currency.choices = form.prices.entries[0].form.currency.choices
        return render()
    if not form.validate_on_submit():
        return render(422)
    try:
        saved = catalog_service.save_product(
            db.session,
            product_id=product_id,
            values=form.values(),
            now=utcnow(),
            actor=actor_of(current_user),
        )
    except ValidationFailed as exc:
        show_errors(form, exc.errors)
        return render(422)
    flash(f"{saved.name} saved.", "success")
    return redirect(url_for("admin.catalog_list"))


@staff_role_required(*CAN_EDIT)
def product_new():
    return _save_product(None)


@staff_role_required(*CAN_EDIT)
def product_edit(product_id: int):
    return _save_product(product_id)


def _save_tax_rate(tax_rate_id: int | None):
    rate = invoicing_queries.get_tax_rate(db.session, tax_rate_id) if tax_rate_id else None
    form = TaxRateForm(rate=rate)

    def render(status: int = 200):
        return render_template("admin/catalog/tax_rate.html", form=form, rate=rate), status

    if request.method == "GET":
        return render()
    if not form.validate_on_submit():
        return render(422)
    try:
        saved = catalog_service.save_tax_rate(
            db.session,
            tax_rate_id=tax_rate_id,
            values=form.values(),
            now=utcnow(),
            actor=actor_of(current_user),
        )
    except ValidationFailed as exc:
        show_errors(form, exc.errors)
        return render(422)
    flash(f"{saved.label} saved.", "success")
    return redirect(url_for("admin.catalog_list", _anchor="tax-rates"))


@staff_role_required(*CAN_EDIT)
def tax_rate_new():
    return _save_tax_rate(None)


@staff_role_required(*CAN_EDIT)
def tax_rate_edit(tax_rate_id: int):
    return _save_tax_rate(tax_rate_id)
