"""The public pay link page /pay/<token>: shows without signing in, GET changes nothing, POST
pays (3-D Secure too), scoped to its one invoice, rate-limited for unknown tokens."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from billing.clock import utcnow
from billing.models import AuthAttempt, Invoice, Payment, SavedCard
from billing.services import pay_links
from tests.factories import NOW
from tests.helpers import csrf_token, post_form
from tests.localstripe_fixture import stripe_overrides
from tests.payments_helpers import (
    CARD_3DS,
    CARD_DECLINES,
    CARD_OK,
    authenticate,
    charges_for,
    confirm_card_setup,
)


@pytest.fixture
def settings_overrides(localstripe):
    return stripe_overrides(localstripe.base_url)


@pytest.fixture
def link(session, make, settings):
    invoice = make.invoice(issue_date=utcnow().date())  # its pay link is alive by the real clock
    url = pay_links.pay_link_url(
        session, invoice=invoice, secret=settings.secret_key, base_url=settings.base_url, now=NOW
    )
    session.commit()
    return invoice, url.removeprefix(settings.base_url)


def one_time_card(client, localstripe, path: str, number: str) -> str:
    token = csrf_token(client, path)
    response = client.post(f"{path}/setup", headers={"X-CSRFToken": token})
    assert response.status_code == 200, response.get_data(as_text=True)
    status, body = confirm_card_setup(localstripe.base_url, response.json["client_secret"], number)
    assert status == 200, body
    return body["id"]


def test_the_page_shows_the_invoice_and_its_pdf_and_changes_nothing(client, session, link):
    invoice, path = link
    before = session.scalar(select(func.count()).select_from(AuthAttempt))
    page = client.get(path)
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert invoice.number in html and "Pay by card" in html
    assert 'href="/invoices' not in html and "Sign out" not in html  # nothing of the account
    # The same lines and totals as the portal: subtotal, the tax, the total (not lines alone).
    assert "<td>Subtotal</td>" in html and "$349.99" in html and "$30.00" in html
    pdf = client.get(f"{path}/invoice.pdf")
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")
    assert (
        session.scalar(select(func.count()).select_from(Payment).where(Payment.method == "card"))
        == 0
    )
    assert session.scalar(select(func.count()).select_from(AuthAttempt)) == before


def test_paying_through_the_link(client, session, link, localstripe):
    invoice, path = link
    seti = one_time_card(client, localstripe, path, CARD_OK)
    token = csrf_token(client, path)  # a second tab still showing the form
    response = post_form(client, path, {"setup_intent_id": seti})
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Thank you" in page and "This invoice is paid" in page
    session.refresh(invoice)
    payment = session.scalar(select(Payment).where(Payment.method == "card"))
    assert invoice.status == "paid" and len(charges_for(localstripe.base_url, payment.id)) == 1
    assert session.scalar(select(func.count()).select_from(SavedCard)) == 0  # one-time card
    # Once paid, the link takes no more money (the form in the other tab is refused).
    again = client.post(path, data={"csrf_token": token, "setup_intent_id": seti})
    assert again.status_code == 409
    assert "not open for payment" in again.get_data(as_text=True)
    assert len(charges_for(localstripe.base_url, payment.id)) == 1


def test_a_partial_payment_and_a_decline_through_the_link(client, session, link, localstripe):
    invoice, path = link
    seti = one_time_card(client, localstripe, path, CARD_DECLINES)
    declined = post_form(client, path, {"setup_intent_id": seti, "amount": "20.00"})
    assert declined.status_code == 402
    assert "Your bank declined the card." in declined.get_data(as_text=True)
    seti = one_time_card(client, localstripe, path, CARD_OK)
    paid = post_form(client, path, {"setup_intent_id": seti, "amount": "20.00"})
    assert paid.status_code == 302
    session.refresh(invoice)
    assert (invoice.status, invoice.amount_paid_minor) == ("open", 2000)


def test_three_d_secure_through_the_link(client, session, link, localstripe):
    invoice, path = link
    seti = one_time_card(client, localstripe, path, CARD_3DS)
    response = post_form(client, path, {"setup_intent_id": seti})
    location = response.headers["Location"]
    assert re.search(r"/payments/\d+/authenticate$", location)
    secret = re.search(r'data-client-secret="([^"]+)"', client.get(location).get_data(as_text=True))
    authenticate(localstripe.base_url, secret.group(1))
    done = post_form(client, location.replace("/authenticate", "/confirm"), {}, form_path=location)
    assert done.status_code == 302
    session.refresh(invoice)
    assert invoice.status == "paid"


def test_a_setup_made_for_another_invoice_cannot_be_charged_here(
    client, session, make, settings, link, localstripe
):
    invoice, path = link
    other = make.invoice(issue_date=utcnow().date())
    other_path = pay_links.pay_link_url(
        session, invoice=other, secret=settings.secret_key, base_url="", now=NOW
    )
    session.commit()
    seti = one_time_card(client, localstripe, other_path, CARD_OK)
    response = post_form(client, path, {"setup_intent_id": seti})
    assert response.status_code == 422
    assert (
        session.scalar(select(func.count()).select_from(Payment).where(Payment.method == "card"))
        == 0
    )
    session.refresh(invoice)
    assert invoice.amount_paid_minor == 0


def test_unknown_revoked_and_replaced_links_fail_and_are_rate_limited(
    client, session, link, settings
):
    invoice, path = link
    pay_links.revoke_pay_link(session, invoice_id=invoice.id, now=NOW, actor="staff:1")
    assert client.get(path).status_code == 410
    for _ in range(4):  # with the revoked one, five failures from this IP
        assert client.get("/pay/not-a-real-token").status_code == 410
    assert client.get("/pay/another-guess").status_code == 429
    assert client.post("/pay/another-guess/setup").status_code in (400, 429)


def test_a_paid_invoice_shows_as_paid_without_a_form(client, session, make, settings):
    invoice = make.invoice(issue_date=utcnow().date())  # its pay link is alive by the real clock
    make.payment(invoice)
    url = pay_links.pay_link_url(
        session,
        invoice=session.get(Invoice, invoice.id),
        secret=settings.secret_key,
        base_url="",
        now=NOW,
    )
    session.commit()
    html = client.get(url).get_data(as_text=True)
    assert "This invoice is paid" in html and "Pay by card" not in html
