"""The admin's lists: invoices, quotes, credit notes, payments, customers and the audit log, each
filtered (status, customer, date range, currency), searched (number or name), sorted, paged by
keyset (billing.queries._keyset_page: page 500 costs what page 1 costs) and exported to CSV with
exactly the rows the filter shows. Read-only.

A `Filters` value comes from the adapter already parsed; unknown statuses, sorts or currencies
are ignored by the adapter before they get here. CSV money is a plain decimal string in the
row's currency (1234.50, 1235 for JPY) next to a currency column, so spreadsheets sum it
exactly; text cells that a spreadsheet would run as a formula are prefixed with a quote.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Select, and_, exists, func, or_, select
from sqlalchemy.orm import Session, contains_eager, selectinload

from billing import admin_queries, queries
from billing.models import (
    Account,
    AuditEntry,
    CreditNote,
    Invoice,
    InvoiceStatus,
    Payment,
    PaymentAllocation,
    Quote,
    QuoteStatus,
)
from billing.money import to_major

PAGE_SIZE = 25
EXPORT_BATCH = 500


@dataclass(frozen=True)
class Filters:
    status: str | None = None
    account_id: int | None = None
    date_from: date | None = None
    date_to: date | None = None
    currency: str | None = None
    search: str | None = None
    sort: str = ""


@dataclass(frozen=True)
class Sort:
    label: str
    column: Any
    kind: type
    descending: bool


def _like(text: str) -> str:
    return text.strip().lower()[:100]


def _instant_range(column, f: Filters) -> list:
    """Whole days in UTC for an instant column."""
    conditions = []
    if f.date_from:
        conditions.append(column >= datetime.combine(f.date_from, time(), UTC))
    if f.date_to:
        conditions.append(column < datetime.combine(f.date_to + timedelta(days=1), time(), UTC))
    return conditions


def _document_filters(f: Filters, model, *searched) -> list:
    """The customer, currency, issue-date and search conditions every document list (invoices,
    quotes, credit notes) applies the same way; `searched` are the text columns `f.search`
    matches (case-insensitively, anywhere)."""
    conditions = []
    if f.account_id:
        conditions.append(model.account_id == f.account_id)
    if f.currency:
        conditions.append(model.currency == f.currency)
    if f.date_from:
        conditions.append(model.issue_date >= f.date_from)
    if f.date_to:
        conditions.append(model.issue_date <= f.date_to)
    if f.search:
        text = _like(f.search)
        conditions.append(
            or_(*(func.lower(column).contains(text, autoescape=True) for column in searched))
        )
    return conditions


def _page(session, query: Select, sort: Sort, id_column, older, newer, limit) -> queries.Page:
    return queries._keyset_page(
        session,
        query,
        sort.column,
        id_column,
        kind=sort.kind,
        older=older,
        newer=newer,
        limit=limit,
        key_of=lambda row: (getattr(row, sort.column.key), row.id),
        descending=sort.descending,
    )


def _stream(session: Session, query: Select, sort: Sort, id_column) -> Iterator:
    order = (sort.column.desc(), id_column.desc()) if sort.descending else (sort.column, id_column)
    yield from session.scalars(query.order_by(*order).execution_options(yield_per=EXPORT_BATCH))


def money_cell(amount_minor: int, currency: str) -> str:
    """1234.50 (no symbol, no grouping): exact and readable by spreadsheets."""
    return format(to_major(amount_minor, currency), "f")


def text_cell(value: Any) -> str:
    """Text that a spreadsheet would treat as a formula gets a leading quote."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


# --- invoices ---------------------------------------------------------------------------------

INVOICE_SORTS = {
    "newest": Sort("Issued, newest first", Invoice.issue_date, date, True),
    "oldest": Sort("Issued, oldest first", Invoice.issue_date, date, False),
    "due": Sort("Due date, soonest first", Invoice.due_date, date, False),
    "total": Sort("Total, largest first", Invoice.total_minor, int, True),
    "owing": Sort("Amount due, largest first", Invoice.amount_due_minor, int, True),
}
INVOICE_STATUSES = [*list(InvoiceStatus), "overdue"]


def _invoice_query(f: Filters, today: date) -> Select:
    query = select(Invoice).join(Account, Account.id == Invoice.account_id)
    if f.status == "overdue":
        query = query.where(Invoice.status == InvoiceStatus.OPEN, Invoice.due_date < today)
    elif f.status:
        query = query.where(Invoice.status == f.status)
    query = query.where(*_document_filters(f, Invoice, Invoice.number, Account.name))
    return query.options(selectinload(Invoice.account))


