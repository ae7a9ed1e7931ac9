"""Paying in the portal and managing cards, through the app's HTTP interface, against
localstripe with the real stripe SDK (the browser's Stripe.js part is done by
tests.payments_helpers, the way the fake Stripe.js does it)."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from billing.models import (
    Account,
    AuditEntry,
    Invoice,
    Payment,
    PaymentStatus,
    PortalRole,
    SavedCard,
)
from tests.helpers import csrf_token, post_form, sign_in
from tests.localstripe_fixture import stripe_overrides
from tests.money_back import set_account_credit
from tests.payments_helpers import (
    CARD_3DS,
    CARD_ATTACH_FAILS,
    CARD_DECLINES,
    CARD_OK,
    authenticate,
    charges_for,
    confirm_card_setup,
    event,
    post_event,
)
from tests.payments_helpers import client as stripe_client


@pytest.fixture
def settings_overrides(localstripe, smtp):
    return stripe_overrides(localstripe.base_url) | {"smtp_url": smtp[0]}


@pytest.fixture
def customer(client, make):
    account = make.account(currency="USD")
    user = make.portal_user(account, role=PortalRole.OWNER)
    sign_in(client, user.email)
    return account


def new_card(client, localstripe, number: str, form_path: str = "/cards/new") -> str:
    """Do what the page's JavaScript does: get a SetupIntent, confirm it at localstripe."""
    token = csrf_token(client, form_path)
    response = client.post(
        "/cards/setup", headers={"X-CSRFToken": token, "Accept": "application/json"}
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    status, body = confirm_card_setup(localstripe.base_url, response.json["client_secret"], number)
    assert status == 200, body
    return body["id"]


def pay(client, invoices, *, card="new", setup_intent_id="", amounts=None):
    data = {
        "invoice": [str(inv.id) for inv in invoices],
        "card": card,
        "setup_intent_id": setup_intent_id,
    }
    for invoice_id, amount in (amounts or {}).items():
        data[f"amount_{invoice_id}"] = amount
    return post_form(client, "/invoices/pay", data, form_path="/invoices/pay")


def test_pay_with_a_new_card_saves_it_pays_and_emails_a_receipt(
    client, make, session, customer, localstripe, smtp
):
    invoice = make.invoice(customer)
    seti = new_card(client, localstripe, CARD_OK, "/invoices/pay")
    response = pay(client, [invoice], setup_intent_id=seti)
    assert response.status_code == 302, response.get_data(as_text=True)[:3000]
    payment = session.scalar(select(Payment).where(Payment.method == "card"))
    assert response.headers["Location"].endswith(f"/payments/{payment.id}")
    session.refresh(invoice)
    assert (invoice.status, invoice.amount_due_minor) == ("paid", 0)
    assert payment.card_last4 == "4242"
    assert len(charges_for(localstripe.base_url, payment.id)) == 1
    card = session.scalar(select(SavedCard))
    assert (card.last4, card.is_default) == ("4242", True)
    page = client.get(f"/payments/{payment.id}", follow_redirects=True).get_data(as_text=True)
    assert "Thank you" in page
    receipt = smtp[1].to(customer.billing_email)[0]
    assert payment.receipt_number in receipt["Subject"]
    pdfs = [p for p in receipt.iter_attachments() if p.get_content_type() == "application/pdf"]
    assert pdfs and pdfs[0].get_filename() == f"receipt-{payment.receipt_number}.pdf"


def test_pay_several_invoices_partly_with_a_saved_card(
    client, make, session, customer, localstripe
):
    first, second = make.invoice(customer), make.invoice(customer)
    seti = new_card(client, localstripe, CARD_OK)
    assert (
        post_form(client, "/cards", {"setup_intent_id": seti}, form_path="/cards/new").status_code
        == 302
    )
    card = session.scalar(select(SavedCard))
    response = pay(client, [first, second], card=str(card.id), amounts={second.id: "10.00"})
    assert response.status_code == 302, response.get_data(as_text=True)[:3000]
    payment = session.scalar(select(Payment).where(Payment.method == "card"))
    session.refresh(first)
    session.refresh(second)
    assert payment.amount_minor == first.total_minor + 1000
    assert {a.invoice_id: a.amount_minor for a in payment.allocations} == {
        first.id: first.total_minor,
        second.id: 1000,
    }
    assert (first.status, second.status, second.amount_paid_minor) == ("paid", "open", 1000)
    [intent] = charges_for(localstripe.base_url, payment.id)
    assert intent["amount"] == payment.amount_minor  # one PaymentIntent for both invoices


def test_bad_amounts_are_refused_per_invoice_and_charge_nothing(
    client, make, session, customer, localstripe
):
    invoice = make.invoice(customer)
    seti = new_card(client, localstripe, CARD_OK, "/invoices/pay")
    for amount, message in (
        ("0.50", "Pay at least $1.00"),
        ("abc", "Enter an amount"),
        ("999999", "left to pay"),
        ("1.005", "USD amounts have at most 2 decimals."),
    ):
        response = pay(client, [invoice], setup_intent_id=seti, amounts={invoice.id: amount})
        assert response.status_code == 422
        assert message in response.get_data(as_text=True), amount
    assert (
        session.scalar(select(func.count()).select_from(Payment).where(Payment.method == "card"))
        == 0
    )


def test_a_declined_card_shows_the_reason_and_changes_nothing(
    client, make, session, customer, localstripe
):
    invoice = make.invoice(customer)
    seti = new_card(client, localstripe, CARD_DECLINES, "/invoices/pay")
    response = pay(client, [invoice], setup_intent_id=seti)
    html = response.get_data(as_text=True)
    assert response.status_code == 402
    assert "Your bank declined the card." in html and "Try another card" in html
    session.refresh(invoice)
    assert (invoice.status, invoice.amount_paid_minor) == ("open", 0)
    payment = session.scalar(select(Payment).where(Payment.method == "card"))
    assert payment.status == PaymentStatus.FAILED
    # The card entered for this payment is not kept (nor left attached at the processor).
    card = session.scalar(select(SavedCard))
    assert card.removed_at is not None and not card.is_default
    assert "ending 0341" not in client.get("/cards").get_data(as_text=True)
    api = stripe_client(localstripe.base_url)
    detached = api.v1.payment_methods.retrieve(card.processor_payment_method_id).to_dict()
    assert detached.get("customer") is None
    # The attempt is listed as a payment that failed, not as a receipt of money received.
    page = client.get(f"/payments/{payment.id}").get_data(as_text=True)
    assert f"Payment {payment.receipt_number}" in page and "Attempted " in page
    assert "did not go through" in page and "Nothing was charged." in page
    assert "Receipt R-" not in page and "Received " not in page and "Applied to" not in page
    assert client.get(f"/payments/{payment.id}/receipt.pdf").status_code == 404


def test_a_saved_card_that_is_declined_stays_saved(client, make, session, customer, localstripe):
    invoice = make.invoice(customer)
    seti = new_card(client, localstripe, CARD_DECLINES)
    post_form(client, "/cards", {"setup_intent_id": seti}, form_path="/cards/new")
    card = session.scalar(select(SavedCard))
    assert pay(client, [invoice], card=str(card.id)).status_code == 402
    session.refresh(card)
    assert card.removed_at is None  # the customer chose to keep it; a decline may be passing


def test_a_card_the_bank_refuses_to_save_is_not_saved(client, customer, localstripe, session):
    token = csrf_token(client, "/cards/new")
    secret = client.post("/cards/setup", headers={"X-CSRFToken": token}).json["client_secret"]
    status, body = confirm_card_setup(localstripe.base_url, secret, CARD_ATTACH_FAILS)
    assert status == 402 and body["error"]["code"] == "card_declined"  # what the page shows
    seti = secret.split("_secret_")[0]
    response = post_form(client, "/cards", {"setup_intent_id": seti}, form_path="/cards/new")
    assert response.status_code == 422
    assert "not confirmed" in response.get_data(as_text=True)
    assert session.scalar(select(func.count()).select_from(SavedCard)) == 0


def start_three_d_secure(client, invoice, **pay_kwargs) -> tuple[str, str]:
    """Pay, land on the 3-D Secure page; returns its path and the client secret it carries."""
    response = pay(client, [invoice], **pay_kwargs)
    assert response.status_code == 302
    location = response.headers["Location"]
    assert re.search(r"/payments/\d+/authenticate$", location)
    page = client.get(location).get_data(as_text=True)
    return location, re.search(r'data-client-secret="([^"]+)"', page).group(1)


def return_from_the_bank(client, location: str, form_path: str | None = None):
    """What the 3-D Secure page posts once Stripe.js is done (`form_path`: where to take the
    CSRF token from once that page no longer shows, the payment being settled)."""
    confirm = location.replace("/authenticate", "/confirm")
    return post_form(client, confirm, {}, form_path=form_path or location)


def card_removals(session) -> int:
    return session.scalar(
        select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "card.removed")
    )


