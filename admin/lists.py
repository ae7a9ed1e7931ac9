"""Reading list filters from the query string and streaming CSV exports.

Filters are read leniently: an unknown status, sort or currency is ignored (the list shows
everything) and a malformed date is dropped with a message beside its field, so a hand-edited or
stale URL never fails. The CSV export takes the same query string as the page, so it holds
exactly the rows the filters show (all pages).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Iterator
from datetime import date

from flask import Response, request
from sqlalchemy.orm import Session

from billing.admin_lists import Filters
from billing.money import known_currencies
from web.extensions import db

MAX_SEARCH = 100


def parse_day(name: str, errors: dict[str, str]) -> date | None:
    text = (request.args.get(name) or "").strip()
    if not text:
        return None
    try:
        return date.fromisoformat(text[:10])
    except ValueError:
        errors[name] = "Use a date like 2026-11-30."
        return None


def parse_filters(statuses: Iterable[str], sorts: Iterable[str]) -> tuple[Filters, dict[str, str]]:
    """(Filters, {field: message}) from request.args: status, customer, from, to, currency, q,
    sort."""
    args = request.args
    errors: dict[str, str] = {}
    status = args.get("status") or None
    customer = (args.get("customer") or "").strip()
    currency = (args.get("currency") or "").strip().upper()[:3] or None
    sort = args.get("sort") or ""
    date_from, date_to = parse_day("from", errors), parse_day("to", errors)
    if date_from and date_to and date_to < date_from:
        errors["to"] = "The end date is before the start date."
    filters = Filters(
        status=status if status in set(statuses) else None,
        account_id=int(customer) if customer.isdigit() and len(customer) < 12 else None,
        date_from=date_from,
        date_to=date_to,
        currency=currency if currency in known_currencies() else None,
        search=(args.get("q") or "").strip()[:MAX_SEARCH] or None,
        sort=sort if sort in set(sorts) else "",
    )
    return filters, errors


def filter_args(filters: Filters) -> dict[str, str]:
    """The query-string form of `filters`, for pager and export links."""
    values = {
        "status": filters.status,
        "customer": str(filters.account_id) if filters.account_id else None,
        "from": filters.date_from.isoformat() if filters.date_from else None,
        "to": filters.date_to.isoformat() if filters.date_to else None,
        "currency": filters.currency,
        "q": filters.search,
        "sort": filters.sort or None,
    }
    return {k: v for k, v in values.items() if v}


def csv_response(filename: str, rows_of: Callable[[Session], Iterator[list[str]]]) -> Response:
    """Stream `rows_of(session)` as a UTF-8 CSV download (a BOM first, so spreadsheet apps read
    accents). The rows are read in a session of their own, opened when streaming starts and
    closed with the last row (or when the client goes away): the request's session has already
    ended by then, and a server-side cursor must not outlive its transaction."""

    def generate() -> Iterator[str]:
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        with db.factory() as session:
            yield "\ufeff"
            for row in rows_of(session):
                writer.writerow(row)
                yield buffer.getvalue()
                buffer.seek(0)
                buffer.truncate()

    response = Response(generate(), mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Cache-Control"] = "private, no-store"
    return response
