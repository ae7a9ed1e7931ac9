"""Card refunds against localstripe through the real stripe SDK over HTTP: the money goes back
(localstripe's own records say so), Paydesk refuses what is beyond the remainder before
localstripe ever hears of it (localstripe would refund it), concurrent refunds on PostgreSQL
cannot together exceed the payment, and the customer's refund email reaches a real SMTP server.
"""

from __future__ import annotations

import threading

import pytest
import stripe

from billing.errors import GatewayRetryable, ValidationFailed
from billing.gateways.stripe_gateway import FIND_PAGES, StripeGateway, _get, _plain
from billing.models import (
    Account,
    CreditNote,
    CreditNoteKind,
    CreditSettlement,
    Invoice,
    Payment,
    RefundStatus,
    SettlementStatus,
)
from billing.services import card_payments, credit_notes, refunds
from tests.conftest import POSTGRES_URL
from tests.factories import NOW
from tests.localstripe_fixture import TEST_SECRET_KEY
from tests.money_back import record_card_payment, set_account_credit


@pytest.fixture
def settings_overrides(smtp):
    return {"smtp_url": smtp[0]}


@pytest.fixture
def gateway(localstripe):
    return StripeGateway(api_base=localstripe.base_url, secret_key=lambda: TEST_SECRET_KEY)


@pytest.fixture
def stripe_client(localstripe):
    stripe.enable_telemetry = False
    return stripe.StripeClient(
        TEST_SECRET_KEY, base_addresses={"api": localstripe.base_url}, max_network_retries=0
    )


def charge_at_localstripe(gateway, stripe_client, amount_minor: int) -> str:
    """A succeeded PaymentIntent of `amount_minor` USD on a saved 4242 card; returns its id."""
    card = stripe_client.v1.payment_methods.create(
        params={
            "type": "card",
            "card": {"number": "4242424242424242", "exp_month": 12, "exp_year": 2030, "cvc": "123"},
        }
    )
    customer = gateway.create_customer(
        name="Ada", email="ada@example.test", idempotency_key=f"c:{card.id}", metadata={}
    )
    gateway.attach_card(payment_method_id=card.id, customer_id=customer)
    result = gateway.charge(
        customer_id=customer,
        payment_method_id=card.id,
        amount_minor=amount_minor,
        currency="USD",
        idempotency_key=f"p:{card.id}",
        metadata={},
    )
    assert result.succeeded
    return result.payment_intent_id


def refunds_at_localstripe(stripe_client, payment_intent_id: str) -> list:
    return list(stripe_client.v1.refunds.list(params={"payment_intent": payment_intent_id}).data)


def charge_of(stripe_client, payment_intent_id: str):
    intent = stripe_client.v1.payment_intents.retrieve(payment_intent_id)
    charge = intent["latest_charge"]
    return stripe_client.v1.charges.retrieve(charge if isinstance(charge, str) else charge["id"])


def card_paid(session, make, gateway, stripe_client):
    invoice = make.invoice()
    pi = charge_at_localstripe(gateway, stripe_client, invoice.amount_due_minor)
    return invoice, record_card_payment(session, invoice, pi)


def refund(session, gateway, payment, amount_minor):
    return refunds.refund_payment(
        session,
        gateway,
        payment_id=payment.id,
        amount_minor=amount_minor,
        reason="Goodwill",
        method_for_offline=None,
        now=NOW,
        actor="staff:1",
    )


def test_partial_then_full_refund_goes_back_to_the_card(session, make, gateway, stripe_client):
    invoice, payment = card_paid(session, make, gateway, stripe_client)
    pi = payment.processor_payment_id

    partial = refund(session, gateway, payment, 10000)
    assert partial.status == RefundStatus.SUCCEEDED
    (at_stripe,) = refunds_at_localstripe(stripe_client, pi)
    assert (at_stripe.id, at_stripe.amount) == (partial.processor_refund_id, 10000)
    assert at_stripe.metadata["paydesk_refund_id"] == str(partial.id)
    assert charge_of(stripe_client, pi).amount_refunded == 10000

    rest = refund(session, gateway, payment, 27999)
    assert rest.status == RefundStatus.SUCCEEDED
    charge = charge_of(stripe_client, pi)
    assert (charge.amount_refunded, charge.refunded) == (37999, True)
    session.refresh(payment)
    session.refresh(invoice)
    assert payment.amount_refunded_minor == invoice.amount_refunded_minor == 37999
    assert invoice.status == "paid"


