"""Every account's invoices: list with drafts and customer names, detail with the audit trail,
PDF download; and the payments pages."""

import io
import re
from datetime import date, timedelta

import pytest
from pypdf import PdfReader

from billing import audit
from billing.models import PaymentStatus
from billing.services import invoices as invoice_service
from tests.admin import sign_in_staff
from tests.factories import NOW


@pytest.fixture
def admin_client(client, make):
    sign_in_staff(client, make)
    return client


def test_list_shows_every_account_with_drafts_and_customer_names(admin_client, make):
    acme, globex = make.account(name="Acme Corp"), make.account(name="Globex")
    mine, theirs = make.invoice(acme), make.invoice(globex, paid_minor=37999)
    draft = make.invoice(acme, finalize=False)
    html = admin_client.get("/admin/invoices").get_data(as_text=True)
    for text in [mine.number, theirs.number, f"Draft {draft.id}", "Acme Corp", "Globex"]:
        assert text in html, text
    assert f'href="/admin/customers/{globex.id}"' in html


def test_status_filter_and_number_search(admin_client, make):
    account = make.account()
    open_invoice, paid = make.invoice(account), make.invoice(account, paid_minor=37999)
    draft = make.invoice(account, finalize=False)
    drafts = admin_client.get("/admin/invoices?status=draft").get_data(as_text=True)
    assert f"Draft {draft.id}" in drafts and open_invoice.number not in drafts
    html = admin_client.get("/admin/invoices?status=paid").get_data(as_text=True)
    assert paid.number in html and open_invoice.number not in html
    found = admin_client.get(f"/admin/invoices?q={open_invoice.number}").get_data(as_text=True)
    assert open_invoice.number in found and paid.number not in found
    none = admin_client.get("/admin/invoices?q=NOPE").get_data(as_text=True)
    assert "No matching invoices" in none
    assert admin_client.get("/admin/invoices?status=bogus&older=x").status_code == 200


def test_empty_state(admin_client):
    assert "No invoices yet" in admin_client.get("/admin/invoices").get_data(as_text=True)


def test_keyset_pages(admin_client, make):
    account = make.account()
    numbers = [
        make.invoice(account, issue_date=date(2026, 1, 1) + timedelta(days=n % 5)).number
        for n in range(27)
    ]
    seen, url = [], "/admin/invoices"
    while url:
        html = admin_client.get(url).get_data(as_text=True)
        seen += re.findall(r">(INV-2026-\d{4})<", html)
        older = re.search(r'href="(/admin/invoices\?older=[^"]+)"', html)
        url = older.group(1).replace("&amp;", "&") if older else None
    assert sorted(seen) == sorted(numbers)


def test_detail_shows_the_invoice_customer_and_audit_timeline(admin_client, make, session):
    staff = make.staff_user(name="Vera Voider")
    account = make.account(name="Acme Corp")
    invoice = make.invoice(account, paid_minor=10000, memo="Thanks!")
    other = make.invoice(account)
    invoice_service.mark_uncollectible(
        session, invoice_id=invoice.id, now=NOW + timedelta(days=1), actor=audit.actor_of(staff)
    )
    html = admin_client.get(f"/admin/invoices/{invoice.id}").get_data(as_text=True)
    for text in [
        invoice.number,
        "Consulting",
        "Support plan",
        "$379.99",
        "$100.00",
        "$279.99",
        "Check",
        "R-0000",
        "Thanks!",
        "Acme Corp",
        "Download PDF",
    ]:
        assert text in html, text
    assert f'href="/admin/customers/{account.id}"' in html
    assert f'href="/admin/invoices/{invoice.id}.pdf"' in html

    history = html[html.index('id="history"') :]
    # Newest first: uncollectible, payment applied, finalized, created.
    actions = re.findall(r"<code>(invoice\.[a-z_]+)</code>", history)
    assert actions == [
        "invoice.marked_uncollectible",
        "invoice.payment_applied",
        "invoice.finalized",
        "invoice.created",
    ]
    assert "Marked uncollectible" in history and "by Vera Voider (staff)" in history
    assert "by test" in history
    # before → after, money formatted, statuses labelled
    entries = history.split('<li class="timeline-entry">')[1:]
    assert "invoice.marked_uncollectible" in entries[0]
    assert re.search(r'class="before">Open</span>.*?class="after">Uncollectible<', entries[0], re.S)
    assert re.search(r'class="before">\$0\.00</span>.*?class="after">\$100\.00<', entries[1], re.S)
    # Only this invoice's entries.
    assert history.count("<code>invoice.created</code>") == 1
    assert other.number not in history


