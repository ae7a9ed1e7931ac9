"""The Stripe gateway through the real stripe SDK over HTTP to localstripe: results come back
as Paydesk's dataclasses and processor errors as billing.errors."""

from __future__ import annotations

import pytest

from billing.errors import GatewayPermanent, GatewayRetryable, PaymentDeclined
from billing.gateways.stripe_gateway import StripeGateway
from tests.conftest import free_port
from tests.payments_helpers import (
    CARD_3DS,
    CARD_ATTACH_FAILS,
    CARD_DECLINES,
    CARD_OK,
    authenticate,
    signed_event,
)
from tests.payments_helpers import client as stripe_client


@pytest.fixture
def gateway(localstripe):
    return StripeGateway(api_base=localstripe.base_url, secret_key=lambda: "sk_test_gateway")


@pytest.fixture
def customer(gateway):
    return gateway.create_customer(
        name="Ada", email="ada@example.test", idempotency_key="c1", metadata={}
    )


def card(localstripe, gateway, customer, number):
    pm = stripe_client(localstripe.base_url).v1.payment_methods.create(
        params={
            "type": "card",
            "card": {"number": number, "exp_month": 12, "exp_year": 2031, "cvc": "123"},
        }
    )
    return gateway.attach_card(payment_method_id=pm["id"], customer_id=customer)


def charge(gateway, customer, pm, amount=1234, payment_id="1"):
    return gateway.charge(
        customer_id=customer,
        payment_method_id=pm,
        amount_minor=amount,
        currency="usd",
        idempotency_key=f"payment:{payment_id}",
        metadata={"paydesk_payment_id": payment_id},
    )


def test_no_retries_against_a_test_server_two_against_stripe():
    assert (
        StripeGateway(api_base="http://127.0.0.1:1", secret_key=lambda: "k").max_network_retries
        == 0
    )
    assert (
        StripeGateway(api_base="https://api.stripe.com", secret_key=lambda: "k").max_network_retries
        == 2
    )


def test_a_successful_charge_and_its_refunds(gateway, customer, localstripe):
    saved = card(localstripe, gateway, customer, CARD_OK)
    assert (saved.last4, saved.exp_month, saved.exp_year, saved.customer_id) == (
        "4242",
        12,
        2031,
        customer,
    )
    result = charge(gateway, customer, saved.payment_method_id)
    assert result.succeeded and result.amount_minor == 1234 and result.currency == "USD"
    assert result.charge_id and result.metadata["paydesk_payment_id"] == "1"
    assert gateway.retrieve_payment(result.payment_intent_id).status == "succeeded"
    assert (
        gateway.find_payment(
            customer_id=customer, metadata_key="paydesk_payment_id", metadata_value="1"
        )
        == result
    )
    part = gateway.refund(
        payment_intent_id=result.payment_intent_id,
        amount_minor=200,
        currency="USD",
        idempotency_key="refund:1",
        metadata={"paydesk_refund_id": "1"},
    )
    assert (part.status, part.amount_minor, part.payment_intent_id) == (
        "succeeded",
        200,
        result.payment_intent_id,
    )
    assert gateway.retrieve_refund(part.refund_id).amount_minor == 200


def test_a_decline_has_a_reason_and_advice(gateway, customer, localstripe):
    saved = card(localstripe, gateway, customer, CARD_DECLINES)  # it attaches fine
    with pytest.raises(PaymentDeclined) as declined:
        charge(gateway, customer, saved.payment_method_id, payment_id="2")
    assert declined.value.reason == "Your bank declined the card."
    assert declined.value.advice == "Try another card or contact your bank."
    found = gateway.find_payment(
        customer_id=customer, metadata_key="paydesk_payment_id", metadata_value="2"
    )
    assert found.status == "requires_payment_method"  # localstripe keeps no reference in the error


def test_a_card_that_cannot_be_attached(gateway, customer, localstripe):
    with pytest.raises(PaymentDeclined, match="declined"):
        card(localstripe, gateway, customer, CARD_ATTACH_FAILS)


