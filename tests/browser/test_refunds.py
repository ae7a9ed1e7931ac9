"""Staff, in a real browser: record a check against an invoice, then refund part of a card
payment, and the money goes back at localstripe and the customer gets the email."""

from __future__ import annotations

import re

import pytest

pytest.importorskip("playwright.sync_api", reason="browser tests skipped: playwright missing")

from playwright.sync_api import expect

from billing.models import Account
from tests.factories import PASSWORD
from tests.localstripe_fixture import stripe_overrides
from tests.money_back import record_card_payment

CREDIT_STAT = re.compile(r"Account credit \(USD\)\s*\$20\.01")


@pytest.fixture
def settings_overrides(live_port, smtp, localstripe) -> dict:
    smtp_url, _mailbox = smtp
    return {
        "base_url": f"http://127.0.0.1:{live_port}",
        "smtp_url": smtp_url,
        **stripe_overrides(localstripe.base_url),
    }


def charge_at_localstripe(app, amount_minor: int) -> str:
    """A succeeded PaymentIntent on a saved 4242 card, through the app's own gateway."""
    import stripe

    gateway = app.extensions["paydesk.gateway"]
    settings = app.extensions["paydesk.settings"]
    client = stripe.StripeClient(
        settings.stripe_secret_key,
        base_addresses={"api": settings.stripe_api_base},
        max_network_retries=0,
    )
    card = client.v1.payment_methods.create(
        params={
            "type": "card",
            "card": {"number": "4242424242424242", "exp_month": 12, "exp_year": 2030, "cvc": "123"},
        }
    )
    customer = gateway.create_customer(
        name="Bluebird", email="b@example.test", idempotency_key=f"c:{card.id}", metadata={}
    )
    gateway.attach_card(payment_method_id=card.id, customer_id=customer)
    return gateway.charge(
        customer_id=customer,
        payment_method_id=card.id,
        amount_minor=amount_minor,
        currency="USD",
        idempotency_key=f"p:{card.id}",
        metadata={},
    ).payment_intent_id


def sign_in_staff(page, email: str) -> None:
    page.goto("/admin/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r"/admin/"))


def test_staff_record_a_check_and_refund_part_of_a_card_payment(
    page, app, make, session, shot, mailbox, localstripe
):
    staff = make.staff_user(name="Ada Admin")
    account = make.account(name="Bluebird Bakery", billing_email="owner@bluebird.test")
    by_check = make.invoice(account)  # $379.99 due
    by_card = make.invoice(account)
    payment = record_card_payment(session, by_card, charge_at_localstripe(app, 37999))
    sign_in_staff(page, staff.email)

    # Record a check of $100.00 against the first invoice.
    page.goto(f"/admin/invoices/{by_check.id}")
    form = page.get_by_role("region", name="Record a payment")
    expect(form.get_by_label("Amount")).to_have_value("379.99")
    shot("invoice-form")
    form.get_by_label("Method").select_option(label="Check")
    form.get_by_label("Amount").fill("100.00")
    form.get_by_label("Reference").fill("CHK-2001")
    form.get_by_role("button", name="Record payment").click()
    expect(page.get_by_role("status")).to_contain_text("Recorded check payment of $100.00")
    amounts = page.get_by_role("region", name="Amounts")
    expect(amounts).to_contain_text("Paid$100.00")
    expect(amounts).to_contain_text("Amount due$279.99")
    expect(page.get_by_role("cell", name="Check · CHK-2001")).to_be_visible()
    shot("check-recorded")

    # A typo is explained on the page, and nothing is recorded.
    form = page.get_by_role("region", name="Record a payment")
    form.get_by_label("Amount").fill("12.345")
    form.get_by_role("button", name="Record payment").click()
    expect(page.get_by_text("USD amounts have at most 2 decimals")).to_be_visible()
    expect(page.get_by_role("region", name="Amounts")).to_contain_text("Paid$100.00")

    # Refund $50.00 of the card payment.
    page.goto(f"/admin/payments/{payment.id}")
    refund = page.get_by_role("region", name="Refund")
    expect(refund).to_contain_text("Up to $379.99 can be refunded")
    refund.get_by_label("Amount to refund").fill("50.00")
    refund.get_by_label("Reason").fill("Late delivery")
    shot("refund-form")
    refund.get_by_role("button", name="Refund to the card").click()
    expect(page.get_by_role("status")).to_contain_text("Refunded $50.00 to the card")
    expect(page.get_by_role("region", name="Refund")).to_contain_text(
        "Up to $329.99 can be refunded"
    )
    expect(page.get_by_role("cell", name="Late delivery")).to_be_visible()
    shot("refunded")

    # A refund beyond what is left is refused before Stripe hears of it.
    refund = page.get_by_role("region", name="Refund")
    refund.get_by_label("Amount to refund").fill("400.00")
    refund.get_by_role("button", name="Refund to the card").click()
    expect(page.get_by_text("At most $329.99 can be refunded")).to_be_visible()
    shot("refund-refused")

    import stripe

    settings = app.extensions["paydesk.settings"]
    client = stripe.StripeClient(
        settings.stripe_secret_key,
        base_addresses={"api": settings.stripe_api_base},
        max_network_retries=0,
    )
    at_stripe = client.v1.refunds.list(params={"payment_intent": payment.processor_payment_id})
    assert [r.amount for r in at_stripe.data] == [5000]
    email = session.get(Account, account.id).billing_email
    (message,) = [m for m in mailbox.to(email) if "Refund" in m["Subject"]]
    assert "$50.00" in message["Subject"]


def test_an_overpayment_becomes_credit_the_customer_sees(
    page, browser, app, make, shot, sign_in_with_password
):
    staff = make.staff_user(name="Ada Admin")
    account = make.account(name="Bluebird Bakery")
    customer = make.portal_user(account)
    invoice = make.invoice(account)  # $379.99 due
    sign_in_staff(page, staff.email)

    page.goto(f"/admin/invoices/{invoice.id}")
    form = page.get_by_role("region", name="Record a payment")
    form.get_by_label("Method").select_option(label="Bank transfer")
    form.get_by_label("Amount").fill("400.00")
    form.get_by_label("Reference").fill("WIRE-55")
    form.get_by_role("button", name="Record payment").click()
    expect(page.get_by_role("status")).to_contain_text("$20.01 was more than the invoice owed")
    page.goto(f"/admin/customers/{account.id}")
    expect(page.get_by_role("region", name="Account summary")).to_contain_text(CREDIT_STAT)
    shot("customer-credit")

    portal = browser.new_context(base_url=app.extensions["paydesk.settings"].base_url)
    page = portal.new_page()
    page.goto("/login")
    page.get_by_label("Email").fill(customer.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("region", name="Account summary")).to_contain_text(CREDIT_STAT)
    shot("portal-home", page)
    page.get_by_role("link", name="Details").click()
    credit = page.get_by_role("region", name="Account credit")
    expect(credit).to_contain_text("You have $20.01 of credit")
    expect(credit).to_contain_text(f"Overpayment of invoice {invoice.number}")
    shot("portal-payments", page)
    portal.close()
