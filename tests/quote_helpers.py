"""Helpers for the quote and order tests: quotes made and sent through the services, the
company's auto-convert setting, and API keys."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from billing.models import Account, CompanySettings, Quote, QuoteConversion
from billing.services import api_keys, quote_links, quotes
from billing.services.invoices import DraftLine
from tests.conftest import SECRET
from tests.factories import NOW

LINKS = quotes.LinkSettings(secret=SECRET, base_url="http://localhost")
LINES = [
    DraftLine("Website redesign, fixed fee", Decimal(1), 480000, Decimal(0)),
    DraftLine("Content migration (hours)", Decimal("12.5"), 9500, Decimal(10)),
]


def make_quote(
    session: Session,
    account: Account,
    *,
    lines: list[DraftLine] | None = None,
    issue_date: date | None = None,
    valid_days: int = 30,
    discount_minor: int = 0,
    send: bool = True,
    now: datetime = NOW,
) -> Quote:
    """A quote for `account` (sent unless `send` is False), issued on `now`'s date."""
    issue_date = issue_date or now.date()
    quote = quotes.create_quote(
        session,
        terms=quotes.QuoteTerms(
            account_id=account.id,
            lines=lines or LINES,
            issue_date=issue_date,
            expiry_date=issue_date + timedelta(days=valid_days),
            discount_minor=discount_minor,
            memo="Valid for 30 days.",
        ),
        now=now,
        actor="staff:1",
    )
    if send:
        quotes.send_quote(session, quote_id=quote.id, links=LINKS, now=now, actor="staff:1")
    session.refresh(quote)
    return quote


def set_auto_convert(session: Session, mode: QuoteConversion) -> None:
    row = session.scalar(select(CompanySettings).limit(1))
    if row is None:
        row = CompanySettings(id=1, name="Northwind Studio", default_currency="USD")
        session.add(row)
    row.quote_auto_convert = mode.value
    session.commit()


def make_api_key(session: Session, *scopes: str, name: str = "Shop") -> tuple[int, str]:
    """(key id, secret) of a new key with `scopes` (orders:write by default)."""
    key, token = api_keys.create_api_key(
        session,
        unsafe_name=name,
        scopes=list(scopes or ("orders:write",)),
        now=NOW,
        actor="staff:1",
    )
    return key.id, token


def link_token(quote: Quote) -> str:
    """The token of a sent quote's emailed link."""
    return quote_links.link_url(quote, secret=SECRET, base_url="http://x").rsplit("/", 1)[1]
