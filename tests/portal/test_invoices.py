"""The portal's invoice and payment pages: what a customer sees, and what they never see."""

import io
import re
from datetime import date, timedelta

import pytest
from pypdf import PdfReader

from tests.helpers import sign_in


@pytest.fixture
def acme(make):
    user = make.portal_user(make.account(name="Acme Corp"))
    return user


@pytest.fixture
def signed_in(client, acme):
    sign_in(client, acme.email)
    return client


def test_other_accounts_records_answer_404(signed_in, make):
    globex = make.account(name="Globex")
    theirs = make.invoice(globex)
    payment_id = make.payment(theirs, 1000).id
    for path in [
        f"/invoices/{theirs.id}",
        f"/invoices/{theirs.id}.pdf",
        f"/payments/{payment_id}",
        f"/payments/{payment_id}/receipt.pdf",
        "/invoices/999999",
    ]:
        response = signed_in.get(path)
        assert response.status_code == 404, path
        assert theirs.number not in response.get_data(as_text=True)
    listing = signed_in.get("/invoices").get_data(as_text=True)
    assert theirs.number not in listing and "Globex" not in listing


def test_drafts_are_never_shown_to_customers(signed_in, acme, make):
    draft = make.invoice(acme.account, finalize=False)
    assert signed_in.get(f"/invoices/{draft.id}").status_code == 404
    assert f"Draft {draft.id}" not in signed_in.get("/invoices").get_data(as_text=True)


def test_invoice_page_shows_lines_payments_and_amount_due(signed_in, acme, make):
    invoice = make.invoice(acme.account, paid_minor=10000)
    html = signed_in.get(f"/invoices/{invoice.id}").get_data(as_text=True)
    for text in ["Consulting", "Support plan", "$379.99", "$100.00", "$279.99", "Check", "R-0000"]:
        assert text in html


def test_money_is_formatted_for_the_accounts_locale(client, make):
    account = make.account(name="Initech GmbH", currency="EUR", locale="de_DE")
    user = make.portal_user(account)
    invoice = make.invoice(account, lines=[("Beratung", "1", 123450, "0")])
    sign_in(client, user.email)
    html = client.get(f"/invoices/{invoice.id}").get_data(as_text=True)
    assert "1.234,50\xa0€" in html


def test_pdf_download(signed_in, acme, make):
    invoice = make.invoice(acme.account)
    response = signed_in.get(f"/invoices/{invoice.id}.pdf")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(response.data)).pages)
    assert invoice.number in text and "Acme Corp" in text and "Consulting" in text


def test_status_filter_and_number_search(signed_in, acme, make):
    open_invoice = make.invoice(acme.account)
    paid_invoice = make.invoice(acme.account, paid_minor=37999)
    paid = signed_in.get("/invoices?status=paid").get_data(as_text=True)
    assert paid_invoice.number in paid and open_invoice.number not in paid
    found = signed_in.get(f"/invoices?q={open_invoice.number[-4:]}").get_data(as_text=True)
    assert open_invoice.number in found and paid_invoice.number not in found
    # Unknown filter values are ignored rather than failing.
    assert signed_in.get("/invoices?status=bogus&older=not-a-cursor").status_code == 200


def test_keyset_pages_walk_every_invoice_once(signed_in, acme, make):
    numbers = [
        make.invoice(acme.account, issue_date=date(2026, 1, 1) + timedelta(days=n % 7)).number
        for n in range(30)
    ]
    seen, url = [], "/invoices"
    while url:
        html = signed_in.get(url).get_data(as_text=True)
        seen += re.findall(r">(INV-2026-\d{4})<", html)
        older = re.search(r'href="(/invoices\?older=[^"]+)"', html)
        url = older.group(1).replace("&amp;", "&") if older else None
    assert sorted(seen) == sorted(numbers) and len(seen) == 30
    # And back: the second page links to the newer page, which is the first page again.
    first = signed_in.get("/invoices").get_data(as_text=True)
    second_url = re.search(r'href="(/invoices\?older=[^"]+)"', first).group(1)
    second = signed_in.get(second_url.replace("&amp;", "&")).get_data(as_text=True)
    newer_url = re.search(r'href="(/invoices\?newer=[^"]+)"', second).group(1)
    again = signed_in.get(newer_url.replace("&amp;", "&")).get_data(as_text=True)
    assert re.findall(r">(INV-2026-\d{4})<", again) == re.findall(r">(INV-2026-\d{4})<", first)


def test_home_summary(signed_in, acme, make):
    make.invoice(acme.account, issue_date=date(2020, 1, 1))  # long overdue
    make.invoice(acme.account, issue_date=date(2099, 1, 1))  # due in the future
    make.invoice(acme.account, paid_minor=37999)
    html = signed_in.get("/").get_data(as_text=True)
    assert "$759.98" in html  # two unpaid invoices of $379.99
    assert "Jan 31, 2099" in html  # next due date


def test_empty_states(signed_in):
    assert "No invoices yet" in signed_in.get("/invoices").get_data(as_text=True)
    assert "No payments yet" in signed_in.get("/payments").get_data(as_text=True)
    assert "Nothing due" in signed_in.get("/").get_data(as_text=True)


def test_payments_and_receipts(signed_in, acme, make, session):
    invoice = make.invoice(acme.account)
    payment = make.payment(invoice, 5000)
    listing = signed_in.get("/payments").get_data(as_text=True)
    assert payment.receipt_number in listing and invoice.number in listing
    receipt = signed_in.get(f"/payments/{payment.id}").get_data(as_text=True)
    assert "$50.00" in receipt and "CHK-1001" in receipt
    pdf = signed_in.get(f"/payments/{payment.id}/receipt.pdf")
    text = PdfReader(io.BytesIO(pdf.data)).pages[0].extract_text()
    assert payment.receipt_number in text and invoice.number in text


def test_health(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json == {"status": "ok", "database": "ok", "queue": "inline"}


@pytest.mark.parametrize("settings_overrides", [{"redis_url": "redis://127.0.0.1:9/0"}])
def test_health_reports_an_unreachable_queue(client):
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json["queue"].startswith("error")


def test_security_headers(client):
    headers = client.get("/login").headers
    assert "script-src 'self'" in headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["Cache-Control"] == "no-store"


def test_a_void_invoice_is_not_shown_as_owed(signed_in, acme, make):
    void = make.invoice(acme.account, status="void")
    page = signed_in.get(f"/invoices/{void.id}").get_data(as_text=True)
    assert "Nothing (void)" in page and "$379.99" in page  # the total is still shown
    row = signed_in.get("/invoices").get_data(as_text=True)
    assert "—" in row
    assert "Nothing due" in signed_in.get("/").get_data(as_text=True)
