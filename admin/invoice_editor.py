"""The draft invoice editor: a new draft for a customer, and editing a draft.

Lines come from the catalog or are typed in; "Add lines" re-shows the form with more rows (no
JavaScript needed; static/js/invoice_editor.js adds rows and fills product lines in place).
A save that the service refuses re-shows everything as typed with a message beside each field,
and writes nothing.
"""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user

from admin.invoice_forms import InvoiceEditForm
from billing import invoicing_queries, queries
from billing.audit import actor_of
from billing.clock import utcnow
from billing.errors import InvalidTransition, ValidationFailed
from billing.models import InvoiceStatus, StaffRole
from billing.services import invoices as invoice_service
from web.auth import staff_role_required
from web.extensions import db

CAN_EDIT = (StaffRole.ADMIN, StaffRole.ACCOUNTANT)


def _form(choices, invoice=None) -> InvoiceEditForm:
    return InvoiceEditForm(
        customer_id=request.args.get("customer"),
        customers=choices.customers,
        products=choices.products,
        tax_rates=choices.tax_rates,
        invoice=invoice,
        default_currency=choices.default_currency,
        today=utcnow().date(),
    )


def _render(form: InvoiceEditForm, *, invoice=None, status: int = 200):
    account = queries.get_account(db.session, invoice.account_id) if invoice else None
    return render_template(
        "admin/invoices/edit.html",
        form=form,
        invoice=invoice,
        account=account,
        products=form.product_data(),
    ), status


@staff_role_required(*CAN_EDIT)
def invoice_new():
    """GET: an empty draft (for ?customer=<id> when given). POST: create it, or add rows."""
    choices = invoicing_queries.editor_choices(db.session)
    form = _form(choices)
    if request.method == "GET":
        return _render(form)
    if not form.validate_on_submit():
        return _render(form, status=422)
    if "add_lines" in request.form:
        form.add_rows()
        return _render(form)
    values, errors, rows = form.values()
    customer = next((a for a in choices.customers if str(a.id) == form.account_id.data), None)
    if customer is None:
        errors["account_id"] = "Choose the customer to bill."
    if errors:
        form.show_errors(errors)
        return _render(form, status=422)
    try:
        invoice = invoice_service.create_draft(
            db.session, account=customer, now=utcnow(), actor=actor_of(current_user), **values
        )
    except ValidationFailed as exc:
        form.show_errors(exc.errors, rows)
        return _render(form, status=422)
    flash(f"Draft {invoice.id} saved. Check the preview, then finalize it.", "success")
    return redirect(url_for("admin.invoice_show", invoice_id=invoice.id))


@staff_role_required(*CAN_EDIT)
def invoice_edit(invoice_id: int):
    """GET: the draft in the editor. POST: save it (or add rows). A finalized invoice is
    refused with a message: its amounts are frozen."""
    invoice = queries.get_invoice(db.session, invoice_id=invoice_id, account_id=None)
    if invoice.status != InvoiceStatus.DRAFT:
        flash(
            f"Invoice {invoice.display_number} is {invoice.status} and can no longer be edited. "
            "Issue a credit note to change what it asks for.",
            "error",
        )
        return redirect(url_for("admin.invoice_show", invoice_id=invoice_id))
    choices = invoicing_queries.editor_choices(db.session)
    form = _form(choices, invoice)
    form.account_id.data = str(invoice.account_id)
    if request.method == "GET":
        return _render(form, invoice=invoice)
    if not form.validate_on_submit():
        return _render(form, invoice=invoice, status=422)
    if "add_lines" in request.form:
        form.add_rows()
        return _render(form, invoice=invoice)
    values, errors, rows = form.values()
    if errors:
        form.show_errors(errors)
        return _render(form, invoice=invoice, status=422)
    try:
        invoice_service.update_draft(
            db.session, invoice_id=invoice_id, now=utcnow(), actor=actor_of(current_user), **values
        )
    except ValidationFailed as exc:
        form.show_errors(exc.errors, rows)
        return _render(form, invoice=invoice, status=422)
    except InvalidTransition as exc:
        flash(str(exc), "error")
        return redirect(url_for("admin.invoice_show", invoice_id=invoice_id))
    flash("Draft saved.", "success")
    return redirect(url_for("admin.invoice_show", invoice_id=invoice_id))
