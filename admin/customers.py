"""Customers (accounts): a searchable, alphabetical list with balances, and one customer."""

from flask import render_template, request

from billing import admin_queries
from billing.clock import utcnow
from web.auth import staff_login_required
from web.extensions import db


@staff_login_required
def customer_list():
    search = (request.args.get("q") or "").strip()[:100] or None
    page = admin_queries.customer_page(
        db.session,
        today=utcnow().date(),
        search=search,
        after=request.args.get("after"),
        before=request.args.get("before"),
    )
    return render_template("admin/customers/list.html", page=page, search=search)


@staff_login_required
def customer_show(account_id: int):
    overview = admin_queries.customer_overview(
        db.session, account_id=account_id, today=utcnow().date()
    )
    return render_template("admin/customers/show.html", o=overview, account=overview.account)
