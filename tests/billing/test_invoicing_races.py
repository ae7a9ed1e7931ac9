"""On PostgreSQL, staff acting at the same moment: drafts finalized at once get numbers that are
neither shared nor skipped (also for the first invoice of a new year, when the sequence row does
not exist yet), and credit notes issued at once never add up to more than the invoice."""

from __future__ import annotations

import threading
from datetime import date

import pytest
from sqlalchemy import func, select

from billing.errors import ValidationFailed
from billing.models import CreditNote, CreditNoteKind, Invoice, InvoiceStatus
from billing.services import credit_notes, invoices
from tests.conftest import POSTGRES_URL
from tests.factories import NOW

pytestmark = pytest.mark.skipif(
    not POSTGRES_URL, reason="row-lock races need PostgreSQL (set TEST_DATABASE_URL)"
)

THREADS = 8


def _at_once(calls) -> list:
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


def _finalize(invoice_id: int):
    return lambda own: (
        invoices.finalize_invoice(own, invoice_id=invoice_id, now=NOW, actor="staff:1").number
    )


@pytest.mark.parametrize("year", [2026, 2031])  # 2031: the sequence row is created in the race
def test_concurrent_finalizations_neither_share_nor_skip_a_number(app, session, make, year):
    account = make.account()
    rounds = 3
    numbers = []
    for _ in range(rounds):
        drafts = [
            make.invoice(account, finalize=False, issue_date=date(year, 3, 1))
            for _ in range(THREADS)
        ]
        outcomes = _at_once([_finalize(d.id) for d in drafts])
        assert all(isinstance(o, str) for o in outcomes), outcomes
        numbers += outcomes
    expected = [f"INV-{year}-{n:04d}" for n in range(1, rounds * THREADS + 1)]
    assert sorted(numbers) == expected
    stored = session.scalars(select(Invoice.number).where(Invoice.number.is_not(None))).all()
    assert sorted(stored) == expected


def test_the_same_draft_finalized_twice_at_once_is_numbered_once(app, session, make):
    draft = make.invoice(finalize=False)
    outcomes = _at_once([_finalize(draft.id) for _ in range(THREADS)])
    assert set(outcomes) == {"INV-2026-0001"}, outcomes
    assert make.invoice().number == "INV-2026-0002"


def test_concurrent_credit_notes_cannot_together_exceed_the_invoice(app, session, make):
    invoice = make.invoice()  # 379.99
    share = invoice.total_minor * 6 // 10  # each asks for 60%: only one can fit

    def credit(own):
        return credit_notes.issue_credit_note(
            own,
            None,
            invoice_id=invoice.id,
            kind=CreditNoteKind.AMOUNT,
            amount_minor=share,
            now=NOW,
            actor="staff:1",
        ).number

    outcomes = _at_once([credit] * THREADS)
    issued = [o for o in outcomes if isinstance(o, str)]
    refused = [o for o in outcomes if isinstance(o, ValidationFailed)]
    assert issued == ["CN-2026-0001"] and len(refused) == THREADS - 1, outcomes
    assert all("at most" in r.errors["amount"] for r in refused)
    session.expire_all()
    total = session.scalar(
        select(func.sum(CreditNote.amount_minor)).where(CreditNote.invoice_id == invoice.id)
    )
    fresh = session.get(Invoice, invoice.id)
    assert total == share == fresh.amount_credited_minor
    assert fresh.amount_due_minor == fresh.total_minor - share


def test_concurrent_small_credit_notes_fill_the_invoice_exactly(app, session, make):
    invoice = make.invoice(lines=[("Hours", "1", 10000, "0")])  # 100.00

    def credit(own):
        return credit_notes.issue_credit_note(
            own,
            None,
            invoice_id=invoice.id,
            kind=CreditNoteKind.AMOUNT,
            amount_minor=3000,
            now=NOW,
            actor="staff:1",
        ).number

    outcomes = _at_once([credit] * THREADS)
    issued = sorted(o for o in outcomes if isinstance(o, str))
    assert issued == ["CN-2026-0001", "CN-2026-0002", "CN-2026-0003"], outcomes
    session.expire_all()
    fresh = session.get(Invoice, invoice.id)
    assert (fresh.amount_credited_minor, fresh.amount_due_minor) == (9000, 1000)
    assert fresh.status == InvoiceStatus.OPEN
