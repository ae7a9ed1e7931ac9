"""On PostgreSQL, two acceptances of one quote at the same moment: exactly one wins (the row is
locked and read afresh), the other is told it was already accepted; and a staff click racing
the auto-convert job makes one invoice."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select

from billing.errors import Conflict, InvalidTransition
from billing.models import AuditEntry, Invoice, QuoteConversion
from billing.services import quotes
from tests.conftest import POSTGRES_URL
from tests.factories import NOW
from tests.quote_helpers import make_quote

pytestmark = pytest.mark.skipif(
    not POSTGRES_URL, reason="row-lock races need PostgreSQL (set TEST_DATABASE_URL)"
)


def _at_once(app, calls) -> list:
    """Run each call(session) in its own thread and session, released together."""
    from web.extensions import db

    barrier = threading.Barrier(len(calls))
    outcomes: list = [None] * len(calls)

    def run(i, call):
        with db.factory() as own:
            barrier.wait()
            try:
                outcomes[i] = call(own)
            except Exception as exc:  # the outcome under test
                outcomes[i] = exc

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return outcomes


def test_a_quote_accepted_twice_at_once_is_accepted_once(app, session, make):
    quote = make_quote(session, make.account())

    def accept(name):
        return lambda own: quotes.accept_quote(
            own,
            quote_id=quote.id,
            account_id=None,
            unsafe_name=name,
            ip="192.0.2.1",
            now=NOW,
            actor="quote_link:1",
        )

    outcomes = _at_once(app, [accept("Ada"), accept("Grace"), accept("Alan")])
    refused = [o for o in outcomes if isinstance(o, InvalidTransition)]
    assert len(refused) == 2, outcomes
    assert (
        session.scalar(
            select(func.count())
            .select_from(AuditEntry)
            .where(AuditEntry.action == "quote.accepted")
        )
        == 1
    )


def test_racing_conversions_make_one_invoice(app, session, make):
    quote = make_quote(session, make.account())
    quotes.accept_quote(
        session,
        quote_id=quote.id,
        account_id=None,
        unsafe_name="Ada",
        ip="x",
        now=NOW,
        actor="a",
    )

    def convert(own):
        return quotes.convert_quote(
            own, quote_id=quote.id, mode=QuoteConversion.FINALIZE, now=NOW, actor="staff:1"
        )

    outcomes = _at_once(app, [convert, convert, convert])
    assert all(isinstance(o, Invoice | Conflict) for o in outcomes), outcomes
    assert session.scalar(select(func.count()).select_from(Invoice)) == 1
