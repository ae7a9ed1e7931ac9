"""Staff record offline payments on the invoice page, refund from the payment page, see a
customer's credit, and turn account credit off in Settings; customers see their credit in the
portal. Through the real HTTP interface with CSRF."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from billing.models import Payment, PaymentMethod, RefundStatus, StaffRole
from billing.services import credit, refunds
from tests.admin import sign_in_staff
from tests.admin.test_settings import VALUES
from tests.factories import NOW
from tests.helpers import post_form, sign_in
from tests.money_back import (
    RefundingFakeGateway,
    card_overtaken_by_a_check,
    record_card_payment,
    set_account_credit,
)


@pytest.fixture
def gateway():
    return RefundingFakeGateway()


@pytest.fixture
def app(settings, gateway):
    from web.app import create_app
    from web.extensions import db

    application = create_app(settings, gateway=gateway)
    yield application
    db.factory.kw["bind"].dispose()


@pytest.fixture
def admin_client(client, make):
    sign_in_staff(client, make)
    return client


def record(client, invoice, **data):
    values = {
        "method": "check",
        "received_date": NOW.date().isoformat(),
        "reference": "CHK-1001",
        "amount": "100.00",
    } | data
    return post_form(
        client,
        f"/admin/invoices/{invoice.id}/payments",
        values,
        form_path=f"/admin/invoices/{invoice.id}",
    )


def test_the_invoice_page_offers_a_prefilled_payment_form(admin_client, make):
    invoice = make.invoice()
    html = admin_client.get(f"/admin/invoices/{invoice.id}").get_data(as_text=True)
    assert "Record a payment" in html
    assert 'name="amount" required type="text" value="379.99"' in html
    assert 'name="received_date" required type="date" value="' in html
    paid = make.invoice(paid_minor=37999)
    assert "Record a payment" not in admin_client.get(f"/admin/invoices/{paid.id}").get_data(
        as_text=True
    )


def test_recording_a_partial_check(admin_client, make, session):
    invoice = make.invoice()
    response = record(admin_client, invoice, amount="100.00")
    assert response.status_code == 302 and response.location.endswith("#payments")
    html = admin_client.get(response.location).get_data(as_text=True)
    assert "Recorded check payment of $100.00" in html
    session.refresh(invoice)
    assert (invoice.amount_paid_minor, invoice.amount_due_minor) == (10000, 27999)
    payment = session.scalar(select(Payment).where(Payment.reference == "CHK-1001"))
    assert payment.method == PaymentMethod.CHECK


def test_an_overpayment_becomes_credit_shown_to_staff_and_customer(
    admin_client, make, session, client, app
):
    account = make.account(name="Acme Corp")
    invoice = make.invoice(account)
    response = record(admin_client, invoice, amount="400.00", method="bank_transfer")
    html = admin_client.get(response.location).get_data(as_text=True)
    assert "$20.01 was more than the invoice owed and is now account credit" in html
    customer = admin_client.get(f"/admin/customers/{account.id}").get_data(as_text=True)
    assert "Account credit (USD)" in customer and "$20.01" in customer
    assert "Overpayment of invoice" in customer

    portal = app.test_client()
    user = make.portal_user(account)
    sign_in(portal, user.email)
    home = portal.get("/").get_data(as_text=True)
    assert "Account credit (USD)" in home and "$20.01" in home
    payments = portal.get("/payments").get_data(as_text=True)
    assert "You have <strong>$20.01</strong> of credit" in payments


def test_bad_input_is_shown_on_the_invoice_page_and_changes_nothing(admin_client, make, session):
    invoice = make.invoice()
    response = record(admin_client, invoice, amount="12.345", received_date="")
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "USD amounts have at most 2 decimals" in html or "Enter the date" in html
    assert "Enter the date the money arrived." in html
    response = record(admin_client, invoice, amount="abc")
    assert "Enter an amount such as 125.00." in response.get_data(as_text=True)
    response = record(admin_client, invoice, amount="-5")
    assert "Enter an amount greater than zero." in response.get_data(as_text=True)
    session.refresh(invoice)
    assert invoice.amount_paid_minor == 0


def test_credit_off_refuses_an_overpayment_with_a_clear_message(admin_client, make, session):
    set_account_credit(session, False)
    invoice = make.invoice()
    page = admin_client.get(f"/admin/invoices/{invoice.id}").get_data(as_text=True)
    assert "Account credit is turned off in Settings" in page
    response = record(admin_client, invoice, amount="400.00")
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "Only $379.99 is due on this invoice. Account credit is turned off" in html
    session.refresh(invoice)
    assert invoice.amount_paid_minor == 0


def test_settings_turn_account_credit_off_and_on(admin_client, session):
    html = admin_client.get("/admin/settings").get_data(as_text=True)
    assert "Keep overpayments as account credit" in html
    (box,) = re.findall(r'<input[^>]*id="allow_account_credit"[^>]*>', html)
    assert "checked" in box  # on by default
    response = post_form(
        admin_client, "/admin/settings", VALUES, content_type="multipart/form-data"
    )
    assert response.status_code == 302
    assert credit.credit_allowed(session) is False  # unchecked box: off
    post_form(
        admin_client,
        "/admin/settings",
        VALUES | {"allow_account_credit": "y"},
        content_type="multipart/form-data",
    )
    session.expire_all()
    assert credit.credit_allowed(session) is True


def test_refunding_a_card_payment_from_its_page(admin_client, make, session, gateway):
    invoice = make.invoice()
    payment = record_card_payment(session, invoice, gateway.charged(invoice.amount_due_minor))
    page = admin_client.get(f"/admin/payments/{payment.id}").get_data(as_text=True)
    assert "Up to <strong>$379.99</strong> can be refunded" in page
    assert 'name="amount" required type="text" value="379.99"' in page
    assert "How the money went back" not in page  # a card refund goes back to the card
    response = post_form(
        admin_client,
        f"/admin/payments/{payment.id}/refunds",
        {"amount": "50.00", "reason": "Late delivery", "method": "other"},
        form_path=f"/admin/payments/{payment.id}",
    )
    assert response.status_code == 302
    html = admin_client.get(response.location).get_data(as_text=True)
    assert "Refunded $50.00 to the card. The customer was emailed." in html
    assert "Up to <strong>$329.99</strong> can be refunded" in html
    assert "Late delivery" in html

    too_much = post_form(
        admin_client,
        f"/admin/payments/{payment.id}/refunds",
        {"amount": "330.00", "reason": "", "method": "other"},
        form_path=f"/admin/payments/{payment.id}",
    )
    assert too_much.status_code == 422
    assert "At most $329.99 can be refunded" in too_much.get_data(as_text=True)
    assert gateway.refund_calls == 1


@pytest.mark.parametrize("credit_on", [True, False])
def test_a_card_payment_overtaken_by_a_check_shows_where_the_rest_went(
    admin_client, make, session, gateway, credit_on
):
    set_account_credit(session, credit_on)
    invoice, payment = card_overtaken_by_a_check(session, make, gateway)
    page = admin_client.get(f"/admin/payments/{payment.id}").get_data(as_text=True)
    assert f"Invoice {invoice.display_number}</a> — $369.99" in page
    assert f'">invoice {invoice.id}</a>: $379.99' in page  # the history: what it set out to pay
    if not credit_on:
        # Paydesk sent the $10.00 back to the card itself; the page says so and lists it.
        assert "Not applied to an invoice — $10.00: more than the invoices still owed" in page
        assert "Paydesk sends it back to the card" in page
        assert refunds.OVERFLOW_REASON in page
        session.refresh(invoice)
        assert invoice.amount_refunded_minor == 0
        return
    assert "Account credit</a> — $10.00" in page
    assert "Not applied" not in page
    # Staff can give the credited $10.00 back: it is refunded before the invoice's part.
    response = post_form(
        admin_client,
        f"/admin/payments/{payment.id}/refunds",
        {"amount": "10.00", "reason": "Paid twice", "method": "other"},
        form_path=f"/admin/payments/{payment.id}",
    )
    assert response.status_code == 302
    session.refresh(invoice)
    assert invoice.amount_refunded_minor == 0
    assert credit.balance(session, account_id=invoice.account_id, currency="USD") == 0


def test_a_failed_card_refund_is_explained(admin_client, make, session, gateway):
    from billing.errors import GatewayPermanent

    invoice = make.invoice()
    payment = record_card_payment(session, invoice, gateway.charged(invoice.amount_due_minor))
    gateway.refund_error = GatewayPermanent("Stripe refused the request: charge is disputed")
    response = post_form(
        admin_client,
        f"/admin/payments/{payment.id}/refunds",
        {"amount": "10.00", "reason": "", "method": "other"},
        form_path=f"/admin/payments/{payment.id}",
    )
    html = admin_client.get(response.location).get_data(as_text=True)
    assert "The refund of $10.00 failed: Stripe refused the request: charge is disputed" in html
    assert payment.refunds == [] or all(r.status == RefundStatus.FAILED for r in payment.refunds)


def test_refunding_a_check_records_how_the_money_went_back(admin_client, make, session):
    invoice = make.invoice()
    payment = make.payment(invoice, 20000)
    page = admin_client.get(f"/admin/payments/{payment.id}").get_data(as_text=True)
    assert "How the money went back" in page
    response = post_form(
        admin_client,
        f"/admin/payments/{payment.id}/refunds",
        {"amount": "200.00", "reason": "Cancelled", "method": "bank_transfer", "reference": "TX-9"},
        form_path=f"/admin/payments/{payment.id}",
    )
    html = admin_client.get(response.location).get_data(as_text=True)
    assert "Refunded $200.00 by bank transfer." in html
    assert "Nothing is left to refund on this payment: it was refunded in full" in html
    assert "Bank transfer · TX-9" in html


def test_read_only_staff_see_no_money_forms_and_cannot_post(client, make, session):
    sign_in_staff(client, make, role=StaffRole.READ_ONLY, email="ro@paydesk.test")
    invoice = make.invoice()
    payment = make.payment(invoice, 100)
    assert "Record a payment" not in client.get(f"/admin/invoices/{invoice.id}").get_data(
        as_text=True
    )
    assert "Record refund" not in client.get(f"/admin/payments/{payment.id}").get_data(as_text=True)
    response = record(client, invoice)
    assert response.status_code == 403
