"""Read-only look-ups for the portal and the admin.

Portal callers always pass the signed-in user's account_id: a record of another account is
reported as NotFound (the web answers 404), never as "forbidden", so ids reveal nothing.
Lists use keyset pagination on (issue_date, id) / (created_at, id): page 500 costs what page 1
costs, because the database seeks to the cursor through an index instead of skipping rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from typing import Any, Generic, NamedTuple, TypeVar

from sqlalchemy import Integer, Select, bindparam, func, select, tuple_
from sqlalchemy.orm import Session, selectinload

from billing.db import PrecompiledStatement
from billing.errors import NotFound
from billing.models import (
    Account,
    CompanySettings,
    CreditNote,
    Email,
    Invoice,
    InvoiceStatus,
    Payment,
    PaymentAllocation,
    PaymentStatus,
    Refund,
)

T = TypeVar("T")
PAGE_SIZE = 25


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    newer: str | None  # cursor for the page before (newer items), None on the first page
    older: str | None  # cursor for the next page (older items), None on the last page


def _parse_cursor(unsafe_cursor: str | None, kind: type) -> tuple[Any, int] | None:
    """'2026-03-01.42' -> (date(2026,3,1), 42); keys may also be int or str (`kind`);
    anything malformed is ignored (first page)."""
    if not unsafe_cursor or len(unsafe_cursor) > 500:
        return None
    key_text, _, id_text = unsafe_cursor.rpartition(".")
    try:
        if kind is date:
            key = date.fromisoformat(key_text)
        elif kind is datetime:
            key = datetime.fromisoformat(key_text)
            if key.tzinfo is None:
                return None
        elif kind is int:
            key = int(key_text)
        else:
            key = key_text
        return key, int(id_text)
    except ValueError:
        return None


def _cursor(key: Any, id_: int) -> str:
    return f"{key.isoformat() if hasattr(key, 'isoformat') else key}.{id_}"


def _keyset_page(
    session: Session,
    query: Select,
    key_column,
    id_column,
    *,
    kind: type,
    older: str | None,
    newer: str | None,
    limit: int,
    key_of,
    descending: bool = True,
) -> Page:
    """Newest-first page of `query` after cursor `older` or before cursor `newer`.

    With descending=False the order is ascending (A to Z, oldest first): `older` then means
    "the next page" and `newer` "the previous page", whatever the key."""
    limit = max(1, min(limit, 100))
    after, before = _parse_cursor(older, kind), _parse_cursor(newer, kind)
    keys = tuple_(key_column, id_column)
    forward = (key_column.desc(), id_column.desc()) if descending else (key_column, id_column)
    if descending:
        backward = (key_column.asc(), id_column.asc())
    else:
        backward = (key_column.desc(), id_column.desc())
    if before is not None:
        rows = list(
            session.scalars(
                query.where(keys > before if descending else keys < before)
                .order_by(*backward)
                .limit(limit + 1)
            )
        )
        has_newer = len(rows) > limit
        rows = list(reversed(rows[:limit]))
        has_older = True
    else:
        if after is not None:
            query = query.where(keys < after if descending else keys > after)
        rows = list(session.scalars(query.order_by(*forward).limit(limit + 1)))
        has_older = len(rows) > limit
        rows = rows[:limit]
        has_newer = after is not None
    return _page(rows, has_newer, has_older, key_of)


def _page(rows: list, has_newer: bool, has_older: bool, key_of) -> Page:
    return Page(
        items=rows,
        newer=_cursor(*key_of(rows[0])) if rows and has_newer else None,
        older=_cursor(*key_of(rows[-1])) if rows and has_older else None,
    )


def invoice_page(
    session: Session,
    *,
    account_id: int | None,
    status: str | None = None,
    search: str | None = None,
    older: str | None = None,
    newer: str | None = None,
    limit: int = PAGE_SIZE,
    include_drafts: bool = False,
) -> Page[Invoice]:
    """Invoices newest first. account_id=None lists every account (admin only)."""
    query = select(Invoice)
    if account_id is not None:
        query = query.where(Invoice.account_id == account_id)
    else:
        query = query.options(selectinload(Invoice.account))
    if status in InvoiceStatus.__members__.values():
        query = query.where(Invoice.status == status)
    elif not include_drafts:
        query = query.where(Invoice.status != InvoiceStatus.DRAFT)
    if search:
        query = query.where(
            func.lower(Invoice.number).contains(search.strip().lower()[:40], autoescape=True)
        )
    return _keyset_page(
        session,
        query,
        Invoice.issue_date,
        Invoice.id,
        kind=date,
        older=older,
        newer=newer,
        limit=limit,
        key_of=lambda inv: (inv.issue_date, inv.id),
    )


class InvoiceListItem(NamedTuple):
    """One row of a customer's invoice list: only the columns the list shows, read as plain
    rows (no ORM identity map, no unused columns). `display_number` and `is_overdue` follow
    the same rules as Invoice's."""

    id: int
    number: str | None
    status: str
    currency: str
    issue_date: date
    due_date: date
    total_minor: int
    amount_due_minor: int

    @property
    def display_number(self) -> str:
        return self.number or f"Draft {self.id}"

    def is_overdue(self, today: date) -> bool:
        return self.status == InvoiceStatus.OPEN and self.due_date < today