def test_three_d_secure_is_finished_in_the_browser_then_confirmed(
    client, make, session, customer, localstripe
):
    invoice = make.invoice(customer)
    seti = new_card(client, localstripe, CARD_3DS, "/invoices/pay")
    location, secret = start_three_d_secure(client, invoice, setup_intent_id=seti)
    session.refresh(invoice)
    assert invoice.amount_paid_minor == 0  # nothing moves before the bank says yes
    assert authenticate(localstripe.base_url, secret)[0] == 200
    done = return_from_the_bank(client, location)
    assert done.status_code == 302 and "/authenticate" not in done.headers["Location"]
    session.refresh(invoice)
    assert invoice.status == "paid"
    assert session.scalar(select(SavedCard)).removed_at is None  # the new card is kept


def test_overflow_from_a_check_during_three_d_secure_goes_back_to_the_card(
    client, make, session, customer, localstripe
):
    """Credit is off; a $10.00 check arrives while the card payment waits for the bank: the
    invoice takes what it still owed and localstripe refunds the other $10.00, once."""
    set_account_credit(session, False)
    invoice = make.invoice(customer)
    seti = new_card(client, localstripe, CARD_3DS, "/invoices/pay")
    location, secret = start_three_d_secure(client, invoice, setup_intent_id=seti)
    make.payment(invoice, 1000)
    assert authenticate(localstripe.base_url, secret)[0] == 200
    assert return_from_the_bank(client, location).status_code == 302
    session.refresh(invoice)
    assert (invoice.status, invoice.amount_paid_minor) == ("paid", invoice.total_minor)
    payment = session.scalar(select(Payment).where(Payment.method == "card"))
    assert (payment.overflow_minor, payment.amount_refunded_minor) == (1000, 1000)
    api = stripe_client(localstripe.base_url)
    intent_id = secret.split("_secret_")[0]
    sent = api.v1.refunds.list(params={"payment_intent": intent_id}).data
    assert [r.amount for r in sent] == [1000]
    again = return_from_the_bank(client, location, "/invoices/pay")  # a second click
    assert again.status_code == 302
    assert [r.amount for r in api.v1.refunds.list(params={"payment_intent": intent_id}).data] == [
        1000
    ]


