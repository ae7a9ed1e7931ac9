"""Payments racing for the same invoice cannot overpay it: the invoices are locked FOR UPDATE in
id order and in-flight payments reserve what they take. Proven on PostgreSQL with threads that
each pay through their own session and the real gateway (localstripe)."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import select

from billing.clock import utcnow
from billing.errors import ValidationFailed
from billing.models import Account, Invoice, Payment, PaymentStatus
from billing.services import card_payments, cards
from billing.services.card_payments import Share
from tests.conftest import POSTGRES_URL
from tests.localstripe_fixture import stripe_overrides
from tests.payments_helpers import CARD_OK, charges_for, payment_intents
from tests.payments_helpers import client as stripe_client

pytestmark = pytest.mark.skipif(
    not POSTGRES_URL, reason="row locks are what is tested: needs PostgreSQL"
)
THREADS = 6


@pytest.fixture
def settings_overrides(localstripe):
    return stripe_overrides(localstripe.base_url)


def saved_card_id(session, gateway, localstripe, account):
    customer = cards.ensure_customer(
        session, gateway, account_id=account.id, now=utcnow(), actor="t"
    )
    pm = stripe_client(localstripe.base_url).v1.payment_methods.create(
        params={
            "type": "card",
            "card": {"number": CARD_OK, "exp_month": 12, "exp_year": 2031, "cvc": "123"},
        }
    )
    card = gateway.attach_card(payment_method_id=pm["id"], customer_id=customer)
    return cards.save_card(session, account_id=account.id, card=card, now=utcnow(), actor="t").id


def race(app, account_id, card_id, shares_per_thread):
    """Run pay_with_card in THREADS threads released together; returns (payments, refusals)."""
    from web.extensions import db

    gateway = app.extensions["paydesk.gateway"]
    start = threading.Barrier(len(shares_per_thread))
    outcomes: list = []
    lock = threading.Lock()

    def pay(shares):
        with db.factory() as session:
            start.wait()
            try:
                result = card_payments.pay_with_card(
                    session,
                    gateway,
                    account_id=account_id,
                    shares=shares,
                    card_id=card_id,
                    setup_intent_id=None,
                    allow_partial=True,
                    now=utcnow(),
                    actor="portal_user:1",
                    base_url="http://localhost",
                )
            except ValidationFailed as exc:
                result = exc
            with lock:
                outcomes.append(result)

    threads = [threading.Thread(target=pay, args=(s,)) for s in shares_per_thread]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    paid = [o for o in outcomes if isinstance(o, Payment)]
    refused = [o for o in outcomes if isinstance(o, ValidationFailed)]
    assert len(paid) + len(refused) == len(shares_per_thread), outcomes
    return paid, refused


def test_concurrent_full_payments_pay_the_invoice_once(app, session, make, localstripe):
    invoice = make.invoice()
    card_id = saved_card_id(
        session,
        app.extensions["paydesk.gateway"],
        localstripe,
        session.get(Account, invoice.account_id),
    )
    paid, refused = race(
        app, invoice.account_id, card_id, [[Share(invoice.id, invoice.total_minor)]] * THREADS
    )
    assert len(paid) == 1 and len(refused) == THREADS - 1
    session.expire_all()
    invoice = session.get(Invoice, invoice.id)
    assert (invoice.status, invoice.amount_paid_minor) == ("paid", invoice.total_minor)
    assert len(charges_for(localstripe.base_url, paid[0].id)) == 1
    assert len(payment_intents(localstripe.base_url)) == 1  # the refused ones never reached Stripe


def test_concurrent_partial_payments_never_exceed_what_is_due(app, session, make, localstripe):
    invoice = make.invoice()  # 38,999 minor units
    other = make.invoice(session.get(Account, invoice.account_id))
    card_id = saved_card_id(
        session,
        app.extensions["paydesk.gateway"],
        localstripe,
        session.get(Account, invoice.account_id),
    )
    third = invoice.total_minor // 3 + 1  # three of these are more than is due
    # Mixed: some pay only the first invoice, some pay both (locks taken in id order either way).
    shares = [[Share(invoice.id, third)], [Share(other.id, 500), Share(invoice.id, third)]] * (
        THREADS // 2
    )
    paid, _refused = race(app, invoice.account_id, card_id, shares)
    session.expire_all()
    invoice = session.get(Invoice, invoice.id)
    assert len(paid) == 2  # a third would overpay
    assert invoice.amount_paid_minor == 2 * third <= invoice.total_minor
    succeeded = session.scalars(
        select(Payment).where(Payment.status == PaymentStatus.SUCCEEDED, Payment.method == "card")
    )
    assert (
        sum(p.amount_minor for p in succeeded)
        == invoice.amount_paid_minor + session.get(Invoice, other.id).amount_paid_minor
    )
