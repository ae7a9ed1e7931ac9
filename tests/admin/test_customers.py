"""The customer list (balances per currency, search, keyset pages) and one customer's page."""

import re
from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import event

from billing import admin_queries
from billing.clock import utcnow
from billing.models import PortalRole
from billing.services import invoices as invoice_service
from tests.admin import sign_in_staff
from tests.factories import NOW


@pytest.fixture
def admin_client(client, make):
    sign_in_staff(client, make)
    return client


def row_of(html: str, name: str) -> str:
    """The table row (<tr>…</tr>) that links to customer `name`."""
    for row in re.findall(r"<tr>.*?</tr>", html, re.S):
        if f">{name}</a>" in row:
            return row
    raise AssertionError(f"no row for {name}")


def test_outstanding_amounts_per_currency_and_open_counts(admin_client, make):
    # The page counts "overdue" against the real date, so the invoices that must not be overdue
    # are issued today.
    today = utcnow().date()
    acme = make.account(name="Acme Corp")
    make.invoice(acme, issue_date=today)  # $379.99 open
    make.invoice(acme, issue_date=today, paid_minor=10000)  # $279.99 still due
    make.invoice(acme, issue_date=today, paid_minor=37999)  # paid: not outstanding
    make.invoice(acme, issue_date=today, status="void")  # void: not outstanding
    make.invoice(acme, issue_date=today, finalize=False)  # draft: not outstanding
    make.invoice(acme, lines=[("Hosting", "1", 5000, "0")], issue_date=date(2020, 1, 1))
    euro = make.account(name="Euro GmbH", currency="EUR")
    make.invoice(euro, lines=[("Beratung", "1", 123450, "0")], status="uncollectible")
    make.account(name="Zeta Idle")

    html = admin_client.get("/admin/customers").get_data(as_text=True)
    acme_row = row_of(html, "Acme Corp")
    assert "$709.98" in acme_row  # 379.99 + 279.99 + 50.00
    assert ">3 <span" in acme_row and "1 overdue" in acme_row
    euro_row = row_of(html, "Euro GmbH")
    assert "€1,234.50" in euro_row and ">1</td>" in euro_row
    assert "Nothing due" in row_of(html, "Zeta Idle")
    assert acme.billing_email in acme_row and "USD" in acme_row
    # Alphabetical.
    assert html.index("Acme Corp") < html.index("Euro GmbH") < html.index("Zeta Idle")


def test_balances_in_two_currencies_are_listed_separately(admin_client, make):
    today = utcnow().date()  # not overdue by the real date the page counts against
    account = make.account(name="Two Currency Co")
    make.invoice(account, lines=[("A", "1", 1000, "0")], issue_date=today)
    euro = invoice_service.create_draft(
        make.session,
        account=account,
        currency="EUR",
        lines=[invoice_service.DraftLine("B", Decimal(1), 2000)],
        issue_date=today,
        due_date=today + timedelta(days=30),
        now=NOW,
        actor="test",
    )
    row = row_of(admin_client.get("/admin/customers").get_data(as_text=True), "Two Currency Co")
    assert "$10.00" in row and "€" not in row  # a draft owes nothing yet
    invoice_service.finalize_invoice(make.session, invoice_id=euro.id, now=NOW, actor="test")
    row = row_of(admin_client.get("/admin/customers").get_data(as_text=True), "Two Currency Co")
    assert "$10.00" in row and "€20.00" in row and ">2</td>" in row


def test_the_list_costs_two_queries_whatever_the_page_size(make, session):
    def count_queries(n_accounts: int) -> int:
        for _ in range(n_accounts):
            make.invoice(make.account())
        statements = []

        def listener(conn, cursor, statement, *args):
            statements.append(statement)

        engine = session.get_bind()
        event.listen(engine, "before_cursor_execute", listener)
        try:
            page = admin_queries.customer_page(session, today=NOW.date())
            _ = [(row.account.name, row.balances, row.unpaid_count) for row in page.items]
        finally:
            event.remove(engine, "before_cursor_execute", listener)
        return len(statements)

    assert count_queries(2) == 2
    assert count_queries(10) == 2


def test_search_by_name(admin_client, make):
    make.account(name="Acme Corp")
    make.account(name="Globex")
    make.account(name="100% Natural")
    html = admin_client.get("/admin/customers?q=acme").get_data(as_text=True)
    assert "Acme Corp" in html and "Globex" not in html
    html = admin_client.get("/admin/customers?q=%25").get_data(as_text=True)  # a literal %
    assert "100% Natural" in html and "Acme Corp" not in html
    empty = admin_client.get("/admin/customers?q=nobody").get_data(as_text=True)
    assert "No customer matches" in empty and "Show all customers" in empty


def test_empty_state(admin_client):
    assert "No customers yet" in admin_client.get("/admin/customers").get_data(as_text=True)


def test_keyset_pages_walk_every_customer_once_and_back(admin_client, make):
    names = [f"Customer {chr(65 + n % 26)}{n:02d}" for n in range(30)]
    names += ["Same Name", "Same Name"]  # ties are broken by id
    for name in names:
        make.account(name=name)
    seen, url, pages = [], "/admin/customers", []
    while url:
        html = admin_client.get(url).get_data(as_text=True)
        pages.append(html)
        seen += re.findall(r'/admin/customers/\d+">([^<]+)</a>', html)
        link = re.search(r'href="(/admin/customers\?after=[^"]+)"', html)
        url = link.group(1).replace("&amp;", "&") if link else None
    assert sorted(seen) == sorted(names) and len(pages) == 2
    assert seen == sorted(seen)
    back = re.search(r'href="(/admin/customers\?before=[^"]+)"', pages[1]).group(1)
    again = admin_client.get(back.replace("&amp;", "&")).get_data(as_text=True)
    assert again.count("/admin/customers/") == pages[0].count("/admin/customers/")
    assert "← Previous" not in again
    # A malformed cursor is ignored.
    assert admin_client.get("/admin/customers?after=!!notacursor").status_code == 200


def test_customer_page_shows_details_users_invoices_and_payments(admin_client, make, session):
    account = make.account(name="Acme Corp", tax_id="US-99", address="1 Road\nTown")
    owner = make.portal_user(account, name="Olive Owner", role=PortalRole.OWNER)
    viewer = make.portal_user(account, name="Vic Viewer", role=PortalRole.VIEWER)
    owner.last_login_at = NOW
    session.commit()
    invoice = make.invoice(account)
    draft = make.invoice(account, finalize=False)
    payment = make.payment(invoice, 5000)

    html = admin_client.get(f"/admin/customers/{account.id}").get_data(as_text=True)
    for text in [
        "Acme Corp",
        account.billing_email,
        "US-99",
        "1 Road\nTown",
        "Olive Owner",
        owner.email,
        "Owner",
        "Last signed in Nov 20, 2026",
        "Vic Viewer",
        viewer.email,
        "Viewer",
        "Never signed in",
        invoice.number,
        f"Draft {draft.id}",
        payment.receipt_number,
        "$329.99",
    ]:
        assert text in html, text
    assert f'href="/admin/invoices/{invoice.id}"' in html
    assert f'href="/admin/payments/{payment.id}"' in html


def test_customer_page_empty_states(admin_client, make):
    account = make.account(name="Brand New")
    html = admin_client.get(f"/admin/customers/{account.id}").get_data(as_text=True)
    assert "No invoices yet" in html and "No payments yet" in html
    assert "Nobody from this customer can sign in" in html