def test_failed_three_d_secure_shows_what_to_do_and_keeps_no_new_card(
    client, make, session, customer, localstripe
):
    invoice = make.invoice(customer)
    seti = new_card(client, localstripe, CARD_3DS, "/invoices/pay")
    location, secret = start_three_d_secure(client, invoice, setup_intent_id=seti)
    authenticate(localstripe.base_url, secret, success=False)
    done = return_from_the_bank(client, location)
    assert done.status_code == 402
    html = done.get_data(as_text=True)
    assert "security check was not completed" in html
    # The same invoice is chosen again, with the amount that was tried.
    assert re.search(rf'id="invoice-{invoice.id}"[^>]*\bchecked\b', html)
    tried = f"{invoice.total_minor // 100}.{invoice.total_minor % 100:02d}"
    assert re.search(rf'id="amount-{invoice.id}"[^>]*value="{tried}"', html)
    session.refresh(invoice)
    assert invoice.status == "open"
    card = session.scalar(select(SavedCard))
    assert card.removed_at is not None and card_removals(session) == 1
    assert '<a href="/invoices" aria-current="page">Invoices</a>' in html  # still paying
    assert 'aria-current="page">Payments' not in html
    assert "ending 3155" not in client.get("/cards").get_data(as_text=True)
    api = stripe_client(localstripe.base_url)
    assert api.v1.payment_methods.retrieve(card.processor_payment_method_id).customer is None
    again = return_from_the_bank(client, location, "/invoices/pay")
    assert again.status_code == 402  # the same answer
    assert card_removals(session) == 1


def test_the_webhook_removes_the_new_card_when_the_browser_never_returns(
    client, make, session, customer, localstripe
):
    invoice = make.invoice(customer)
    seti = new_card(client, localstripe, CARD_3DS, "/invoices/pay")
    location, secret = start_three_d_secure(client, invoice, setup_intent_id=seti)
    authenticate(localstripe.base_url, secret, success=False)
    api = stripe_client(localstripe.base_url)
    intent = api.v1.payment_intents.retrieve(secret.split("_secret_")[0]).to_dict()
    failed = event("evt_3ds_failed", "payment_intent.payment_failed", intent)
    assert post_event(client, failed).status_code == 200  # processed in-process after commit
    card = session.scalar(select(SavedCard))
    assert card.removed_at is not None and card_removals(session) == 1
    payment = session.scalar(select(Payment).where(Payment.method == "card"))
    assert payment.status == PaymentStatus.FAILED
    late = return_from_the_bank(client, location, "/invoices/pay")
    assert late.status_code == 402  # the browser, late: the same answer
    assert card_removals(session) == 1


