"""Helpers for payment tests: doing in Python what Stripe.js does in the browser (against
localstripe), reading localstripe's records, and signing webhook payloads."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from typing import Any

import stripe

from tests.localstripe_fixture import TEST_PUBLISHABLE_KEY, TEST_SECRET_KEY, TEST_WEBHOOK_SECRET

CARD_OK = "4242424242424242"
CARD_DECLINES = "4000000000000341"
CARD_ATTACH_FAILS = "4000000000000002"
CARD_3DS = "4000002500003155"


def _post_json(url: str, body: dict) -> tuple[int, dict]:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


def confirm_card_setup(
    base_url: str, client_secret: str, number: str, *, authenticate: bool = True
) -> tuple[int, dict]:
    """What Stripe.js confirmCardSetup does for a card typed into the card element, including
    "Complete authentication" in the 3-D Secure window when the card asks for it."""
    seti = client_secret.split("_secret_")[0]
    status, body = _post_json(
        f"{base_url}/v1/setup_intents/{seti}/confirm",
        {
            "key": TEST_PUBLISHABLE_KEY,
            "use_stripe_sdk": True,
            "client_secret": client_secret,
            "payment_method_data": {
                "type": "card",
                "card": {"number": number, "exp_month": "12", "exp_year": "2030", "cvc": "123"},
            },
        },
    )
    if status == 200 and body.get("status") == "requires_action" and authenticate:
        status, body = _post_json(
            f"{base_url}/v1/setup_intents/{seti}/confirm",
            {"key": TEST_PUBLISHABLE_KEY, "use_stripe_sdk": True, "client_secret": client_secret},
        )
    return status, body


def authenticate(base_url: str, client_secret: str, *, success: bool = True) -> tuple[int, dict]:
    """Finish (or fail) 3-D Secure, as the bank's window does via confirmCardPayment."""
    pi = client_secret.split("_secret_")[0]
    return _post_json(
        f"{base_url}/v1/payment_intents/{pi}/_authenticate?success={str(success).lower()}",
        {"key": TEST_PUBLISHABLE_KEY, "client_secret": client_secret},
    )


def client(base_url: str) -> stripe.StripeClient:
    stripe.enable_telemetry = False
    return stripe.StripeClient(
        TEST_SECRET_KEY, base_addresses={"api": base_url}, max_network_retries=0
    )


def payment_intents(base_url: str) -> list[dict[str, Any]]:
    """Every PaymentIntent localstripe holds."""
    found, params = [], {"limit": 100}
    api = client(base_url)
    while True:
        page = api.v1.payment_intents.list(params=params)
        items = [item.to_dict() for item in page.data]
        found.extend(items)
        if not page.has_more or not items:
            return found
        params["starting_after"] = items[-1]["id"]


def charges_for(base_url: str, paydesk_payment_id: int) -> list[dict[str, Any]]:
    """Succeeded charges of the PaymentIntents carrying our payment id in their metadata."""
    return [
        pi
        for pi in payment_intents(base_url)
        if (pi.get("metadata") or {}).get("paydesk_payment_id") == str(paydesk_payment_id)
        and pi.get("status") == "succeeded"
    ]


def signed_event(payload: dict, secret: str, *, timestamp: int | None = None) -> tuple[bytes, str]:
    """A webhook body and its Stripe-Signature header, as Stripe would sign them."""
    body = json.dumps(payload).encode()
    timestamp = int(time.time()) if timestamp is None else timestamp
    signature = stripe.WebhookSignature._compute_signature(f"{timestamp}.{body.decode()}", secret)
    return body, f"t={timestamp},v1={signature}"


def event(event_id: str, event_type: str, obj: dict) -> dict:
    """A Stripe event carrying `obj` (as Stripe sends it, before signing)."""
    return {
        "id": event_id,
        "object": "event",
        "type": event_type,
        "created": int(time.time()),
        "data": {"object": obj},
    }


def post_event(client, payload: dict, *, secret=TEST_WEBHOOK_SECRET, timestamp=None):
    """Deliver a signed event to the app's webhook endpoint through its test client."""
    body, header = signed_event(payload, secret, timestamp=timestamp)
    return client.post(
        "/hooks/stripe",
        data=body,
        headers={"Stripe-Signature": header, "Content-Type": "application/json"},
    )


def wait_for(predicate, *, timeout: float = 15, interval: float = 0.05, message: str = ""):
    """Poll `predicate` until it returns something truthy; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(message or f"timed out after {timeout} s")
        time.sleep(interval)
