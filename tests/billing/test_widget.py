"""The Pay Now widget's domain rules with the in-memory gateway (the browser test pays through
localstripe): amounts, the payer's account, the optional paid invoice, declines, 3-D Secure,
the per-IP limit. Runs on PostgreSQL too (TEST_DATABASE_URL)."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from billing.errors import AuthenticationRequired, PaymentDeclined, RateLimited, ValidationFailed
from billing.models import (
    Account,
    Email,
    Invoice,
    InvoiceStatus,
    Payment,
    PaymentStatus,
    WidgetPayment,
)
from billing.services import credit, widgets
from tests.conftest import POSTGRES_URL
from tests.factories import NOW
from tests.fake_gateway import DECLINES, THREE_D_SECURE
from tests.money_back import RefundingFakeGateway

BASE = "http://localhost"


@pytest.fixture
def gateway():
    return RefundingFakeGateway()


def make_widget(session, **values):
    return widgets.save_widget(
        session,
        values={"title": "Pay Bluebird", "currency": "USD", "allowed_origins": ""} | values,
        now=NOW,
        actor="staff:1",
    )


def confirmed_card(gateway, widget, number="4242424242424242") -> str:
    """What the browser does: confirm a SetupIntent for this widget with a card."""
    return gateway.succeeded_setup(
        number, customer_id=None, metadata={widgets.SETUP_METADATA: str(widget.id)}
    )


def pay(session, gateway, widget, *, number="4242424242424242", ip="203.0.113.9", **payer):
    values = {
        "unsafe_amount": "25.50",
        "description": "Order 1042",
        "name": "Grace Hopper",
        "email": "Grace@Example.test",
    } | payer
    return widgets.pay_with_widget(
        session,
        gateway,
        public_key=widget.public_key,
        payer=widgets.PayerInput(**values),
        setup_intent_id=confirmed_card(gateway, widget, number),
        ip=ip,
        now=NOW,
        base_url=BASE,
    )


def test_a_payment_without_an_invoice_goes_to_a_new_account(session, gateway):
    widget = make_widget(session)
    payment = pay(session, gateway, widget)
    assert (payment.status, payment.amount_minor, payment.reference) == (
        PaymentStatus.SUCCEEDED,
        2550,
        "Order 1042",
    )
    assert payment.allocations == []
    account = session.get(Account, payment.account_id)
    assert (account.name, account.billing_email, account.currency) == (
        "Grace Hopper",
        "grace@example.test",
        "USD",
    )
    row = session.scalar(select(WidgetPayment))
    assert (row.payment_id, row.invoice_id, row.description) == (payment.id, None, "Order 1042")
    receipt = session.scalar(select(Email).where(Email.template == "receipt"))
    assert receipt.to_address == "grace@example.test"
    # A first-time payer has no portal sign-in: the receipt is the PDF, with no portal link.
    assert "For: Order 1042" in receipt.text_body
    assert "the attached PDF is your receipt" in receipt.text_body
    assert "/payments/" not in receipt.text_body + receipt.html_body
    assert gateway.payments[payment.processor_payment_id].metadata["paydesk_payment_id"] == str(
        payment.id
    )


def test_the_payer_email_matches_an_existing_account(session, make, gateway):
    existing = make.account(billing_email="grace@example.test")
    widget = make_widget(session)
    payment = pay(session, gateway, widget, email="GRACE@example.test")
    assert payment.account_id == existing.id
    assert session.scalar(select(func.count()).select_from(Account)) == 1


def test_with_create_invoice_the_payment_pays_a_new_invoice_and_credit_stays(
    session, make, gateway
):
    account = make.account(billing_email="grace@example.test")
    credit.grant_credit(
        session,
        account_id=account.id,
        amount_minor=1000,
        currency="USD",
        reason="r",
        now=NOW,
        actor="t",
    )
    widget = make_widget(session, create_invoice=True)
    payment = pay(session, gateway, widget)
    (allocation,) = payment.allocations
    invoice = session.get(Invoice, allocation.invoice_id)
    assert (invoice.status, invoice.total_minor, invoice.amount_paid_minor) == (
        InvoiceStatus.PAID,
        2550,
        2550,
    )
    assert invoice.lines[0].description == "Order 1042"
    assert credit.balance(session, account_id=account.id, currency="USD") == 1000
    assert session.scalar(select(WidgetPayment.invoice_id)) == invoice.id


def test_a_declined_card_voids_the_invoice_made_for_it(session, gateway):
    widget = make_widget(session, create_invoice=True)
    with pytest.raises(PaymentDeclined):
        pay(session, gateway, widget, number=DECLINES)
    payment = session.scalar(select(Payment))
    invoice = session.scalar(select(Invoice))
    assert payment.status == PaymentStatus.FAILED
    assert invoice.status == InvoiceStatus.VOID


def test_3d_secure_finishes_in_the_browser(session, gateway):
    widget = make_widget(session, create_invoice=True)
    with pytest.raises(AuthenticationRequired) as needed:
        pay(session, gateway, widget, number=THREE_D_SECURE)
    payment_id = needed.value.payment_id
    secret = widgets.client_secret_for(
        session, gateway, public_key=widget.public_key, payment_id=payment_id
    )
    assert secret == needed.value.client_secret
    gateway.authenticate(needed.value.payment_intent_id, success=True)
    payment = widgets.confirm_widget_payment(
        session,
        gateway,
        public_key=widget.public_key,
        payment_id=payment_id,
        now=NOW,
        base_url=BASE,
    )
    assert payment.status == PaymentStatus.SUCCEEDED
    assert session.scalar(select(Invoice.status)) == InvoiceStatus.PAID


def test_failed_3d_secure_voids_the_invoice_and_the_sweep_is_idempotent(session, gateway):
    widget = make_widget(session, create_invoice=True)
    with pytest.raises(AuthenticationRequired) as needed:
        pay(session, gateway, widget, number=THREE_D_SECURE)
    # The payer walks away; reconciliation later marks the payment canceled.
    payment = session.get(Payment, needed.value.payment_id)
    payment.status = PaymentStatus.CANCELED
    session.commit()
    assert widgets.void_unpaid_widget_invoices(session, now=NOW) == 1
    assert widgets.void_unpaid_widget_invoices(session, now=NOW) == 0
    assert session.scalar(select(Invoice.status)) == InvoiceStatus.VOID


def test_bad_input_is_refused_per_field_before_anything_is_charged(session, gateway):
    widget = make_widget(session, min_amount_minor=500, max_amount_minor=10000)
    with pytest.raises(ValidationFailed) as refused:
        pay(
            session,
            gateway,
            widget,
            unsafe_amount="100.01",
            description=" ",
            name="",
            email="not-an-email",
        )
    assert set(refused.value.errors) == {"amount", "description", "name", "email"}
    assert "between $5.00 and $100.00" in refused.value.errors["amount"]
    other = gateway.succeeded_setup(
        "4242424242424242", customer_id=None, metadata={widgets.SETUP_METADATA: "999"}
    )
    with pytest.raises(ValidationFailed, match="not confirmed"):
        widgets.pay_with_widget(
            session,
            gateway,
            public_key=widget.public_key,
            payer=widgets.PayerInput("10", "x", "y", "y@example.test"),
            setup_intent_id=other,
            ip="203.0.113.9",
            now=NOW,
            base_url=BASE,
        )
    assert gateway.charge_calls == 0
    assert session.scalar(select(func.count()).select_from(Payment)) == 0


def test_a_fixed_amount_ignores_what_the_payer_types(session, gateway):
    widget = make_widget(session, fixed_amount_minor=4900)
    assert pay(session, gateway, widget, unsafe_amount="1.00").amount_minor == 4900


def test_attempts_are_limited_per_ip(session, gateway):
    widget = make_widget(session)
    for _ in range(widgets.WIDGET_MAX_ATTEMPTS):
        widgets.start_setup(
            session, gateway, public_key=widget.public_key, ip="198.51.100.7", now=NOW
        )
    with pytest.raises(RateLimited):
        pay(session, gateway, widget, ip="198.51.100.7")
    pay(session, gateway, widget, ip="198.51.100.8")  # another address is not affected
    later = NOW + widgets.WIDGET_WINDOW + timedelta(seconds=1)
    widgets.start_setup(
        session, gateway, public_key=widget.public_key, ip="198.51.100.7", now=later
    )


def test_widget_settings_are_validated_and_audited(session):
    with pytest.raises(ValidationFailed) as refused:
        widgets.save_widget(
            session,
            values={
                "title": "",
                "currency": "XX",
                "fixed_amount_minor": 0,
                "allowed_origins": "javascript:alert(1)",
            },
            now=NOW,
            actor="staff:1",
        )
    assert set(refused.value.errors) >= {"title", "currency", "fixed_amount", "allowed_origins"}
    widget = make_widget(
        session,
        allowed_origins="https://www.example.com/\nhttp://LOCALHOST:8000, https://www.example.com",
    )
    assert widget.origins == ["https://www.example.com", "http://localhost:8000"]
    assert (widget.min_amount_minor, widget.max_amount_minor) == (100, 1_000_000)
    assert len(widget.public_key) >= 24


@pytest.mark.skipif(not POSTGRES_URL, reason="the payer lock is PostgreSQL's: needs PostgreSQL")
def test_first_time_payers_racing_with_one_email_get_one_account(app, session):
    """Eight first payments from one new email at once: one account, which all of them use."""
    from web.extensions import db

    widget = make_widget(session)
    start = threading.Barrier(8)
    found: list[int] = []

    def pay():
        with db.factory() as own:
            start.wait()
            account = widgets.account_for_payer(
                own, own.get(type(widget), widget.id), name="Ann", email="ann@new.test", now=NOW
            )
            found.append(account.id)
            own.commit()

    threads = [threading.Thread(target=pay) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    accounts = session.scalars(
        select(Account.id).where(Account.billing_email == "ann@new.test")
    ).all()
    assert len(accounts) == 1
    assert found == accounts * 8
