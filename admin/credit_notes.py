"""Credit notes: issue one against a finalized invoice (the whole invoice, chosen lines or an
amount; after payment, a refund or account credit), list them (filters, CSV), one credit note
with its PDF, emailing it, and retrying a refund that failed."""

from __future__ import annotations

from flask import current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import RadioField, SelectChoice

from admin import lists
from admin.invoice_actions import CAN_ACT
from admin.invoice_forms import CreditNoteForm
from billing import admin_lists, invoicing_queries
from billing.audit import actor_of
from billing.clock import utcnow
from billing.errors import InvalidTransition, ValidationFailed
from billing.models import CreditSettlement
from billing.services import credit_notes as credit_note_service
from billing.services import documents, sending
from web.auth import staff_login_required, staff_role_required
from web.extensions import db
from web.forms import ConfirmForm
from web.responses import pdf_response


class SettleForm(FlaskForm):
    settlement = RadioField(
        "Give the money back as",
        choices=[
            SelectChoice(CreditSettlement.REFUND.value, "Try the refund again"),
            SelectChoice(CreditSettlement.ACCOUNT_CREDIT.value, "Account credit instead"),
        ],
        default=CreditSettlement.ACCOUNT_CREDIT.value,
        validate_choice=False,
    )


def _gateway():
    return current_app.extensions.get("paydesk.gateway")


def _render_new(form: CreditNoteForm, start, status: int = 200):
    return render_template(
        "admin/credit_notes/new.html", form=form, s=start, invoice=start.invoice
    ), status


@staff_role_required(*CAN_ACT)
def credit_note_new(invoice_id: int):
    """GET: the form for a credit note against the invoice. POST: issue it."""
    start = invoicing_queries.credit_note_start(db.session, invoice_id=invoice_id)
    form = CreditNoteForm(invoice=start.invoice, payments=start.payments)
    if request.method == "GET":
        return _render_new(form, start)
    if not form.validate_on_submit():
        return _render_new(form, start, 422)
    values, errors = form.values()
    if errors:
        form.show_errors(errors)
        return _render_new(form, start, 422)
    try:
        note = credit_note_service.issue_credit_note(
            db.session,
            _gateway(),
            invoice_id=invoice_id,
            now=utcnow(),
            actor=actor_of(current_user),
            **values,
        )
    except ValidationFailed as exc:
        form.show_errors(exc.errors)
        start = invoicing_queries.credit_note_start(db.session, invoice_id=invoice_id)
        return _render_new(form, start, 422)
    except InvalidTransition as exc:
        flash(str(exc), "error")
        return redirect(url_for("admin.invoice_show", invoice_id=invoice_id))
    message = f"Credit note {note.number} issued."
    if note.settlement_status == "failed":
        flash(f"{message} The refund did not go through: {note.settlement_error}", "error")
    else:
        flash(message + (" It is on its way to the customer." if note.sent_at else ""), "success")
    return redirect(url_for("admin.credit_note_show", credit_note_id=note.id))


@staff_login_required
def credit_note_list():
    filters, errors = lists.parse_filters(
        admin_lists.CREDIT_NOTE_STATUSES, admin_lists.CREDIT_NOTE_SORTS
    )
    page = admin_lists.credit_note_list(
        db.session, filters, older=request.args.get("older"), newer=request.args.get("newer")
    )
    return render_template(
        "admin/credit_notes/list.html",
        page=page,
        filters=filters,
        filter_errors=errors,
        args=lists.filter_args(filters),
        statuses=admin_lists.CREDIT_NOTE_STATUSES,
        sorts=admin_lists.CREDIT_NOTE_SORTS,
        customers=invoicing_queries.customer_choices(db.session),
    )


@staff_login_required
def credit_note_export():
    filters, _errors = lists.parse_filters(
        admin_lists.CREDIT_NOTE_STATUSES, admin_lists.CREDIT_NOTE_SORTS
    )
    return lists.csv_response(
        f"credit-notes-{utcnow():%Y%m%d}.csv",
        lambda session: admin_lists.credit_note_csv_rows(session, filters),
    )


@staff_login_required
def credit_note_show(credit_note_id: int):
    overview = invoicing_queries.credit_note_overview(db.session, credit_note_id=credit_note_id)
    return render_template(
        "admin/credit_notes/show.html",
        o=overview,
        note=overview.note,
        can_edit=current_user.role in CAN_ACT,
        settle_form=SettleForm(),
    )


@staff_login_required
def credit_note_pdf(credit_note_id: int):
    filename, data = documents.credit_note_pdf(
        db.session, credit_note_id=credit_note_id, account_id=None
    )
    return pdf_response(filename, data)


def _back(credit_note_id: int):
    return redirect(url_for("admin.credit_note_show", credit_note_id=credit_note_id))


@staff_role_required(*CAN_ACT)
def credit_note_send(credit_note_id: int):
    if ConfirmForm().validate_on_submit():
        email = sending.send_credit_note(
            db.session, credit_note_id=credit_note_id, now=utcnow(), actor=actor_of(current_user)
        )
        flash(f"Sent to {', '.join(filter(None, [email.to_address, email.cc]))}.", "success")
    return _back(credit_note_id)


@staff_role_required(*CAN_ACT)
def credit_note_settle(credit_note_id: int):
    form = SettleForm()
    if not form.validate_on_submit():
        return _back(credit_note_id)
    try:
        settlement = CreditSettlement(form.settlement.data or "")
        note = credit_note_service.settle_credit_note(
            db.session,
            _gateway(),
            credit_note_id=credit_note_id,
            settlement=settlement,
            now=utcnow(),
            actor=actor_of(current_user),
        )
    except ValueError:
        flash("Choose a refund or account credit.", "error")
        return _back(credit_note_id)
    except ValidationFailed as exc:
        flash(next(iter(exc.errors.values())), "error")
        return _back(credit_note_id)
    if note.settlement_status == "failed":
        flash(f"The refund did not go through: {note.settlement_error}", "error")
    else:
        flash("Done.", "success")
    return _back(credit_note_id)