_INVOICES = Invoice.__table__.c


@cache
def _invoice_list_statement(
    by_status: bool, by_search: bool, cursor: str | None
) -> PrecompiledStatement:
    """The list query of one shape, precompiled (SQLAlchemy's per-execution work cost more
    than the query); every value is bound per call. `cursor`: None (first page), "older"
    (the page after the cursor) or "newer" (the page before it, read backwards). The same SQL
    as invoice_page but for the columns, so the same index plan: ix_invoices_account_issue,
    seeking to the cursor with the row comparison."""
    c = _INVOICES
    query = select(*(c[name] for name in InvoiceListItem._fields)).where(
        c.account_id == bindparam("account_id"),
        c.status == bindparam("status") if by_status else c.status != InvoiceStatus.DRAFT,
    )
    if by_search:
        query = query.where(func.lower(c.number).like(bindparam("pattern"), escape="/"))
    keys = tuple_(c.issue_date, c.id)
    at = tuple_(bindparam("cursor_key", type_=c.issue_date.type), bindparam("cursor_id"))
    if cursor == "newer":
        query = query.where(keys > at).order_by(c.issue_date, c.id)
    else:
        if cursor == "older":
            query = query.where(keys < at)
        query = query.order_by(c.issue_date.desc(), c.id.desc())
    return PrecompiledStatement(query.limit(bindparam("limit", type_=Integer())))


def _like_fragment(text: str) -> str:
    """'%text%' with LIKE's wildcards escaped by '/' (what contains(autoescape=True) sends)."""
    escaped = text.replace("/", "//").replace("%", "/%").replace("_", "/_")
    return f"%{escaped}%"


def invoice_list_page(
    session: Session,
    *,
    account_id: int,
    status: str | None = None,
    search: str | None = None,
    older: str | None = None,
    newer: str | None = None,
    limit: int = PAGE_SIZE,
) -> Page[InvoiceListItem]:
    """One account's invoices (never drafts) newest first, as InvoiceListItem rows: the same
    filters, order and cursors as invoice_page, minus loading whole invoices."""
    limit = max(1, min(limit, 100))
    after, before = _parse_cursor(older, date), _parse_cursor(newer, date)
    by_status = status in InvoiceStatus.__members__.values()
    fragment = search.strip().lower()[:40] if search else ""
    cursor = "newer" if before is not None else "older" if after is not None else None
    params: dict[str, Any] = {"account_id": account_id, "limit": limit + 1}
    if by_status:
        params["status"] = status
    if fragment:
        params["pattern"] = _like_fragment(fragment)
    if cursor:
        params["cursor_key"], params["cursor_id"] = before if cursor == "newer" else after
    statement = _invoice_list_statement(by_status, bool(fragment), cursor)
    rows = [InvoiceListItem._make(row) for row in statement.rows(session, params)]
    key_of = _invoice_list_key
    if cursor == "newer":
        return _page(list(reversed(rows[:limit])), len(rows) > limit, True, key_of)
    return _page(rows[:limit], after is not None, len(rows) > limit, key_of)


def _invoice_list_key(item: InvoiceListItem) -> tuple[date, int]:
    return item.issue_date, item.id


def get_invoice(session: Session, *, invoice_id: int, account_id: int | None) -> Invoice:
    """One invoice with its lines. For a portal account, drafts and other accounts' invoices
    raise NotFound."""
    invoice = session.scalar(
        select(Invoice).where(Invoice.id == invoice_id).options(selectinload(Invoice.lines))
    )
    if invoice is None or (
        account_id is not None
        and (invoice.account_id != account_id or invoice.status == InvoiceStatus.DRAFT)
    ):
        raise NotFound(f"invoice {invoice_id}")
    return invoice