def test_a_refund_beyond_the_remainder_is_refused_and_localstripe_never_sees_it(
    session, make, gateway, stripe_client
):
    _invoice, payment = card_paid(session, make, gateway, stripe_client)
    refund(session, gateway, payment, 30000)
    with pytest.raises(ValidationFailed, match=r"At most \$79\.99"):
        refund(session, gateway, payment, 8000)  # localstripe itself would refund this
    at_stripe = refunds_at_localstripe(stripe_client, payment.processor_payment_id)
    assert [r.amount for r in at_stripe] == [30000]
    assert charge_of(stripe_client, payment.processor_payment_id).amount_refunded == 30000


def test_the_refund_email_reaches_the_smtp_server(session, make, gateway, stripe_client, smtp):
    _, mailbox = smtp
    invoice, payment = card_paid(session, make, gateway, stripe_client)
    refund(session, gateway, payment, 2500)
    account = session.get(Account, invoice.account_id)
    (message,) = mailbox.to(account.billing_email)
    assert message["Subject"] == f"Refund of $25.00 for payment {payment.receipt_number}"
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    assert "Visa ending 4242" in text and "Goodwill" in text
    assert "$25.00" in html and invoice.number in html


@pytest.mark.skipif(not POSTGRES_URL, reason="row locks are what is tested: needs PostgreSQL")
def test_concurrent_refunds_cannot_together_exceed_the_payment(
    app, session, make, gateway, stripe_client
):
    from web.extensions import db

    invoice, payment = card_paid(session, make, gateway, stripe_client)
    workers = 4
    each = 15000  # 4 x 150.00 asked of a 379.99 payment: at most two can succeed
    barrier = threading.Barrier(workers)
    outcomes: list[str] = []

    def attempt() -> None:
        with db.factory() as own:
            barrier.wait(timeout=10)
            try:
                done = refund(own, gateway, own.get(Payment, payment.id), each)
                outcomes.append(str(done.status))
            except ValidationFailed:
                outcomes.append("refused")

    threads = [threading.Thread(target=attempt) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert sorted(outcomes) == ["refused", "refused", "succeeded", "succeeded"]
    at_stripe = refunds_at_localstripe(stripe_client, payment.processor_payment_id)
    assert sum(r.amount for r in at_stripe) == 2 * each
    session.expire_all()
    assert session.get(Payment, payment.id).amount_refunded_minor == 2 * each
    assert session.get(Invoice, invoice.id).amount_refunded_minor == 2 * each


def card_paid_with_overflow(session, make, gateway, stripe_client, overflow_minor: int):
    """A 379.99 card payment whose invoice could take only what is left after a check of
    `overflow_minor` (as _settle records it with account credit turned off)."""
    set_account_credit(session, False)
    invoice = make.invoice()
    pi = charge_at_localstripe(gateway, stripe_client, invoice.amount_due_minor)
    make.payment(invoice, overflow_minor)
    payment = record_card_payment(session, invoice, pi)  # takes what the invoice still owed
    payment.amount_minor += overflow_minor
    payment.overflow_minor = overflow_minor
    session.commit()
    return invoice, payment


@pytest.mark.skipif(not POSTGRES_URL, reason="row locks are what is tested: needs PostgreSQL")
def test_concurrent_follow_ups_refund_an_overflow_once(app, session, make, gateway, stripe_client):
    """The browser's return, the webhook and the sweep may all follow up at once."""
    from web.extensions import db

    invoice, payment = card_paid_with_overflow(session, make, gateway, stripe_client, 1000)
    workers = 4
    barrier = threading.Barrier(workers)

    def follow_up() -> None:
        with db.factory() as own:
            barrier.wait(timeout=10)
            card_payments.follow_up(own, gateway, payment_id=payment.id, now=NOW, actor="t")

    threads = [threading.Thread(target=follow_up) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    at_stripe = refunds_at_localstripe(stripe_client, payment.processor_payment_id)
    assert [r.amount for r in at_stripe] == [1000]
    session.expire_all()
    assert session.get(Payment, payment.id).amount_refunded_minor == 1000
    assert session.get(Invoice, invoice.id).amount_refunded_minor == 0


class LosingGateway(StripeGateway):
    """The real gateway whose next refund reaches localstripe but whose answer is lost."""

    lose_next = False

    def refund(self, **kwargs):
        result = super().refund(**kwargs)
        if self.lose_next:
            self.lose_next = False
            raise GatewayRetryable("Stripe could not be reached: the answer was lost")
        return result

    if not hasattr(StripeGateway, "find_refund"):
        # What reconcile_refund needs from the gateway; proposed to payments-core for
        # billing/gateways/stripe_gateway.py (see the money-back report). Until it lands there,
        # this copy proves it against localstripe.
        def find_refund(self, *, payment_intent_id, metadata_key, metadata_value):
            client = self._client()
            params = {"payment_intent": payment_intent_id, "limit": 100}
            with self._errors():
                page = client.v1.refunds.list(params=params)
                for _ in range(FIND_PAGES):
                    items = list(_get(page, "data", []))
                    for found in items:
                        if _plain(_get(found, "metadata")).get(metadata_key) == metadata_value:
                            return self._refund(found)
                    if not _get(page, "has_more", False) or not items:
                        return None
                    page = client.v1.refunds.list(
                        params={**params, "starting_after": items[-1]["id"]}
                    )
            return None


def test_a_lost_answer_is_reconciled_from_localstripe_without_refunding_twice(
    session, make, localstripe, stripe_client
):
    gateway = LosingGateway(api_base=localstripe.base_url, secret_key=lambda: TEST_SECRET_KEY)
    _invoice, payment = card_paid(session, make, gateway, stripe_client)
    gateway.lose_next = True
    pending = refund(session, gateway, payment, 12000)
    assert pending.status == RefundStatus.PENDING and pending.processor_refund_id is None
    (made,) = refunds_at_localstripe(stripe_client, payment.processor_payment_id)

    settled = refunds.reconcile_refund(session, gateway, refund_id=pending.id, now=NOW)
    again = refunds.reconcile_refund(session, gateway, refund_id=pending.id, now=NOW)

    assert settled.status == again.status == RefundStatus.SUCCEEDED
    assert settled.processor_refund_id == made.id
    assert len(refunds_at_localstripe(stripe_client, payment.processor_payment_id)) == 1
    session.refresh(payment)
    assert payment.amount_refunded_minor == 12000


def test_a_credit_note_on_a_card_paid_invoice_refunds_the_card(
    session, make, gateway, stripe_client
):
    """After payment, a credit note settled as a refund sends the money back through the
    original card payment at localstripe, and the credit note says it is settled."""
    invoice, payment = card_paid(session, make, gateway, stripe_client)
    note = credit_notes.issue_credit_note(
        session,
        gateway,
        invoice_id=invoice.id,
        kind=CreditNoteKind.AMOUNT,
        amount_minor=5000,
        reason="Two hours were not worked",
        settlement=CreditSettlement.REFUND,
        payment_id=payment.id,
        now=NOW,
        actor="staff:1",
    )
    session.expire_all()
    note = session.get(CreditNote, note.id)
    assert note.settlement_status == SettlementStatus.DONE
    (at_stripe,) = refunds_at_localstripe(stripe_client, payment.processor_payment_id)
    assert at_stripe.amount == 5000 and at_stripe.status == "succeeded"
    assert charge_of(stripe_client, payment.processor_payment_id).amount_refunded == 5000
    assert session.get(Payment, payment.id).amount_refunded_minor == 5000
    assert session.get(Invoice, invoice.id).amount_refunded_minor == 5000
