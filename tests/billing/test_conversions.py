"""A quote or an order becomes an invoice in one transaction: when any step fails (here the
finalize step, whose number collides with an invoice already holding it), nothing is written:
no draft, no link, no claimed quote, no order, no customer, no queued email, no audit entry.
Then, once the cause is gone, the same conversion succeeds."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from billing.models import (
    Account,
    AuditEntry,
    Email,
    Invoice,
    InvoiceStatus,
    NumberSequence,
    Order,
    Quote,
    QuoteConversion,
    QuoteStatus,
)
from billing.services import orders, quotes
from tests.factories import NOW
from tests.quote_helpers import LINKS, make_api_key, make_quote

ORDER = {
    "customer": {"external_id": "shop-9", "email": "new@wonka.test", "name": "Wonka"},
    "currency": "USD",
    "lines": [{"description": "Golden ticket", "quantity": 3, "unit_amount_minor": 12500}],
    "finalize": True,
    "send": True,
}


def _count(session, model, *where) -> int:
    session.expire_all()
    return session.scalar(select(func.count()).select_from(model).where(*where))


def _rewind_invoice_numbers(session, next_value: int) -> None:
    """Make the next finalize take a number an invoice already holds (INV-2026-0001)."""
    session.execute(
        update(NumberSequence)
        .where(NumberSequence.series == "INV-2026")
        .values(next_value=next_value)
    )
    session.commit()


def _state(session) -> tuple[int, int, int, int, int]:
    return (
        _count(session, Invoice),
        _count(session, Order),
        _count(session, Account),
        _count(session, Email),
        _count(session, AuditEntry),
    )


def test_a_failed_finalize_leaves_the_quote_accepted_and_no_invoice(session, make):
    account = make.account()
    make.invoice(account)  # INV-2026-0001
    quote = make_quote(session, account)
    quotes.accept_quote(
        session,
        quote_id=quote.id,
        account_id=None,
        unsafe_name="Ada Lovelace",
        ip="203.0.113.9",
        now=NOW,
        actor="portal_user:1",
    )
    _rewind_invoice_numbers(session, 1)
    before = _state(session)

    with pytest.raises(IntegrityError):
        quotes.convert_quote(
            session, quote_id=quote.id, mode=QuoteConversion.FINALIZE, now=NOW, actor="staff:1"
        )

    assert _state(session) == before
    quote = session.get(Quote, quote.id)
    assert (quote.status, quote.invoice_id, quote.converted_at) == (
        QuoteStatus.ACCEPTED,
        None,
        None,
    )
    _rewind_invoice_numbers(session, 2)
    invoice = quotes.convert_quote(
        session, quote_id=quote.id, mode=QuoteConversion.FINALIZE, now=NOW, actor="staff:1"
    )
    assert (invoice.number, invoice.quote_id, invoice.status) == (
        "INV-2026-0002",
        quote.id,
        InvoiceStatus.OPEN,
    )


def test_a_failed_finalize_leaves_no_order_customer_invoice_or_email(session, make):
    make.invoice(make.account())  # INV-2026-0001
    key_id, _token = make_api_key(session)
    key = session.get(orders.ApiKey, key_id)
    _rewind_invoice_numbers(session, 1)
    before = _state(session)

    with pytest.raises(IntegrityError):
        orders.place_order(
            session, key=key, idempotency_key="so-1", unsafe_payload=ORDER, links=LINKS, now=NOW
        )

    assert _state(session) == before
    assert _count(session, Account, Account.external_id == "shop-9") == 0
    # The same request, once finalizing works again, makes the order as if for the first time.
    _rewind_invoice_numbers(session, 2)
    placed = orders.place_order(
        session, key=key, idempotency_key="so-1", unsafe_payload=ORDER, links=LINKS, now=NOW
    )
    assert placed.replayed is False
    assert (placed.invoice.number, placed.invoice.status) == ("INV-2026-0002", InvoiceStatus.OPEN)
    assert placed.invoice.sent_at is not None
    assert _count(session, Email, Email.template == "invoice") == 1
    assert _count(session, Order) == 1