def invoice_list(
    session: Session,
    f: Filters,
    *,
    today: date,
    older: str | None = None,
    newer: str | None = None,
    limit: int = PAGE_SIZE,
) -> queries.Page[Invoice]:
    sort = INVOICE_SORTS.get(f.sort) or INVOICE_SORTS["newest"]
    return _page(session, _invoice_query(f, today), sort, Invoice.id, older, newer, limit)


INVOICE_CSV = [
    "number", "status", "customer", "customer_id", "issue_date", "due_date", "currency",
    "subtotal", "discount", "tax", "total", "paid", "credited", "refunded", "amount_due",
]  # fmt: skip


def invoice_csv_rows(session: Session, f: Filters, *, today: date) -> Iterator[list[str]]:
    """The header, then one row per invoice the filter shows, in the list's order."""
    sort = INVOICE_SORTS.get(f.sort) or INVOICE_SORTS["newest"]
    yield INVOICE_CSV
    for inv in _stream(session, _invoice_query(f, today), sort, Invoice.id):
        c = inv.currency
        yield [
            text_cell(inv.display_number),
            str(inv.status),
            text_cell(inv.account.name),
            str(inv.account_id),
            inv.issue_date.isoformat(),
            inv.due_date.isoformat(),
            c,
            *(
                money_cell(amount, c)
                for amount in (
                    inv.subtotal_minor,
                    inv.discount_minor,
                    inv.tax_minor,
                    inv.total_minor,
                    inv.amount_paid_minor,
                    inv.amount_credited_minor,
                    inv.amount_refunded_minor,
                    inv.amount_due_minor,
                )
            ),
        ]


# --- credit notes -----------------------------------------------------------------------------

CREDIT_NOTE_SORTS = {
    "newest": Sort("Issued, newest first", CreditNote.issue_date, date, True),
    "oldest": Sort("Issued, oldest first", CreditNote.issue_date, date, False),
    "amount": Sort("Amount, largest first", CreditNote.amount_minor, int, True),
}
CREDIT_NOTE_STATUSES = ["not_needed", "pending", "done", "failed"]


@dataclass(frozen=True)
class CreditNoteRow:
    note: CreditNote
    account_name: str
    invoice_number: str


def _credit_note_query(f: Filters) -> Select:
    query = (
        select(CreditNote)
        .join(Account, Account.id == CreditNote.account_id)
        .join(Invoice, Invoice.id == CreditNote.invoice_id)
    )
    if f.status:
        query = query.where(CreditNote.settlement_status == f.status)
    query = query.where(
        *_document_filters(f, CreditNote, CreditNote.number, Invoice.number, Account.name)
    )
    return query


def _names(session: Session, notes: list[CreditNote]) -> tuple[dict[int, str], dict[int, str]]:
    accounts = {n.account_id for n in notes}
    invoices = {n.invoice_id for n in notes}
    names = dict(
        session.execute(select(Account.id, Account.name).where(Account.id.in_(accounts))).all()
    )
    numbers = dict(
        session.execute(select(Invoice.id, Invoice.number).where(Invoice.id.in_(invoices))).all()
    )
    return names, numbers


def credit_note_list(
    session: Session,
    f: Filters,
    *,
    older: str | None = None,
    newer: str | None = None,
    limit: int = PAGE_SIZE,
) -> queries.Page[CreditNoteRow]:
    sort = CREDIT_NOTE_SORTS.get(f.sort) or CREDIT_NOTE_SORTS["newest"]
    page = _page(session, _credit_note_query(f), sort, CreditNote.id, older, newer, limit)
    names, numbers = _names(session, page.items)
    rows = [
        CreditNoteRow(n, names.get(n.account_id, ""), numbers.get(n.invoice_id) or "")
        for n in page.items
    ]
    return queries.Page(items=rows, newer=page.newer, older=page.older)


CREDIT_NOTE_CSV = [
    "number", "invoice", "customer", "customer_id", "issue_date", "currency", "amount", "tax",
    "applied_to_amount_due", "refunded_or_credited", "settlement", "settlement_status", "reason",
]  # fmt: skip


def _stream_with(session: Session, query: Select, sort: Sort, id_column) -> Iterator:
    """Like _stream, for a query with extra columns: yields rows (entity, *columns)."""
    order = (sort.column.desc(), id_column.desc()) if sort.descending else (sort.column, id_column)
    yield from session.execute(query.order_by(*order).execution_options(yield_per=EXPORT_BATCH))


