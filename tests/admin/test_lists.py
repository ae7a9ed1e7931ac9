"""The admin's lists: filters (status, customer, date range, currency), search by number or
name, sorts, keyset pages both ways, CSV exports of exactly what the filter shows (money as
plain decimals next to a currency), and the global audit log."""

import csv
import io
import re
from datetime import date, timedelta

import pytest

from billing.clock import utcnow
from billing.models import CreditNoteKind
from billing.services import credit_notes
from tests.admin import sign_in_staff
from tests.factories import NOW
from tests.quote_helpers import make_quote


@pytest.fixture
def admin_client(client, make):
    sign_in_staff(client, make)
    return client


def rows_of(response) -> list[dict]:
    with response:  # closing a streamed response ends its request, as a server would
        assert response.mimetype == "text/csv"
        assert "attachment" in response.headers["Content-Disposition"]
        text = response.get_data(as_text=True).lstrip("\ufeff")
    return list(csv.DictReader(io.StringIO(text)))


def numbers_on(html: str, pattern=r">(INV-\d{4}-\d{4}|Draft \d+)<") -> list[str]:
    return re.findall(pattern, html)


@pytest.fixture
def book(make):
    acme = make.account(name="Acme Corp")
    euro = make.account(name="=cmd Euro GmbH", currency="EUR")
    invoices = {
        "old": make.invoice(acme, issue_date=date(2026, 1, 10), lines=[("A", "1", 10000, "0")]),
        "paid": make.invoice(acme, issue_date=date(2026, 6, 1), paid_minor=37999),
        "euro": make.invoice(euro, issue_date=date(2026, 6, 15), lines=[("B", "1", 123450, "0")]),
        "draft": make.invoice(acme, finalize=False, issue_date=date(2026, 7, 1)),
    }
    return acme, euro, invoices


def test_invoice_filters_search_and_sort(admin_client, book):
    _acme, euro, inv = book

    def shown(query):
        return numbers_on(admin_client.get(f"/admin/invoices?{query}").get_data(as_text=True))

    assert shown("status=paid") == [inv["paid"].number]
    assert shown("status=draft") == [f"Draft {inv['draft'].id}"]
    assert shown("status=overdue") == [inv["euro"].number, inv["old"].number]  # open, past due
    assert shown(f"customer={euro.id}") == [inv["euro"].number]
    assert shown("currency=eur") == [inv["euro"].number]
    assert shown("from=2026-06-01&to=2026-06-30") == [inv["euro"].number, inv["paid"].number]
    assert shown("q=euro") == [inv["euro"].number]  # by customer name
    assert shown(f"q={inv['old'].number}") == [inv["old"].number]
    assert shown("sort=total")[0] == inv["euro"].number
    assert shown("sort=oldest")[0] == inv["old"].number
    bad = admin_client.get("/admin/invoices?from=yesterday&to=2026-13-01&status=x&sort=y")
    assert bad.status_code == 200 and "Use a date like 2026-11-30" in bad.get_data(as_text=True)
    none = admin_client.get("/admin/invoices?q=nothing-like-this").get_data(as_text=True)
    assert "No matching invoices" in none


def test_invoice_csv_is_exactly_the_filtered_rows(admin_client, book):
    acme, _euro, inv = book
    rows = rows_of(admin_client.get(f"/admin/invoices.csv?customer={acme.id}&sort=oldest"))
    assert [r["number"] for r in rows] == [
        inv["old"].number, inv["paid"].number, f"Draft {inv['draft'].id}",
    ]  # fmt: skip
    paid = rows[1]
    assert (paid["currency"], paid["total"], paid["paid"], paid["amount_due"]) == (
        "USD",
        "379.99",
        "379.99",
        "0.00",
    )
    euro = rows_of(admin_client.get("/admin/invoices.csv?currency=EUR"))
    assert euro[0]["customer"] == "'=cmd Euro GmbH"  # never run as a spreadsheet formula
    assert euro[0]["total"] == "1234.50"


def test_sorted_keyset_pages_walk_everything_once_both_ways(admin_client, make):
    account = make.account()
    for n in range(30):
        make.invoice(account, issue_date=date(2026, 1, 1) + timedelta(days=n % 7),
                     lines=[("X", "1", 1000 + (n % 4) * 100, "0")])  # fmt: skip
    for sort in ["newest", "oldest", "total", "due"]:
        seen, url, pages = [], f"/admin/invoices?sort={sort}", []
        while url:
            html = admin_client.get(url).get_data(as_text=True)
            pages.append(html)
            seen += numbers_on(html)
            link = re.search(r'rel="next" href="([^"]+)"', html)
            url = link.group(1).replace("&amp;", "&") if link else None
        assert len(seen) == 30 and len(set(seen)) == 30, sort
        back = re.search(r'rel="prev" href="([^"]+)"', pages[-1]).group(1).replace("&amp;", "&")
        assert numbers_on(admin_client.get(back).get_data(as_text=True)) == numbers_on(pages[0])


