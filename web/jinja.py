"""Jinja filters: money and dates are formatted here (through billing.formatting, per locale)."""

from __future__ import annotations

from flask import Flask, g
from flask_login import current_user

from billing.formatting import format_day, format_instant, format_money, format_quantity


def _viewer_locale() -> str | None:
    """The signed-in customer's account locale (staff see each record's own), once a request."""
    if "viewer_locale" not in g:
        user = current_user._get_current_object()
        g.viewer_locale = (
            user.account_locale
            if getattr(user, "is_authenticated", False) and user.realm == "portal"
            else None
        )
    return g.viewer_locale


def init_app(app: Flask) -> None:
    # For templates that format many values: look the locale up once, pass it to the filters.
    app.add_template_global(_viewer_locale, "viewer_locale")

    @app.template_filter("money")
    def money(amount_minor: int, currency: str, locale: str | None = None) -> str:
        return format_money(amount_minor, currency, locale or _viewer_locale())

    @app.template_filter("day")
    def day(value, locale: str | None = None) -> str:
        return format_day(value, locale or _viewer_locale())

    @app.template_filter("instant")
    def instant(value, locale: str | None = None) -> str:
        return format_instant(value, locale or _viewer_locale())

    @app.template_filter("quantity")
    def quantity(value, locale: str | None = None) -> str:
        return format_quantity(value, locale or _viewer_locale())

    @app.template_test("overdue")
    def overdue(invoice, today) -> bool:
        """`invoice is overdue(today)`, for Invoice and InvoiceListItem alike (a test is called
        directly, where a method call in a template goes through Jinja's context.call)."""
        return invoice.is_overdue(today)

    @app.template_filter("label")
    def label(value) -> str:
        return str(value).replace("_", " ").capitalize()
