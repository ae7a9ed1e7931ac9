"""Read-only look-ups of quotes for the portal (account-scoped: another account's quote, or a
draft, is NotFound and the web answers 404) and the admin (every account, with the audit trail).
Lists are newest first with keyset pagination on (issue_date, id), like invoices."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, selectinload

from billing import admin_queries, queries
from billing.errors import NotFound
from billing.models import Account, Invoice, InvoiceStatus, Quote, QuoteStatus
from billing.services import quote_links

MAX_ID = 2**63  # larger ids from a URL are simply not found (the database cannot hold them)


def quote_page(
    session: Session,
    *,
    account_id: int | None,
    status: str | None = None,
    search: str | None = None,
    older: str | None = None,
    newer: str | None = None,
    limit: int = queries.PAGE_SIZE,
) -> queries.Page[Quote]:
    """Quotes newest first. A customer (`account_id`) never sees drafts; account_id=None lists
    every account with the customer loaded, and `search` matches the number or customer name."""
    query = select(Quote)
    if account_id is not None:
        query = query.where(Quote.account_id == account_id, Quote.status != QuoteStatus.DRAFT)
    else:
        query = query.options(selectinload(Quote.account))
    if status in QuoteStatus.__members__.values():
        query = query.where(Quote.status == status)
    if search:
        needle = search.strip().lower()[:100]
        if account_id is None:
            query = query.join(Account, Account.id == Quote.account_id).where(
                or_(
                    func.lower(Quote.number).contains(needle, autoescape=True),
                    func.lower(Account.name).contains(needle, autoescape=True),
                )
            )
        else:
            query = query.where(func.lower(Quote.number).contains(needle, autoescape=True))
    return queries._keyset_page(
        session,
        query,
        Quote.issue_date,
        Quote.id,
        kind=date,
        older=older,
        newer=newer,
        limit=limit,
        key_of=lambda q: (q.issue_date, q.id),
    )


def get_quote(session: Session, *, quote_id: int, account_id: int | None) -> Quote:
    """One quote with its lines and customer. For a customer, drafts and other accounts'
    quotes raise NotFound."""
    quote = None
    if 0 < quote_id < MAX_ID:
        quote = session.scalar(
            select(Quote)
            .where(Quote.id == quote_id)
            .options(selectinload(Quote.lines), selectinload(Quote.account))
        )
    if quote is None or (
        account_id is not None
        and (quote.account_id != account_id or quote.status == QuoteStatus.DRAFT)
    ):
        raise NotFound(f"quote {quote_id}")
    return quote


@dataclass(frozen=True)
class CustomerQuote:
    quote: Quote
    invoice: Invoice | None  # the invoice it became, once the customer can see it


def customer_quote(session: Session, *, quote: Quote) -> CustomerQuote:
    """What a customer sees of a quote they may open (signed in or by link): the quote and,
    once it is finalized, the invoice it became (a draft invoice stays hidden)."""
    invoice = session.get(Invoice, quote.invoice_id) if quote.invoice_id else None
    if invoice is not None and invoice.status == InvoiceStatus.DRAFT:
        invoice = None
    return CustomerQuote(quote=quote, invoice=invoice)


def portal_quote(session: Session, *, quote_id: int, account_id: int) -> CustomerQuote:
    """A signed-in customer's quote; NotFound outside their account and for drafts."""
    return customer_quote(
        session, quote=get_quote(session, quote_id=quote_id, account_id=account_id)
    )


@dataclass(frozen=True)
class QuoteOverview:
    quote: Quote
    account: Account
    invoice: Invoice | None
    link: str | None  # the customer's link, for staff to copy (None before sending)
    timeline: list[admin_queries.TimelineEntry]


def quote_overview(session: Session, *, quote_id: int, secret: str, base_url: str) -> QuoteOverview:
    """Any quote (drafts included) with its customer, the invoice it became, its link and its
    audit trail. Raises NotFound."""
    quote = get_quote(session, quote_id=quote_id, account_id=None)
    return QuoteOverview(
        quote=quote,
        account=quote.account,
        invoice=session.get(Invoice, quote.invoice_id) if quote.invoice_id else None,
        link=quote_links.link_url(quote, secret=secret, base_url=base_url),
        timeline=admin_queries.timeline(
            session, subject_type=Quote.__tablename__, subject_id=quote.id
        ),
    )


def quote_for_invoice(session: Session, *, invoice_id: int) -> Quote | None:
    """The quote an invoice was made from, if any."""
    return session.scalar(select(Quote).where(Quote.invoice_id == invoice_id))