def credit_note_csv_rows(session: Session, f: Filters) -> Iterator[list[str]]:
    sort = CREDIT_NOTE_SORTS.get(f.sort) or CREDIT_NOTE_SORTS["newest"]
    yield CREDIT_NOTE_CSV
    query = _credit_note_query(f).add_columns(Invoice.number, Account.name)
    for note, invoice_number, account_name in _stream_with(session, query, sort, CreditNote.id):
        c = note.currency
        yield [
            text_cell(note.number),
            text_cell(invoice_number),
            text_cell(account_name),
            str(note.account_id),
            note.issue_date.isoformat(),
            c,
            money_cell(note.amount_minor, c),
            money_cell(note.tax_minor, c),
            money_cell(note.applied_to_due_minor, c),
            money_cell(note.outside_minor, c),
            str(note.settlement),
            str(note.settlement_status),
            text_cell(note.reason),
        ]


# --- quotes -----------------------------------------------------------------------------------

QUOTE_SORTS = {
    "newest": Sort("Issued, newest first", Quote.issue_date, date, True),
    "oldest": Sort("Issued, oldest first", Quote.issue_date, date, False),
    "expiry": Sort("Valid until, soonest first", Quote.expiry_date, date, False),
    "total": Sort("Total, largest first", Quote.total_minor, int, True),
}
QUOTE_STATUSES = list(QuoteStatus)


def _quote_query(f: Filters, today: date) -> Select:
    """Quotes with their customer loaded. A sent quote past its last day counts as expired
    (as it is shown) even before the nightly job has moved it."""
    query = (
        select(Quote)
        .join(Account, Account.id == Quote.account_id)
        .options(contains_eager(Quote.account))
    )
    lapsed = and_(Quote.status == QuoteStatus.SENT, Quote.expiry_date < today)
    if f.status == QuoteStatus.EXPIRED:
        query = query.where(or_(Quote.status == QuoteStatus.EXPIRED, lapsed))
    elif f.status == QuoteStatus.SENT:
        query = query.where(Quote.status == QuoteStatus.SENT, Quote.expiry_date >= today)
    elif f.status:
        query = query.where(Quote.status == f.status)
    query = query.where(*_document_filters(f, Quote, Quote.number, Account.name))
    return query


def quote_list(
    session: Session,
    f: Filters,
    *,
    today: date,
    older: str | None = None,
    newer: str | None = None,
    limit: int = PAGE_SIZE,
) -> queries.Page[Quote]:
    sort = QUOTE_SORTS.get(f.sort) or QUOTE_SORTS["newest"]
    return _page(session, _quote_query(f, today), sort, Quote.id, older, newer, limit)


QUOTE_CSV = [
    "number", "customer", "customer_id", "status", "issue_date", "valid_until", "currency",
    "subtotal", "discount", "tax", "total", "accepted_by", "answered_at", "invoice_id",
]  # fmt: skip


def quote_csv_rows(session: Session, f: Filters, *, today: date) -> Iterator[list[str]]:
    sort = QUOTE_SORTS.get(f.sort) or QUOTE_SORTS["newest"]
    yield QUOTE_CSV
    for quote in _stream(session, _quote_query(f, today), sort, Quote.id):
        c = quote.currency
        lapsed = quote.status == QuoteStatus.SENT and quote.is_past_expiry(today)
        yield [
            text_cell(quote.display_number),
            text_cell(quote.account.name),
            str(quote.account_id),
            str(QuoteStatus.EXPIRED if lapsed else quote.status),
            quote.issue_date.isoformat(),
            quote.expiry_date.isoformat(),
            c,
            money_cell(quote.subtotal_minor, c),
            money_cell(quote.discount_minor, c),
            money_cell(quote.tax_minor, c),
            money_cell(quote.total_minor, c),
            text_cell(quote.accepted_name),
            quote.responded_at.isoformat() if quote.responded_at else "",
            str(quote.invoice_id or ""),
        ]


# --- payments ---------------------------------------------------------------------------------

PAYMENT_SORTS = {
    "newest": Sort("Recorded, newest first", Payment.created_at, datetime, True),
    "oldest": Sort("Recorded, oldest first", Payment.created_at, datetime, False),
    "amount": Sort("Amount, largest first", Payment.amount_minor, int, True),
}


