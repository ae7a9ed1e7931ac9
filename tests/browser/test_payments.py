"""Paying in a real browser with Stripe.js (localstripe's fake): a new card in the portal, a pay
link without signing in, 3-D Secure in the bank's window, and a declined card's message."""

from __future__ import annotations

import re

import pytest

pytest.importorskip("playwright.sync_api", reason="browser tests skipped: playwright missing")

from playwright.sync_api import expect
from sqlalchemy import select

from billing.models import Invoice, Payment, PaymentStatus
from billing.services import pay_links
from tests.factories import NOW
from tests.localstripe_fixture import stripe_overrides
from tests.payments_helpers import CARD_3DS, CARD_DECLINES, CARD_OK, charges_for


@pytest.fixture
def settings_overrides(live_port, smtp, localstripe):
    return {"base_url": f"http://127.0.0.1:{live_port}", "smtp_url": smtp[0]} | stripe_overrides(
        localstripe.base_url
    )


def type_card(page, number: str) -> None:
    """Type into the card element as a person would (localstripe's fake element)."""
    element = page.locator("#card-element")
    element.locator("input[placeholder=number]").type(number)
    element.locator("input[placeholder=exp_month]").type("12")
    element.locator("input[placeholder=exp_year]").type("30")
    element.locator("input[placeholder=cvc]").type("123")
    element.locator("input[placeholder=postal_code]").type("10001")


def paid(session, invoice_id: int) -> Invoice:
    session.expire_all()
    return session.get(Invoice, invoice_id)


def test_pay_an_invoice_in_the_portal_with_a_new_card(
    page, make, session, sign_in_with_password, shot, localstripe, mailbox
):
    account = make.account(name="Acme Corp")
    user = make.portal_user(account)
    invoice = make.invoice(account)
    sign_in_with_password(user.email)

    page.goto(f"/invoices/{invoice.id}")
    page.get_by_role("link", name="Pay now").click()
    page.wait_for_url(re.compile(r"/invoices/pay\?invoice="))
    expect(page.get_by_role("checkbox", name=invoice.number)).to_be_checked()
    expect(page.get_by_role("radio", name=re.compile("A new card"))).to_be_checked()
    type_card(page, CARD_OK)
    shot("form")
    page.get_by_role("button", name="Pay now").click()
    page.wait_for_url(re.compile(r"/payments/\d+$"))
    expect(page.get_by_role("status").or_(page.locator(".flash-success"))).to_contain_text(
        "Thank you"
    )
    shot("paid")
    assert paid(session, invoice.id).status == "paid"
    payment = session.scalar(select(Payment).where(Payment.method == "card"))
    assert len(charges_for(localstripe.base_url, payment.id)) == 1

    page.goto("/cards")
    expect(page.get_by_role("cell", name="Visa ending 4242")).to_be_visible()
    shot("cards")


def test_pay_through_a_pay_link_without_signing_in(page, make, session, settings, shot):
    invoice = make.invoice(make.account(name="Globex"))
    url = pay_links.pay_link_url(
        session, invoice=invoice, secret=settings.secret_key, base_url=settings.base_url, now=NOW
    )
    session.commit()
    page.goto(url)
    expect(page.get_by_role("heading", level=1)).to_contain_text(invoice.number)
    expect(page.get_by_role("link", name="Download PDF")).to_be_visible()
    shot("page")
    type_card(page, CARD_OK)
    page.get_by_role("button", name=re.compile("^Pay")).click()
    expect(page.get_by_text("This invoice is paid")).to_be_visible()
    expect(page.locator(".flash-success")).to_contain_text("Thank you")
    shot("paid")
    assert paid(session, invoice.id).status == "paid"


def test_complete_three_d_secure(page, make, session, sign_in_with_password, shot):
    account = make.account()
    user = make.portal_user(account)
    invoice = make.invoice(account)
    sign_in_with_password(user.email)
    page.goto(f"/invoices/pay?invoice={invoice.id}")
    type_card(page, CARD_3DS)
    page.get_by_role("button", name="Pay now").click()
    # Saving the card asks for 3-D Secure, then the payment does too: the bank's window each time.
    page.get_by_role("button", name="Complete authentication").click()
    page.wait_for_url(re.compile(r"/payments/\d+/authenticate$"))
    shot("authenticate")
    page.get_by_role("button", name="Complete authentication").click()
    page.wait_for_url(re.compile(r"/payments/\d+$"))
    expect(page.locator(".flash-success")).to_contain_text("Thank you")
    assert paid(session, invoice.id).status == "paid"


def test_a_declined_card_shows_the_reason_and_what_to_do(
    page, make, session, sign_in_with_password, shot
):
    account = make.account()
    user = make.portal_user(account)
    invoice = make.invoice(account)
    sign_in_with_password(user.email)
    page.goto(f"/invoices/pay?invoice={invoice.id}")
    type_card(page, CARD_DECLINES)
    page.get_by_role("button", name="Pay now").click()
    alert = page.get_by_role("alert").filter(has_text="declined")
    expect(alert).to_contain_text("Your bank declined the card.")
    expect(alert).to_contain_text("Try another card or contact your bank.")
    shot("declined")
    assert paid(session, invoice.id).status == "open"
    payment = session.scalar(select(Payment).where(Payment.method == "card"))
    assert payment.status == PaymentStatus.FAILED