def test_three_d_secure_then_cancel_or_complete(gateway, customer, localstripe):
    saved = card(localstripe, gateway, customer, CARD_3DS)
    waiting = charge(gateway, customer, saved.payment_method_id, payment_id="3")
    assert waiting.needs_action and waiting.client_secret.startswith(waiting.payment_intent_id)
    authenticate(localstripe.base_url, waiting.client_secret)
    assert gateway.retrieve_payment(waiting.payment_intent_id).succeeded
    assert gateway.cancel_payment(waiting.payment_intent_id).succeeded  # too late to cancel
    other = charge(gateway, customer, saved.payment_method_id, payment_id="4")
    assert gateway.cancel_payment(other.payment_intent_id).status == "canceled"


def test_setup_intents_and_detaching(gateway, customer, localstripe):
    setup = gateway.create_setup_intent(
        customer_id=customer, idempotency_key="s1", metadata={"a": "1"}
    )
    assert setup.status == "requires_payment_method" and setup.client_secret
    assert gateway.retrieve_setup_intent(setup.setup_intent_id).metadata == {"a": "1"}
    saved = card(localstripe, gateway, customer, CARD_OK)
    gateway.detach_card(saved.payment_method_id)
    gateway.detach_card("pm_unknown")  # idempotent
    assert gateway.retrieve_card(saved.payment_method_id).customer_id is None


def test_errors_map_to_domain_errors(localstripe):
    down = StripeGateway(api_base=f"http://127.0.0.1:{free_port()}", secret_key=lambda: "sk_test_x")
    with pytest.raises(GatewayRetryable, match="could not be reached"):
        down.account_info()
    unset = StripeGateway(api_base=localstripe.base_url, secret_key=lambda: None)
    with pytest.raises(GatewayPermanent, match="not set up"):
        unset.account_info()
    bad_key = StripeGateway(api_base=localstripe.base_url, secret_key=lambda: "pk_not_secret")
    with pytest.raises(GatewayPermanent, match="Stripe refused"):
        bad_key.account_info()
    with pytest.raises(GatewayPermanent):
        StripeGateway(
            api_base=localstripe.base_url, secret_key=lambda: "sk_test_x"
        ).retrieve_payment("pi_missing")


def test_webhook_signatures(gateway):
    payload = {
        "id": "evt_1",
        "type": "payment_intent.succeeded",
        "created": 1,
        "data": {
            "object": {
                "object": "payment_intent",
                "id": "pi_1",
                "status": "succeeded",
                "amount": 100,
                "currency": "usd",
                "metadata": {"paydesk_payment_id": "7"},
            }
        },
    }
    body, header = signed_event(payload, "whsec_test_secret")
    event = gateway.parse_webhook(payload=body, signature_header=header, secret="whsec_test_secret")
    assert (event.event_id, event.payment.payment_intent_id, event.payment.metadata) == (
        "evt_1",
        "pi_1",
        {"paydesk_payment_id": "7"},
    )
    with pytest.raises(GatewayPermanent, match="signature"):
        gateway.parse_webhook(
            payload=body + b" ", signature_header=header, secret="whsec_test_secret"
        )
    old_body, old_header = signed_event(payload, "whsec_test_secret", timestamp=1_000_000)
    with pytest.raises(GatewayPermanent, match="signature"):
        gateway.parse_webhook(
            payload=old_body, signature_header=old_header, secret="whsec_test_secret"
        )


def test_a_refund_is_found_again_by_its_metadata(gateway, customer, localstripe):
    saved = card(localstripe, gateway, customer, CARD_OK)
    paid = charge(gateway, customer, saved.payment_method_id, payment_id="9")
    made = gateway.refund(
        payment_intent_id=paid.payment_intent_id,
        amount_minor=100,
        currency="USD",
        idempotency_key="refund:9",
        metadata={"paydesk_refund_id": "9"},
    )
    found = gateway.find_refund(
        payment_intent_id=paid.payment_intent_id,
        metadata_key="paydesk_refund_id",
        metadata_value="9",
    )
    assert found == made
    assert (
        gateway.find_refund(
            payment_intent_id=paid.payment_intent_id,
            metadata_key="paydesk_refund_id",
            metadata_value="10",
        )
        is None
    )