def _payment_query(f: Filters) -> Select:
    query = select(Payment).join(Account, Account.id == Payment.account_id)
    if f.status:
        query = query.where(Payment.status == f.status)
    if f.account_id:
        query = query.where(Payment.account_id == f.account_id)
    if f.currency:
        query = query.where(Payment.currency == f.currency)
    query = query.where(*_instant_range(Payment.created_at, f))
    if f.search:
        text = _like(f.search)
        invoice_match = exists(
            select(PaymentAllocation.id)
            .join(Invoice, Invoice.id == PaymentAllocation.invoice_id)
            .where(
                PaymentAllocation.payment_id == Payment.id,
                func.lower(Invoice.number).contains(text, autoescape=True),
            )
        )
        conditions = [
            func.lower(Account.name).contains(text, autoescape=True),
            func.lower(Payment.reference).contains(text, autoescape=True),
            invoice_match,
        ]
        receipt = text.upper().removeprefix("R-").lstrip("0")
        if receipt.isdigit() and len(receipt) < 12:
            conditions.append(Payment.id == int(receipt))
        query = query.where(or_(*conditions))
    return query.options(selectinload(Payment.allocations).selectinload(PaymentAllocation.invoice))


def payment_list(
    session: Session,
    f: Filters,
    *,
    older: str | None = None,
    newer: str | None = None,
    limit: int = PAGE_SIZE,
) -> admin_queries.PaymentList:
    sort = PAYMENT_SORTS.get(f.sort) or PAYMENT_SORTS["newest"]
    page = _page(session, _payment_query(f), sort, Payment.id, older, newer, limit)
    ids = {p.account_id for p in page.items}
    names = dict(session.execute(select(Account.id, Account.name).where(Account.id.in_(ids))).all())
    return admin_queries.PaymentList(page=page, account_names=names)


PAYMENT_CSV = [
    "receipt", "status", "method", "customer", "customer_id", "received_date", "recorded_at",
    "currency", "amount", "refunded", "reference", "invoices",
]  # fmt: skip


def payment_csv_rows(session: Session, f: Filters) -> Iterator[list[str]]:
    sort = PAYMENT_SORTS.get(f.sort) or PAYMENT_SORTS["newest"]
    yield PAYMENT_CSV
    query = _payment_query(f).add_columns(Account.name)
    for p, account_name in _stream_with(session, query, sort, Payment.id):
        yield [
            p.receipt_number,
            str(p.status),
            str(p.method),
            text_cell(account_name),
            str(p.account_id),
            p.received_date.isoformat(),
            p.created_at.isoformat(),
            p.currency,
            money_cell(p.amount_minor, p.currency),
            money_cell(p.amount_refunded_minor, p.currency),
            text_cell(p.reference),
            text_cell(" ".join(a.invoice.display_number for a in p.allocations)),
        ]


# --- customers --------------------------------------------------------------------------------

CUSTOMER_SORTS = {
    "name": Sort("Name, A to Z", Account.name, str, False),
    "name_desc": Sort("Name, Z to A", Account.name, str, True),
    "newest": Sort("Newest first", Account.created_at, datetime, True),
}
CUSTOMER_STATUSES = ["owing", "overdue", "settled"]


def _customer_query(f: Filters, today: date) -> Select:
    query = select(Account)
    owing = exists(
        select(Invoice.id).where(
            Invoice.account_id == Account.id,
            Invoice.status.in_(admin_queries.OWING),
        )
    )
    if f.status == "owing":
        query = query.where(owing)
    elif f.status == "settled":
        query = query.where(~owing)
    elif f.status == "overdue":
        query = query.where(
            exists(
                select(Invoice.id).where(
                    and_(
                        Invoice.account_id == Account.id,
                        Invoice.status == InvoiceStatus.OPEN,
                        Invoice.due_date < today,
                    )
                )
            )
        )
    if f.currency:
        query = query.where(Account.currency == f.currency)
    query = query.where(*_instant_range(Account.created_at, f))
    if f.search:
        text = _like(f.search)
        query = query.where(
            or_(
                func.lower(Account.name).contains(text, autoescape=True),
                func.lower(Account.billing_email).contains(text, autoescape=True),
            )
        )
    return query


def customer_list(
    session: Session,
    f: Filters,
    *,
    today: date,
    older: str | None = None,
    newer: str | None = None,
    limit: int = PAGE_SIZE,
) -> queries.Page[admin_queries.CustomerRow]:
    """Accounts with what each owes per currency: two queries for any page size."""
    sort = CUSTOMER_SORTS.get(f.sort) or CUSTOMER_SORTS["name"]
    page = _page(session, _customer_query(f, today), sort, Account.id, older, newer, limit)
    rows = admin_queries.customer_rows(session, page.items, today=today)
    return queries.Page(items=rows, newer=page.newer, older=page.older)


CUSTOMER_CSV = [
    "customer_id", "name", "billing_email", "currency", "locale", "tax_id", "payment_terms_days",
    "created_at", "unpaid_invoices", "overdue_invoices", "outstanding_currency", "outstanding",
]  # fmt: skip