def test_quantities_and_tax_rates_are_plain_numbers(admin_client, make):
    invoice = make.invoice(lines=[("Hours", "10", 1000, "20"), ("Half", "0.5", 1000, "7.5")])
    html = admin_client.get(f"/admin/invoices/{invoice.id}").get_data(as_text=True)
    assert ">10</td>" in html and ">20%</td>" in html and ">0.5</td>" in html
    assert ">7.5%</td>" in html and "E+" not in html


def test_draft_detail_and_empty_payments(admin_client, make):
    draft = make.invoice(finalize=False)
    html = admin_client.get(f"/admin/invoices/{draft.id}").get_data(as_text=True)
    assert f"Invoice Draft {draft.id}" in html and "No payments yet." in html
    assert "Not yet (draft)" in html


def test_pdf_download_of_any_account_including_drafts(admin_client, make):
    invoice = make.invoice(make.account(name="Acme Corp"))
    response = admin_client.get(f"/admin/invoices/{invoice.id}.pdf")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(response.data)).pages)
    assert invoice.number in text and "Acme Corp" in text
    draft = make.invoice(finalize=False)
    assert admin_client.get(f"/admin/invoices/{draft.id}.pdf").status_code == 200


def test_payments_list_detail_and_receipt(admin_client, make, session):
    account = make.account(name="Acme Corp")
    invoice = make.invoice(account)
    payment = make.payment(invoice, 5000)
    listing = admin_client.get("/admin/payments").get_data(as_text=True)
    for text in [payment.receipt_number, "Acme Corp", invoice.number, "$50.00", "CHK-1001"]:
        assert text in listing, text
    detail = admin_client.get(f"/admin/payments/{payment.id}").get_data(as_text=True)
    for text in ["$50.00", "CHK-1001", "Acme Corp", invoice.number, "payment.recorded"]:
        assert text in detail, text
    assert f'href="/admin/invoices/{invoice.id}"' in detail
    pdf = admin_client.get(f"/admin/payments/{payment.id}/receipt.pdf")
    assert (
        pdf.status_code == 200
        and payment.receipt_number in PdfReader(io.BytesIO(pdf.data)).pages[0].extract_text()
    )


def test_a_failed_payment_has_no_receipt(admin_client, make, session):
    """Only money received has a receipt: a declined attempt is shown as attempted."""
    payment = make.payment(make.invoice(make.account()), 5000)
    payment.status, payment.failure_message = PaymentStatus.FAILED, "Your bank declined the card."
    session.commit()
    detail = admin_client.get(f"/admin/payments/{payment.id}").get_data(as_text=True)
    assert "Attempted " in detail and "Your bank declined the card." in detail
    assert "Download receipt" not in detail and "Received " not in detail
    assert admin_client.get(f"/admin/payments/{payment.id}/receipt.pdf").status_code == 404


def test_payments_empty_state(admin_client):
    assert "No payments yet" in admin_client.get("/admin/payments").get_data(as_text=True)


def test_no_editing_here(admin_client, make):
    invoice = make.invoice()
    assert admin_client.post(f"/admin/invoices/{invoice.id}").status_code in (400, 405)


def test_an_unpaid_invoice_shows_no_paid_line(admin_client, make):
    """Nothing paid yet: the totals end at the amount due, without a "Paid" row of $0.00."""
    invoice = make.invoice(make.account())
    html = admin_client.get(f"/admin/invoices/{invoice.id}").get_data(as_text=True)
    totals = html[html.index('aria-label="Totals"') :]
    assert "$379.99" in totals
    assert "\N{MINUS SIGN}$0.00" not in totals and "<td>Paid</td>" not in totals
