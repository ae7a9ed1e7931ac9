"""The portal invoice list's fast path: plain rows instead of whole invoices, a read-only
session without a transaction, per-page work done once. What the customer sees must not change."""

import re
from datetime import date, timedelta

import pytest
from flask import g
from sqlalchemy import update

from billing import queries
from billing.clock import utcnow
from billing.models import Invoice
from tests.helpers import record_statements, sign_in
from web.extensions import ReadOnlySession, db


@pytest.fixture
def acme(make):
    return make.account(name="Acme GmbH", currency="EUR", locale="de_DE")


@pytest.fixture
def signed_in(client, make, acme):
    sign_in(client, make.portal_user(acme).email)
    return client


def _every_kind(make, account):
    """One invoice of each thing the list shows differently."""
    return {
        "overdue": make.invoice(account, issue_date=date(2020, 1, 1)),
        "open": make.invoice(account, issue_date=date(2099, 1, 1)),
        "paid": make.invoice(account, paid_minor=37999),
        "part_paid": make.invoice(account, issue_date=date(2020, 2, 1), paid_minor=10000),
        "void": make.invoice(account, status="void"),
        "uncollectible": make.invoice(account, status="uncollectible"),
    }


def test_list_items_follow_the_same_rules_as_invoices(session, make, acme):
    made = _every_kind(make, acme)
    draft = make.invoice(acme, finalize=False)
    today = utcnow().date()
    items = {i.id: i for i in queries.invoice_list_page(session, account_id=acme.id).items}
    assert draft.id not in items
    for invoice in made.values():
        item = items[invoice.id]
        assert item.display_number == invoice.display_number
        assert item.is_overdue(today) == invoice.is_overdue(today)
        for name in queries.InvoiceListItem._fields:
            assert getattr(item, name) == getattr(invoice, name), name
    draft_item = queries.InvoiceListItem(draft.id, None, "draft", "EUR", today, today, 0, 0)
    assert draft_item.display_number == draft.display_number == f"Draft {draft.id}"


@pytest.mark.parametrize("status", [None, "open", "paid", "void", "uncollectible", "bogus"])
def test_list_pages_match_the_full_invoice_query(session, make, acme, status):
    """Same rows, order and cursors as invoice_page, for every filter, page by page."""
    for n in range(7):
        make.invoice(acme, issue_date=date(2026, 1, 1) + timedelta(days=n % 3))
    _every_kind(make, acme)
    make.invoice(make.account(), issue_date=date(2026, 1, 2))  # another account's
    for search in (None, "INV", "inv-2026-0", "nothing-matches", "%", "_", "/", "  "):
        older = newer = None
        for _ in range(20):
            kwargs = dict(account_id=acme.id, status=status, search=search, limit=3)
            full = queries.invoice_page(session, older=older, newer=newer, **kwargs)
            fast = queries.invoice_list_page(session, older=older, newer=newer, **kwargs)
            assert [i.id for i in fast.items] == [i.id for i in full.items]
            assert (fast.older, fast.newer) == (full.older, full.newer)
            if not full.older:
                break
            older = full.older
        if full.newer:  # and one step back
            back_full = queries.invoice_page(session, newer=full.newer, **kwargs)
            back_fast = queries.invoice_list_page(session, newer=full.newer, **kwargs)
            assert [i.id for i in back_fast.items] == [i.id for i in back_full.items]
            assert (back_fast.older, back_fast.newer) == (back_full.older, back_full.newer)


def test_the_page_shows_badges_overdue_marks_links_and_local_money(signed_in, make, acme):
    made = _every_kind(make, acme)
    html = signed_in.get("/invoices").get_data(as_text=True)
    rows = {
        number: row
        for row in re.findall(r"<tr>(.*?)</tr>", html, re.S)
        for number in re.findall(r">(INV-[\w-]+)</a>", row)
    }
    expected_badge = {
        "overdue": '<span class="badge badge-overdue">Overdue</span>',
        "part_paid": '<span class="badge badge-overdue">Overdue</span>',
        "open": '<span class="badge badge-open">Open</span>',
        "paid": '<span class="badge badge-paid">Paid</span>',
        "void": '<span class="badge badge-void">Void</span>',
        "uncollectible": '<span class="badge badge-uncollectible">Uncollectible</span>',
    }
    for kind, invoice in made.items():
        row = rows[invoice.number]
        assert f'href="/invoices/{invoice.id}"' in row, kind
        assert expected_badge[kind] in row, kind
        assert "379,99\xa0€" in row, kind  # the total, in the account's locale
    assert "—" in rows[made["void"].number]
    assert "279,99\xa0€" in rows[made["part_paid"].number]  # the amount due
    assert "01.01.2020" in rows[made["overdue"].number]  # de_DE medium date


def test_the_list_sends_two_statements_in_a_read_only_session(app, signed_in, make, acme):
    make.invoice(acme)
    signed_in.get("/invoices")  # the first page view settles the session cookie
    with record_statements(db.factory.kw["bind"]) as statements:
        assert signed_in.get("/invoices").status_code == 200
    # The user (with account and session check) and the list, in autocommit: no BEGIN. (The
    # PRAGMA is SQLite's isolation level put back as the connection returns to the pool.)
    statements = [s for s in statements if not s.startswith("PRAGMA read_uncommitted")]
    assert len(statements) == 2, statements
    assert "auth_sessions" in statements[0] and "FROM invoices" in statements[1]


def test_read_only_sessions_refuse_to_write(app, make, acme):
    invoice = make.invoice(acme)
    with app.test_request_context("/invoices"):
        app.preprocess_request()
        session = db.session
        assert isinstance(session, ReadOnlySession)
        with pytest.raises(RuntimeError, match="read-only"):
            session.execute(update(Invoice).where(Invoice.id == invoice.id).values(memo="x"))
        session.get(Invoice, invoice.id).memo = "changed"
        with pytest.raises(RuntimeError, match="read-only"):
            session.flush()
        session.rollback()
    for path, method in [("/invoices", "POST"), ("/payments", "GET"), ("/invoices/1", "GET")]:
        with app.test_request_context(path, method=method):
            assert not isinstance(db.session, ReadOnlySession), (path, method)
            g.pop("db_session").close()