def customer_csv_rows(session: Session, f: Filters, *, today: date) -> Iterator[list[str]]:
    """One row per account and currency it owes in (one row with nothing owed otherwise)."""
    sort = CUSTOMER_SORTS.get(f.sort) or CUSTOMER_SORTS["name"]
    yield CUSTOMER_CSV
    batch: list[Account] = []

    def rows_of(accounts: list[Account]) -> Iterator[list[str]]:
        for row in admin_queries.customer_rows(session, accounts, today=today):
            a = row.account
            base = [
                str(a.id),
                text_cell(a.name),
                text_cell(a.billing_email),
                a.currency,
                a.locale,
                text_cell(a.tax_id),
                str(a.payment_terms_days),
                a.created_at.isoformat(),
                str(row.unpaid_count),
                str(row.overdue_count),
            ]
            if not row.balances:
                yield [*base, a.currency, money_cell(0, a.currency)]
            for balance in row.balances:
                yield [
                    *base,
                    balance.currency,
                    money_cell(balance.outstanding_minor, balance.currency),
                ]

    for account in _stream(session, _customer_query(f, today), sort, Account.id):
        batch.append(account)
        if len(batch) == EXPORT_BATCH:
            yield from rows_of(batch)
            batch = []
    yield from rows_of(batch)


# --- audit ------------------------------------------------------------------------------------

AUDIT_SORT = Sort("Newest first", AuditEntry.at, datetime, True)


@dataclass(frozen=True)
class AuditFilters:
    actor: str | None = None  # "staff:3", "system", or part of it
    action: str | None = None  # "invoice.finalized" or a prefix such as "invoice."
    subject_type: str | None = None
    subject_id: int | None = None
    account_id: int | None = None
    date_from: date | None = None
    date_to: date | None = None


@dataclass(frozen=True)
class AuditRow:
    entry: AuditEntry
    actor: str
    changes: list[admin_queries.Change]
    currency: str | None  # of the subject, to show its amounts; None when it has none


CURRENCY_OF = {
    Invoice.__tablename__: (Invoice.id, Invoice.currency),
    CreditNote.__tablename__: (CreditNote.id, CreditNote.currency),
    Payment.__tablename__: (Payment.id, Payment.currency),
    Account.__tablename__: (Account.id, Account.currency),
}


def _currencies(session: Session, entries: list[AuditEntry]) -> dict[tuple[str, int], str]:
    """(subject type, id) -> currency, one query per kind of subject on the page."""
    wanted: dict[str, set[int]] = {}
    for e in entries:
        if e.subject_type in CURRENCY_OF:
            wanted.setdefault(e.subject_type, set()).add(e.subject_id)
    found = {}
    for kind, ids in wanted.items():
        id_column, currency = CURRENCY_OF[kind]
        for id_, code in session.execute(select(id_column, currency).where(id_column.in_(ids))):
            found[kind, id_] = code
    return found


def audit_subject_types(session: Session) -> list[str]:
    return list(
        session.scalars(
            select(AuditEntry.subject_type).distinct().order_by(AuditEntry.subject_type)
        )
    )


def audit_list(
    session: Session,
    f: AuditFilters,
    *,
    older: str | None = None,
    newer: str | None = None,
    limit: int = 50,
) -> queries.Page[AuditRow]:
    """Audit entries newest first, filtered; each with the actor's name and what changed."""
    query = select(AuditEntry)
    if f.actor:
        query = query.where(func.lower(AuditEntry.actor).contains(_like(f.actor), autoescape=True))
    if f.action:
        query = query.where(
            func.lower(AuditEntry.action).startswith(_like(f.action), autoescape=True)
        )
    if f.subject_type:
        query = query.where(AuditEntry.subject_type == f.subject_type)
    if f.subject_id is not None:
        query = query.where(AuditEntry.subject_id == f.subject_id)
    if f.account_id is not None:
        query = query.where(AuditEntry.account_id == f.account_id)
    query = query.where(*_instant_range(AuditEntry.at, f))
    page = _page(session, query, AUDIT_SORT, AuditEntry.id, older, newer, limit)
    names = admin_queries.actor_names(session, {e.actor for e in page.items})
    currencies = _currencies(session, page.items)
    rows = [
        AuditRow(
            e,
            names.get(e.actor, e.actor),
            admin_queries._changes(e.before, e.after),
            currencies.get((e.subject_type, e.subject_id)),
        )
        for e in page.items
    ]
    return queries.Page(items=rows, newer=page.newer, older=page.older)
