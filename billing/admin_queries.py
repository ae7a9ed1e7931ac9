"""Read-only look-ups for the staff admin: every account, with the figures staff work from.

Each function answers one page in a fixed number of queries, whatever the page size (no N+1):
the customer list is one keyset query for the accounts plus one grouped query for their
balances. Unknown ids raise NotFound (the web answers 404).
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import func, select, tuple_
from sqlalchemy.orm import Session

from billing import queries
from billing.errors import NotFound
from billing.models import (
    Account,
    AccountCredit,
    ApiKey,
    AuditEntry,
    CreditKind,
    Email,
    Invoice,
    InvoiceStatus,
    Payment,
    PaymentStatus,
    PayWidget,
    PortalUser,
    Refund,
    StaffUser,
)

CUSTOMER_PAGE_SIZE = 25
RECENT = 10
OWING = (InvoiceStatus.OPEN, InvoiceStatus.UNCOLLECTIBLE)


# --- customers -------------------------------------------------------------------------------


@dataclass(frozen=True)
class CustomerRow:
    account: Account
    balances: list[queries.Balance] = field(default_factory=list)  # per currency, owing only
    unpaid_count: int = 0  # open or uncollectible invoices
    overdue_count: int = 0  # open invoices past their due date


@dataclass(frozen=True)
class CustomerPage:
    items: list[CustomerRow]
    previous: str | None  # cursor for the page before (names earlier in the alphabet)
    next: str | None  # cursor for the page after


def _encode_cursor(account: Account) -> str:
    raw = json.dumps([account.name, account.id], ensure_ascii=False).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(unsafe_cursor: str | None) -> tuple[str, int] | None:
    """A (name, id) cursor; anything malformed is ignored (first page)."""
    if not unsafe_cursor or len(unsafe_cursor) > 1000:
        return None
    try:
        raw = base64.urlsafe_b64decode(unsafe_cursor + "=" * (-len(unsafe_cursor) % 4))
        name, id_ = json.loads(raw)
    except (ValueError, TypeError, binascii.Error):
        return None
    if not isinstance(name, str) or not isinstance(id_, int) or isinstance(id_, bool):
        return None
    return name, id_


def customer_page(
    session: Session,
    *,
    today: date,
    search: str | None = None,
    after: str | None = None,
    before: str | None = None,
    limit: int = CUSTOMER_PAGE_SIZE,
) -> CustomerPage:
    """Accounts by name (keyset on (name, id)), each with what it owes per currency and how
    many invoices are unpaid or overdue. Two queries for any page size."""
    limit = max(1, min(limit, 100))
    query = select(Account)
    if search:
        query = query.where(
            func.lower(Account.name).contains(search.strip().lower()[:100], autoescape=True)
        )
    keys = tuple_(Account.name, Account.id)
    after_key, before_key = _decode_cursor(after), _decode_cursor(before)
    if before_key is not None:
        rows = list(
            session.scalars(
                query.where(keys < before_key)
                .order_by(Account.name.desc(), Account.id.desc())
                .limit(limit + 1)
            )
        )
        has_previous, has_next = len(rows) > limit, True
        accounts = list(reversed(rows[:limit]))
    else:
        if after_key is not None:
            query = query.where(keys > after_key)
        rows = list(session.scalars(query.order_by(Account.name, Account.id).limit(limit + 1)))
        has_previous, has_next = after_key is not None, len(rows) > limit
        accounts = rows[:limit]

    return CustomerPage(
        items=customer_rows(session, accounts, today=today),
        previous=_encode_cursor(accounts[0]) if accounts and has_previous else None,
        next=_encode_cursor(accounts[-1]) if accounts and has_next else None,
    )


def customer_rows(session: Session, accounts: list[Account], *, today: date) -> list[CustomerRow]:
    """Each account with what it owes per currency and its unpaid and overdue counts: one
    grouped query for any number of accounts."""
    figures: dict[int, dict[str, Any]] = {
        a.id: {"balances": [], "unpaid": 0, "overdue": 0} for a in accounts
    }
    if accounts:
        grouped = session.execute(
            select(
                Invoice.account_id,
                Invoice.currency,
                func.sum(Invoice.amount_due_minor),
                func.count(),
                func.count().filter(
                    (Invoice.status == InvoiceStatus.OPEN) & (Invoice.due_date < today)
                ),
            )
            .where(Invoice.account_id.in_(list(figures)), Invoice.status.in_(OWING))
            .group_by(Invoice.account_id, Invoice.currency)
            .order_by(Invoice.account_id, Invoice.currency)
        )
        for account_id, currency, outstanding, count, overdue in grouped:
            entry = figures[account_id]
            entry["balances"].append(queries.Balance(currency, int(outstanding or 0), count))
            entry["unpaid"] += count
            entry["overdue"] += overdue or 0
    return [
        CustomerRow(
            account=a,
            balances=figures[a.id]["balances"],
            unpaid_count=figures[a.id]["unpaid"],
            overdue_count=figures[a.id]["overdue"],
        )
        for a in accounts
    ]


@dataclass(frozen=True)
class CustomerOverview:
    account: Account
    summary: queries.AccountSummary
    users: list[PortalUser]
    invoices: list[Invoice]  # the most recent, drafts included
    payments: list[Payment]  # the most recent


def customer_overview(session: Session, *, account_id: int, today: date) -> CustomerOverview:
    """One customer: billing details, balances, portal users, recent invoices and payments."""
    account = queries.get_account(session, account_id)
    users = list(
        session.scalars(
            select(PortalUser).where(PortalUser.account_id == account_id).order_by(PortalUser.email)
        )
    )
    return CustomerOverview(
        account=account,
        summary=queries.account_summary(session, account_id=account_id, today=today),
        users=users,
        invoices=queries.invoice_page(
            session, account_id=account_id, include_drafts=True, limit=RECENT
        ).items,
        payments=queries.payment_page(session, account_id=account_id, limit=RECENT).items,
    )


# --- audit timeline --------------------------------------------------------------------------


@dataclass(frozen=True)
class Change:
    name: str
    before: Any
    after: Any


@dataclass(frozen=True)
class TimelineEntry:
    entry: AuditEntry
    actor: str  # a person's name or email where the actor is a user; else the raw actor
    changes: list[Change]


def _changes(before: dict[str, Any] | None, after: dict[str, Any] | None) -> list[Change]:
    """What an entry changed; values a snapshot repeats unchanged are left out."""
    before, after = before or {}, after or {}
    names = list(after) + [name for name in before if name not in after]
    return [
        Change(name, before.get(name), after.get(name))
        for name in names
        if not (name in before and name in after and before[name] == after[name])
    ]


# Who an audit actor "kind:id" is: the table, its label columns, how to say it.
_ACTOR_KINDS = {
    "staff": (StaffUser, (StaffUser.name, StaffUser.email), "{0} (staff)"),
    "portal_user": (PortalUser, (PortalUser.email, PortalUser.email), "{1} (customer)"),
    "api_key": (ApiKey, (ApiKey.name, ApiKey.name), "API key “{0}”"),
    "widget": (PayWidget, (PayWidget.title, PayWidget.title), "Pay Now widget “{0}”"),
}
_FIXED_ACTORS = {"system": "Paydesk (automatic)"}


def actor_names(session: Session, actors: set[str]) -> dict[str, str]:
    """'staff:3' -> 'Ann Staff (staff)', 'portal_user:7' -> 'bob@x.test (customer)',
    'api_key:2' -> 'API key “CRM”', 'pay_link:5' -> 'the customer, by pay link', 'system' ->
    'Paydesk (automatic)'. One query per kind of actor; unknown actors are left out."""
    ids: dict[str, set[int]] = {kind: set() for kind in _ACTOR_KINDS}
    names: dict[str, str] = {}
    for actor in actors:
        kind, _, id_text = actor.partition(":")
        if kind in ids and id_text.isdigit():
            ids[kind].add(int(id_text))
        elif kind == "pay_link" and id_text.isdigit():
            names[actor] = "the customer, by pay link"
        elif actor in _FIXED_ACTORS:
            names[actor] = _FIXED_ACTORS[actor]
    for kind, wanted in ids.items():
        if not wanted:
            continue
        model, (first, second), template = _ACTOR_KINDS[kind]
        for id_, label, fallback in session.execute(
            select(model.id, first, second).where(model.id.in_(wanted))
        ):
            names[f"{kind}:{id_}"] = template.format(label or fallback, fallback)
    return names


def timeline(session: Session, *, subject_type: str, subject_id: int) -> list[TimelineEntry]:
    """The audit entries about one record, newest first."""
    entries = list(
        session.scalars(
            select(AuditEntry)
            .where(AuditEntry.subject_type == subject_type, AuditEntry.subject_id == subject_id)
            .order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
        )
    )
    names = actor_names(session, {e.actor for e in entries})
    return [
        TimelineEntry(e, names.get(e.actor, e.actor), _changes(e.before, e.after)) for e in entries
    ]


# --- invoices and payments -------------------------------------------------------------------


@dataclass(frozen=True)
class InvoiceOverview:
    invoice: Invoice
    account: Account
    payments: list[tuple[Payment, int]]
    refunds: list[Refund]
    timeline: list[TimelineEntry]


def invoice_overview(session: Session, *, invoice_id: int) -> InvoiceOverview:
    """Any invoice (drafts included) with its customer, payments, refunds and audit trail."""
    invoice = queries.get_invoice(session, invoice_id=invoice_id, account_id=None)
    return InvoiceOverview(
        invoice=invoice,
        account=queries.get_account(session, invoice.account_id),
        payments=queries.invoice_payments(session, invoice.id),
        refunds=queries.invoice_refunds(session, invoice.id),
        timeline=timeline(session, subject_type=Invoice.__tablename__, subject_id=invoice.id),
    )


@dataclass(frozen=True)
class PaymentList:
    page: queries.Page[Payment]
    account_names: dict[int, str]


def payment_list(
    session: Session, *, older: str | None = None, newer: str | None = None
) -> PaymentList:
    """Every account's payments newest first, with the customers' names (one extra query)."""
    page = queries.payment_page(session, account_id=None, older=older, newer=newer)
    account_ids = {p.account_id for p in page.items}
    names: dict[int, str] = {}
    if account_ids:
        rows = session.execute(select(Account.id, Account.name).where(Account.id.in_(account_ids)))
        names = {id_: name for id_, name in rows}
    return PaymentList(page=page, account_names=names)


@dataclass(frozen=True)
class PaymentOverview:
    payment: Payment
    account: Account
    timeline: list[TimelineEntry]
    credited_minor: int  # the part that became account credit (an overpayment)
    unapplied_minor: int  # the part neither an invoice nor credit took (a widget payment, or
    # an overflow while credit is off, which refunds.refund_overflow sends back to the card)


def payment_overview(session: Session, *, payment_id: int) -> PaymentOverview:
    """A payment with its account, timeline and where its money went. Read-only."""
    payment = queries.get_payment(session, payment_id=payment_id, account_id=None)
    credited = session.scalar(
        select(func.coalesce(func.sum(AccountCredit.amount_minor), 0)).where(
            AccountCredit.payment_id == payment.id, AccountCredit.kind == CreditKind.OVERPAYMENT
        )
    )
    allocated = sum(a.amount_minor for a in payment.allocations)
    return PaymentOverview(
        payment=payment,
        account=queries.get_account(session, payment.account_id),
        timeline=timeline(session, subject_type=Payment.__tablename__, subject_id=payment.id),
        credited_minor=int(credited),
        unapplied_minor=max(0, payment.amount_minor - allocated - int(credited))
        if payment.status == PaymentStatus.SUCCEEDED
        else 0,
    )


# --- email -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class EmailOverview:
    email: Email
    account: Account | None  # the customer it was sent for, if any


def email_overview(session: Session, *, email_id: int) -> EmailOverview:
    email = session.get(Email, email_id)
    if email is None:
        raise NotFound(f"email {email_id}")
    account = session.get(Account, email.account_id) if email.account_id else None
    return EmailOverview(email=email, account=account)
