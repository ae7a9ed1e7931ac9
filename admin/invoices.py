"""Every account's invoices, drafts included: list (filter by status, customer, dates and
currency; search by number or customer; sort; keyset pages), one invoice with its actions,
credit notes and audit trail, its PDF. Editing and actions live in admin/invoice_editor.py and
admin/invoice_actions.py."""

from flask import render_template, request
from flask_login import current_user

from admin import lists, pay_links
from admin.invoice_actions import CAN_ACT
from billing import admin_lists, admin_queries, invoicing_queries
from billing.clock import utcnow
from billing.models import InvoiceStatus
from billing.services import documents
from web.auth import staff_login_required
from web.extensions import db
from web.responses import pdf_response

STATUSES = list(InvoiceStatus)


@staff_login_required
def invoice_list():
    filters, errors = lists.parse_filters(admin_lists.INVOICE_STATUSES, admin_lists.INVOICE_SORTS)
    page = admin_lists.invoice_list(
        db.session,
        filters,
        today=utcnow().date(),
        older=request.args.get("older"),
        newer=request.args.get("newer"),
    )
    return render_template(
        "admin/invoices/list.html",
        page=page,
        filters=filters,
        filter_errors=errors,
        args=lists.filter_args(filters),
        statuses=admin_lists.INVOICE_STATUSES,
        sorts=admin_lists.INVOICE_SORTS,
        customers=invoicing_queries.customer_choices(db.session),
        can_edit=current_user.role in CAN_ACT,
    )


@staff_login_required
def invoice_show(invoice_id: int):
    overview = admin_queries.invoice_overview(db.session, invoice_id=invoice_id)
    return render_template(
        "admin/invoices/show.html",
        o=overview,
        invoice=overview.invoice,
        pay_link_url=pay_links.current_url(overview.invoice),
        pay_link_can_manage=current_user.role in pay_links.CAN_MANAGE,
        extras=invoicing_queries.invoice_extras(db.session, overview.invoice),
        can_edit=current_user.role in CAN_ACT,
    )


@staff_login_required
def invoice_pdf(invoice_id: int):
    filename, data = documents.invoice_pdf(db.session, invoice_id=invoice_id, account_id=None)
    return pdf_response(filename, data)
