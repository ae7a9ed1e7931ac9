"""Customers (accounts): a filterable, sortable list with balances and its CSV export, and one
customer. Creating and editing customers and managing their portal users live in
admin/customer_edit.py."""

from flask import render_template, request
from flask_login import current_user

from admin import lists
from admin.customer_edit import CAN_EDIT
from admin.customer_forms import InviteForm, RoleForm
from billing import admin_lists, admin_queries
from billing.clock import utcnow
from billing.services import credit
from web.auth import staff_login_required
from web.extensions import db


@staff_login_required
def customer_list():
    """Customers A to Z (or as sorted), filtered by what they owe, currency and when they were
    added, searched by name or email; pages go by `after`/`before` cursors."""
    filters, errors = lists.parse_filters(admin_lists.CUSTOMER_STATUSES, admin_lists.CUSTOMER_SORTS)
    page = admin_lists.customer_list(
        db.session,
        filters,
        today=utcnow().date(),
        older=request.args.get("after"),
        newer=request.args.get("before"),
    )
    return render_template(
        "admin/customers/list.html",
        page=page,
        search=filters.search,
        filters=filters,
        filter_errors=errors,
        args=lists.filter_args(filters),
        statuses=admin_lists.CUSTOMER_STATUSES,
        sorts=admin_lists.CUSTOMER_SORTS,
        can_edit=current_user.role in CAN_EDIT,
    )


@staff_login_required
def customer_export():
    filters, _errors = lists.parse_filters(
        admin_lists.CUSTOMER_STATUSES, admin_lists.CUSTOMER_SORTS
    )
    today = utcnow().date()
    return lists.csv_response(
        f"customers-{utcnow():%Y%m%d}.csv",
        lambda session: admin_lists.customer_csv_rows(session, filters, today=today),
    )


@staff_login_required
def customer_show(account_id: int):
    overview = admin_queries.customer_overview(
        db.session, account_id=account_id, today=utcnow().date()
    )
    return render_template(
        "admin/customers/show.html",
        o=overview,
        account=overview.account,
        credit=credit.credit_summary(db.session, account_id=account_id),
        can_edit=current_user.role in CAN_EDIT,
        invite_form=InviteForm(),
        role_form=RoleForm(),
    )