def get_credit_note(session: Session, *, credit_note_id: int, account_id: int | None) -> CreditNote:
    """One credit note with its lines; another account's raises NotFound."""
    note = session.get(CreditNote, credit_note_id)
    if note is None or (account_id is not None and note.account_id != account_id):
        raise NotFound(f"credit note {credit_note_id}")
    return note


def invoice_payments(session: Session, invoice_id: int) -> list[tuple[Payment, int]]:
    """Successful payments applied to the invoice, with the amount applied to it."""
    rows = session.execute(
        select(Payment, PaymentAllocation.amount_minor)
        .join(PaymentAllocation, PaymentAllocation.payment_id == Payment.id)
        .where(
            PaymentAllocation.invoice_id == invoice_id, Payment.status == PaymentStatus.SUCCEEDED
        )
        .order_by(Payment.received_date, Payment.id)
    )
    return [(payment, amount) for payment, amount in rows]


def invoice_refunds(session: Session, invoice_id: int) -> list[Refund]:
    return list(
        session.scalars(select(Refund).where(Refund.invoice_id == invoice_id).order_by(Refund.id))
    )


@dataclass(frozen=True)
class Balance:
    currency: str
    outstanding_minor: int
    open_count: int


@dataclass(frozen=True)
class AccountSummary:
    balances: list[Balance]
    overdue_count: int
    next_due_date: date | None


def account_summary(session: Session, *, account_id: int, today: date) -> AccountSummary:
    """Outstanding balance per currency, overdue count and next due date, in two queries."""
    owing = (Invoice.account_id == account_id) & Invoice.status.in_(
        [InvoiceStatus.OPEN, InvoiceStatus.UNCOLLECTIBLE]
    )
    balances = [
        Balance(currency, outstanding, count)
        for currency, outstanding, count in session.execute(
            select(Invoice.currency, func.sum(Invoice.amount_due_minor), func.count())
            .where(owing)
            .group_by(Invoice.currency)
            .order_by(Invoice.currency)
        )
    ]
    open_only = (Invoice.account_id == account_id) & (Invoice.status == InvoiceStatus.OPEN)
    overdue, next_due = session.execute(
        select(
            func.count().filter(Invoice.due_date < today),
            func.min(Invoice.due_date).filter(Invoice.due_date >= today),
        ).where(open_only)
    ).one()
    return AccountSummary(balances, overdue or 0, next_due)


def payment_page(
    session: Session,
    *,
    account_id: int | None,
    older: str | None = None,
    newer: str | None = None,
    limit: int = PAGE_SIZE,
) -> Page[Payment]:
    """Payments newest first, with their allocations and invoices loaded."""
    query = select(Payment).options(
        selectinload(Payment.allocations).selectinload(PaymentAllocation.invoice)
    )
    if account_id is not None:
        query = query.where(Payment.account_id == account_id)
    return _keyset_page(
        session,
        query,
        Payment.created_at,
        Payment.id,
        kind=datetime,
        older=older,
        newer=newer,
        limit=limit,
        key_of=lambda p: (p.created_at, p.id),
    )


def get_payment(session: Session, *, payment_id: int, account_id: int | None) -> Payment:
    payment = session.scalar(
        select(Payment)
        .where(Payment.id == payment_id)
        .options(
            selectinload(Payment.allocations).selectinload(PaymentAllocation.invoice),
            selectinload(Payment.refunds),
        )
    )
    if payment is None or (account_id is not None and payment.account_id != account_id):
        raise NotFound(f"payment {payment_id}")
    return payment


def get_account(session: Session, account_id: int) -> Account:
    account = session.get(Account, account_id)
    if account is None:
        raise NotFound(f"account {account_id}")
    return account


def company(session: Session) -> CompanySettings:
    """The company's settings; an unsaved default before anyone has saved them."""
    return session.scalar(select(CompanySettings).order_by(CompanySettings.id).limit(1)) or (
        CompanySettings(name="Your Company", default_currency="USD", address="", invoice_footer="")
    )


def email_page(
    session: Session,
    *,
    older: str | None = None,
    newer: str | None = None,
    limit: int = PAGE_SIZE,
) -> Page[Email]:
    return _keyset_page(
        session,
        select(Email),
        Email.created_at,
        Email.id,
        kind=datetime,
        older=older,
        newer=newer,
        limit=limit,
        key_of=lambda e: (e.created_at, e.id),
    )
