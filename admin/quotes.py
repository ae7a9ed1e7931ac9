"""Quotes in the admin: list (filter, search, keyset pages), build a new one, see one with its
link and audit trail, send it (or send it again), and turn an accepted one into an invoice."""

from __future__ import annotations

from flask import current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user

from admin import lists
from admin.quote_forms import QuoteConvertForm, QuoteForm
from billing import admin_lists, invoicing_queries, quote_queries
from billing.audit import actor_of
from billing.clock import utcnow
from billing.errors import Conflict, InvalidTransition, NotFound, ValidationFailed
from billing.models import QuoteConversion, StaffRole
from billing.services import documents, quotes
from web.auth import staff_login_required, staff_role_required
from web.extensions import db
from web.forms import ConfirmForm
from web.responses import pdf_response

EDITORS = (StaffRole.ADMIN, StaffRole.ACCOUNTANT)


def _links() -> quotes.LinkSettings:
    settings = current_app.extensions["paydesk.settings"]
    return quotes.LinkSettings(
        secret=settings.secret_key,
        base_url=settings.base_url,
        pay_link_days=settings.pay_link_days,
    )


@staff_login_required
def quote_list():
    """Quotes filtered by status, customer, issue dates and currency, searched by number or
    customer, sorted, paged by keyset; the CSV export holds exactly what the filter shows."""
    filters, errors = lists.parse_filters(admin_lists.QUOTE_STATUSES, admin_lists.QUOTE_SORTS)
    page = admin_lists.quote_list(
        db.session,
        filters,
        today=utcnow().date(),
        older=request.args.get("older"),
        newer=request.args.get("newer"),
    )
    return render_template(
        "admin/quotes/list.html",
        page=page,
        filters=filters,
        filter_errors=errors,
        args=lists.filter_args(filters),
        statuses=admin_lists.QUOTE_STATUSES,
        sorts=admin_lists.QUOTE_SORTS,
        customers=invoicing_queries.customer_choices(db.session),
        can_edit=current_user.role in EDITORS,
    )


@staff_login_required
def quote_export():
    filters, _errors = lists.parse_filters(admin_lists.QUOTE_STATUSES, admin_lists.QUOTE_SORTS)
    today = utcnow().date()
    return lists.csv_response(
        f"quotes-{utcnow():%Y%m%d}.csv",
        lambda session: admin_lists.quote_csv_rows(session, filters, today=today),
    )


def _form(quote=None) -> QuoteForm:
    choices = invoicing_queries.editor_choices(db.session)
    return QuoteForm(
        customer_id=request.args.get("account_id"),
        customers=choices.customers,
        products=choices.products,
        tax_rates=choices.tax_rates,
        quote=quote,
        default_currency=choices.default_currency,
        today=utcnow().date(),
    )


def _form_page(form: QuoteForm, quote=None, status: int = 200):
    return render_template(
        "admin/quotes/new.html", form=form, quote=quote, products=form.product_data()
    ), status


def _save(form: QuoteForm, quote=None):
    """Validate the posted form and create (or, with `quote`, update) the draft; writes nothing
    when anything is refused (the form comes back with a message beside each field)."""
    if not form.validate_on_submit():
        form.failed = True
        return _form_page(form, quote, 422)
    if "add_lines" in request.form:
        form.add_rows()
        return _form_page(form, quote)
    values, errors, rows = form.values()
    account_id = int(form.account_id.data) if (form.account_id.data or "").isdigit() else 0
    if not account_id:
        errors["account_id"] = "Choose the customer the quote is for."
    if errors:
        form.show_errors(errors)
        return _form_page(form, quote, 422)
    terms = quotes.QuoteTerms(
        account_id=account_id,
        lines=values["lines"],
        issue_date=values["issue_date"],
        expiry_date=values["expiry_date"],
        discount_minor=values["discount_minor"],
        discount_percent=values["discount_percent"],
        memo=values["memo"],
        currency=values["currency"],
    )
    try:
        if quote is None:
            saved = quotes.create_quote(
                db.session, terms=terms, now=utcnow(), actor=actor_of(current_user)
            )
        else:
            saved = quotes.update_quote(
                db.session,
                quote_id=quote.id,
                terms=terms,
                now=utcnow(),
                actor=actor_of(current_user),
            )
    except ValidationFailed as exc:
        form.show_errors(exc.errors, rows)
        return _form_page(form, quote, 422)
    except InvalidTransition as exc:
        flash(str(exc), "error")
        return redirect(url_for("admin.quote_show", quote_id=quote.id))
    except NotFound:
        form.show_errors({"account_id": "Choose the customer the quote is for."})
        return _form_page(form, quote, 422)
    flash("Quote saved as a draft. Check it, then send it to the customer.", "success")
    return redirect(url_for("admin.quote_show", quote_id=saved.id))


@staff_role_required(*EDITORS)
def quote_new():
    return _form_page(_form())


@staff_role_required(*EDITORS)
def quote_create():
    return _save(_form())


@staff_role_required(*EDITORS)
def quote_edit(quote_id: int):
    quote = quote_queries.get_quote(db.session, quote_id=quote_id, account_id=None)
    return _form_page(_form(quote), quote)


@staff_role_required(*EDITORS)
def quote_update(quote_id: int):
    quote = quote_queries.get_quote(db.session, quote_id=quote_id, account_id=None)
    return _save(_form(quote), quote)


@staff_login_required
def quote_show(quote_id: int):
    settings = current_app.extensions["paydesk.settings"]
    overview = quote_queries.quote_overview(
        db.session, quote_id=quote_id, secret=settings.secret_key, base_url=settings.base_url
    )
    return render_template(
        "admin/quotes/show.html",
        o=overview,
        quote=overview.quote,
        send_form=ConfirmForm(),
        convert_form=QuoteConvertForm(),
        can_edit=current_user.role in EDITORS,
    )


@staff_role_required(*EDITORS)
def quote_send(quote_id: int):
    if ConfirmForm().validate_on_submit():
        try:
            quote = quotes.send_quote(
                db.session,
                quote_id=quote_id,
                links=_links(),
                now=utcnow(),
                actor=actor_of(current_user),
            )
        except (InvalidTransition, ValidationFailed) as exc:
            flash(_message(exc), "error")
        else:
            flash(f"Quote {quote.number} was emailed to the customer with its link.", "success")
    return redirect(url_for("admin.quote_show", quote_id=quote_id))


@staff_role_required(*EDITORS)
def quote_convert(quote_id: int):
    form = QuoteConvertForm()
    if not form.validate_on_submit():
        flash("Choose what the quote becomes.", "error")
        return redirect(url_for("admin.quote_show", quote_id=quote_id))
    try:
        invoice = quotes.convert_quote(
            db.session,
            quote_id=quote_id,
            mode=QuoteConversion(form.mode.data),
            now=utcnow(),
            actor=actor_of(current_user),
        )
    except (InvalidTransition, ValidationFailed, Conflict) as exc:
        flash(_message(exc), "error")
        return redirect(url_for("admin.quote_show", quote_id=quote_id))
    flash(f"The quote became invoice {invoice.display_number}.", "success")
    return redirect(url_for("admin.invoice_show", invoice_id=invoice.id))


@staff_login_required
def quote_pdf(quote_id: int):
    filename, data = documents.quote_pdf(db.session, quote_id=quote_id, account_id=None)
    return pdf_response(filename, data)


def _message(exc: Exception) -> str:
    if isinstance(exc, ValidationFailed):
        return " ".join(exc.errors.values())
    return str(exc)