def test_a_saved_card_that_fails_three_d_secure_stays_saved(
    client, make, session, customer, localstripe
):
    invoice = make.invoice(customer)
    seti = new_card(client, localstripe, CARD_3DS)
    post_form(client, "/cards", {"setup_intent_id": seti}, form_path="/cards/new")
    card = session.scalar(select(SavedCard))
    location, secret = start_three_d_secure(client, invoice, card=str(card.id))
    authenticate(localstripe.base_url, secret, success=False)
    assert return_from_the_bank(client, location).status_code == 402
    session.refresh(card)
    assert card.removed_at is None and card_removals(session) == 0


def test_cards_can_be_made_default_and_removed(client, make, session, customer, localstripe):
    for number in (CARD_OK, "5555555555554444"):
        seti = new_card(client, localstripe, number)
        post_form(client, "/cards", {"setup_intent_id": seti}, form_path="/cards/new")
    first, second = session.scalars(select(SavedCard).order_by(SavedCard.id)).all()
    assert (first.is_default, second.is_default) == (True, False)
    post_form(client, f"/cards/{second.id}/default", {}, form_path="/cards")
    post_form(client, f"/cards/{second.id}/remove", {}, form_path="/cards")
    session.expire_all()
    first, second = session.scalars(select(SavedCard).order_by(SavedCard.id)).all()
    assert second.removed_at is not None and first.is_default
    page = client.get("/cards").get_data(as_text=True)
    assert "ending 4242" in page and "ending 4444" not in page
    actions = session.scalars(
        select(AuditEntry.action).where(AuditEntry.subject_type == "saved_cards")
    )
    assert set(actions) >= {"card.added", "card.made_default", "card.removed"}


def test_viewers_see_cards_but_cannot_change_them_or_pay(client, make, session, localstripe):
    account = make.account()
    invoice = make.invoice(account)
    viewer = make.portal_user(account, role=PortalRole.VIEWER)
    sign_in(client, viewer.email)
    page = client.get("/cards").get_data(as_text=True)
    assert "Add a card" not in page
    assert "Pay now" not in client.get(f"/invoices/{invoice.id}").get_data(as_text=True)
    assert client.get("/cards/new").status_code == 403
    assert client.get("/invoices/pay").status_code == 403
    token = csrf_token(client, "/cards")
    assert client.post("/cards/setup", headers={"X-CSRFToken": token}).status_code == 403
    assert client.post("/invoices/pay", data={"csrf_token": token}).status_code == 403


def test_another_accounts_invoice_or_card_cannot_be_paid_or_touched(
    client, make, session, customer, localstripe
):
    other = make.account()
    foreign = make.invoice(other)
    seti = new_card(client, localstripe, CARD_OK, "/invoices/pay")
    response = pay(client, [foreign], setup_intent_id=seti)
    assert response.status_code == 422  # not offered: "choose at least one invoice"
    foreign_card = SavedCard(
        account_id=other.id,
        processor_payment_method_id="pm_other",
        brand="visa",
        last4="1111",
        exp_month=1,
        exp_year=2031,
        created_at=foreign.created_at,
    )
    session.add(foreign_card)
    session.commit()
    assert (
        post_form(client, f"/cards/{foreign_card.id}/remove", {}, form_path="/cards").status_code
        == 404
    )
    assert session.get(Invoice, foreign.id).amount_paid_minor == 0
    assert session.get(Account, other.id).processor_customer_id is None


def test_the_pay_page_loads_stripe_js_from_the_one_allowed_origin(
    client, customer, localstripe, make
):
    make.invoice(customer)
    response = client.get("/invoices/pay")
    policy = response.headers["Content-Security-Policy"]
    html = response.get_data(as_text=True)
    assert f'<script src="{localstripe.base_url}/js.stripe.com/v3/"></script>' in html
    assert f"script-src 'self' {localstripe.base_url};" in policy
    assert f"frame-src {localstripe.base_url};" in policy
    assert " style=" not in html and "<script>" not in html