def test_credit_note_list_and_csv(admin_client, make, session, book):
    _acme, _euro, inv = book
    credit_notes.issue_credit_note(
        session, None, invoice_id=inv["old"].id, kind=CreditNoteKind.AMOUNT, amount_minor=2500,
        reason="Goodwill", now=NOW, actor="t",
    )  # fmt: skip
    html = admin_client.get("/admin/credit-notes").get_data(as_text=True)
    assert "CN-2026-0001" in html and inv["old"].number in html and "Acme Corp" in html
    assert "CN-2026-0001" not in admin_client.get("/admin/credit-notes?q=globex").get_data(
        as_text=True
    )
    [row] = rows_of(admin_client.get("/admin/credit-notes.csv?q=acme"))
    assert (row["number"], row["amount"], row["applied_to_amount_due"], row["reason"]) == (
        "CN-2026-0001",
        "25.00",
        "25.00",
        "Goodwill",
    )
    assert "No credit notes yet" not in html


def test_payment_filters_and_csv(admin_client, make, book):
    acme, euro, inv = book
    html = admin_client.get(f"/admin/payments?customer={acme.id}").get_data(as_text=True)
    assert "R-0000" in html and "$379.99" in html
    empty = admin_client.get(f"/admin/payments?customer={euro.id}").get_data(as_text=True)
    assert "No matching payments" in empty
    [row] = rows_of(admin_client.get(f"/admin/payments.csv?q={inv['paid'].number}"))
    assert (row["amount"], row["currency"], row["invoices"], row["method"]) == (
        "379.99",
        "USD",
        inv["paid"].number,
        "check",
    )


def test_customer_filters_and_csv(admin_client, make, book):
    make.account(name="Idle Co")

    def names(query):
        html = admin_client.get(f"/admin/customers?{query}").get_data(as_text=True)
        return re.findall(r'/admin/customers/\d+">([^<]+)</a>', html)

    assert sorted(names("status=owing")) == ["=cmd Euro GmbH", "Acme Corp"]
    assert names("status=settled") == ["Idle Co"]
    assert names("currency=EUR") == ["=cmd Euro GmbH"]
    assert names("sort=name_desc")[0] == "Idle Co"
    rows = rows_of(admin_client.get("/admin/customers.csv?q=acme"))
    assert [(r["name"], r["outstanding_currency"], r["outstanding"]) for r in rows] == [
        ("Acme Corp", "USD", "100.00")
    ]


def test_global_audit_log_filters(admin_client, make, book):
    _acme, _euro, inv = book
    html = admin_client.get("/admin/audit?action=invoice.final").get_data(as_text=True)
    assert "invoice.finalized" in html and "invoice.created" not in html
    one = admin_client.get(
        f"/admin/audit?subject_type=invoices&subject_id={inv['paid'].id}"
    ).get_data(as_text=True)
    assert one.count("<code>invoice.") == 3  # created, finalized, payment applied
    assert f'href="/admin/invoices/{inv["paid"].id}"' in one and "$379.99" in one
    assert "No matching entries" in admin_client.get("/admin/audit?actor=nobody").get_data(
        as_text=True
    )
    ranged = admin_client.get("/admin/audit?from=2030-01-01").get_data(as_text=True)
    assert "No matching entries" in ranged
    assert admin_client.get("/admin/audit?from=bad&subject_id=x").status_code == 200


def test_quote_filters_sort_and_csv(admin_client, make, session):
    """Quotes filter by customer, currency, dates and status (a sent quote past its last day
    counts as expired), sort, and export exactly the filtered rows."""
    acme = make.account(name="Acme Corp")
    euro = make.account(name="Euro GmbH", currency="EUR")
    today = utcnow().date()
    lapsed = make_quote(session, acme, valid_days=10, now=utcnow() - timedelta(days=40))
    fresh = make_quote(session, acme, issue_date=today)
    european = make_quote(session, euro, issue_date=today - timedelta(days=1))
    draft = make_quote(session, acme, send=False, issue_date=today - timedelta(days=2))

    def listed(query: str) -> list[str]:
        html = admin_client.get(f"/admin/quotes?{query}").get_data(as_text=True)
        return re.findall(r">(Q-\d{4}-\d{4}|Draft quote \d+)<", html)

    assert listed("") == [
        fresh.number, european.number, draft.display_number, lapsed.number
    ]  # fmt: skip
    assert listed(f"customer={euro.id}") == [european.number]
    assert listed("currency=EUR") == [european.number]
    assert listed("status=expired") == [lapsed.number]
    assert listed("status=sent") == [fresh.number, european.number]
    assert listed(f"from={(today - timedelta(days=2)).isoformat()}&sort=oldest") == [
        draft.display_number, european.number, fresh.number
    ]  # fmt: skip
    assert listed("q=euro") == [european.number]
    assert admin_client.get("/admin/quotes?from=garbage&status=nope").status_code == 200

    rows = rows_of(admin_client.get(f"/admin/quotes.csv?customer={acme.id}&sort=oldest"))
    assert [r["number"] for r in rows] == [lapsed.number, draft.display_number, fresh.number]
    assert rows[0]["status"] == "expired" and rows[0]["currency"] == "USD"
    assert rows[2]["total"] == format(fresh.total_minor / 100, ".2f")
