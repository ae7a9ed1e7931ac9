"""The Stripe implementation of PaymentGateway: the only module in Paydesk that imports stripe.

- One `stripe.StripeClient` per secret key, pointed at `api_base` (https://api.stripe.com, or
  localstripe in the demo and tests). Against anything but Stripe itself the SDK never retries
  (`max_network_retries=0`): localstripe ignores Idempotency-Key and some of its calls answer
  500 after saving, so a retry could duplicate objects. Against Stripe it retries twice, with
  our idempotency key on every mutating call. The SDK's telemetry is turned off.
- The secret key is read through `secret_key()` on each call, so a key saved in admin (or
  rotated) takes effect without a restart.
- Processor errors become billing.errors: CardError -> PaymentDeclined (reason and advice from
  billing.gateways.declines), network / 5xx / rate limit -> GatewayRetryable, the rest ->
  GatewayPermanent with Stripe's own message.
- Responses are read defensively: localstripe follows an older API (latest_charge is an inline
  object, no decline_code, no payment_intent on CardError), Stripe a newer one.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

import stripe

from billing.errors import GatewayPermanent, GatewayRetryable, PaymentDeclined
from billing.gateways.base import (
    AccountInfo,
    CardDetails,
    PaymentResult,
    RefundNotice,
    RefundResult,
    SetupResult,
    VerifiedEvent,
)
from billing.gateways.declines import explain

log = logging.getLogger(__name__)

STRIPE_API_BASE = "https://api.stripe.com"
FIND_PAGES = 20  # pages of 100 PaymentIntents searched when reconciling


def _get(obj: Any, key: str, default: Any = None) -> Any:
    """obj[key] for a StripeObject or dict, tolerating missing keys and None objects."""
    if obj is None:
        return default
    try:
        value = obj[key]
    except (KeyError, TypeError, AttributeError):
        return default
    return default if value is None else value


def _dict(obj: Any) -> Any:
    """A stripe response as plain dicts and lists (StripeObject is not a dict in stripe 16)."""
    to_dict = getattr(obj, "to_dict", None)
    return to_dict() if callable(to_dict) else obj


def _plain(mapping: Any) -> dict[str, str]:
    """Metadata as a plain dict of strings."""
    mapping = _dict(mapping)
    if not mapping:
        return {}
    try:
        items = mapping.items()
    except AttributeError:
        return {}
    return {str(k): str(v) for k, v in items}


class StripeGateway:
    """PaymentGateway over the stripe SDK (see the module docstring)."""

    name = "stripe"

    def __init__(self, *, api_base: str, secret_key: Callable[[], str | None]) -> None:
        stripe.enable_telemetry = False
        self.api_base = api_base.rstrip("/")
        self._secret_key = secret_key
        self._clients: dict[str, stripe.StripeClient] = {}
        host = urlsplit(self.api_base).hostname or ""
        self.max_network_retries = 2 if host == urlsplit(STRIPE_API_BASE).hostname else 0

    # --- plumbing ------------------------------------------------------------------------------

    def _client(self) -> stripe.StripeClient:
        key = self._secret_key()
        if not key:
            raise GatewayPermanent(
                "Card payments are not set up: add the Stripe secret key in Settings → Payments."
            )
        client = self._clients.get(key)
        if client is None:
            client = stripe.StripeClient(
                key,
                base_addresses={"api": self.api_base},
                max_network_retries=self.max_network_retries,
            )
            self._clients = {key: client}  # a rotated key replaces the old client
        return client

    @contextmanager
    def _errors(self, payment_intent_id: str | None = None) -> Iterator[None]:
        """Translate stripe's exceptions into billing.errors."""
        try:
            yield
        except stripe.CardError as exc:
            error = exc.error
            code = exc.code or _get(error, "code")
            decline_code = _get(error, "decline_code")
            reason, advice = explain(code, decline_code)
            intent = _get(error, "payment_intent")
            intent_id = _get(intent, "id") if intent is not None else payment_intent_id
            raise PaymentDeclined(
                reason,
                advice,
                code=decline_code or code or "card_declined",
                payment_intent_id=intent_id,
            ) from None
        except (stripe.APIConnectionError, stripe.RateLimitError) as exc:
            detail = " ".join(str(exc.user_message or exc).split())[:400]
            raise GatewayRetryable(f"Stripe could not be reached: {detail}") from None
        except stripe.APIError as exc:
            raise GatewayRetryable(f"Stripe had a problem: {exc.user_message or exc}") from None
        except stripe.StripeError as exc:
            status = exc.http_status or 0
            message = exc.user_message or str(exc) or type(exc).__name__
            if status >= 500 or status == 429:
                raise GatewayRetryable(f"Stripe had a problem: {message}") from None
            raise GatewayPermanent(f"Stripe refused the request: {message}") from None

    # --- results ---------------------------------------------------------------------------

    @staticmethod
    def _payment(pi: Any) -> PaymentResult:
        pi = _dict(pi)
        charge = _get(pi, "latest_charge")
        charge_id = charge if isinstance(charge, str) else _get(charge, "id")
        details = None if isinstance(charge, str) else _get(charge, "payment_method_details")
        card = _get(details, "card")
        error = _get(pi, "last_payment_error")
        payment_method = _get(pi, "payment_method")
        return PaymentResult(
            payment_intent_id=_get(pi, "id", ""),
            status=_get(pi, "status", ""),
            amount_minor=int(_get(pi, "amount", 0)),
            currency=str(_get(pi, "currency", "")).upper(),
            client_secret=_get(pi, "client_secret", ""),
            customer_id=_get(pi, "customer"),
            payment_method_id=(
                payment_method if isinstance(payment_method, str) else _get(payment_method, "id")
            ),
            charge_id=charge_id,
            card_brand=_get(card, "brand"),
            card_last4=_get(card, "last4"),
            failure_code=_get(error, "decline_code") or _get(error, "code"),
            failure_message=_get(error, "message"),
            metadata=_plain(_get(pi, "metadata")),
        )

    @staticmethod
    def _card(pm: Any) -> CardDetails:
        pm = _dict(pm)
        card = _get(pm, "card", {})
        customer = _get(pm, "customer")
        return CardDetails(
            payment_method_id=_get(pm, "id", ""),
            brand=str(_get(card, "brand", "card")).lower(),
            last4=str(_get(card, "last4", "")),
            exp_month=int(_get(card, "exp_month", 0)),
            exp_year=int(_get(card, "exp_year", 0)),
            customer_id=customer if isinstance(customer, str) else _get(customer, "id"),
        )

    @staticmethod
    def _setup(si: Any) -> SetupResult:
        si = _dict(si)
        payment_method = _get(si, "payment_method")
        customer = _get(si, "customer")
        return SetupResult(
            setup_intent_id=_get(si, "id", ""),
            client_secret=_get(si, "client_secret", ""),
            status=_get(si, "status", ""),
            payment_method_id=(
                payment_method if isinstance(payment_method, str) else _get(payment_method, "id")
            ),
            customer_id=customer if isinstance(customer, str) else _get(customer, "id"),
            metadata=_plain(_get(si, "metadata")),
        )

    @staticmethod
    def _refund(refund: Any) -> RefundResult:
        refund = _dict(refund)
        charge = _get(refund, "charge")
        intent = _get(refund, "payment_intent")
        return RefundResult(
            refund_id=_get(refund, "id", ""),
            status=_get(refund, "status", ""),
            amount_minor=int(_get(refund, "amount", 0)),
            currency=str(_get(refund, "currency", "")).upper(),
            payment_intent_id=intent if isinstance(intent, str) else _get(intent, "id"),
            charge_id=charge if isinstance(charge, str) else _get(charge, "id"),
            metadata=_plain(_get(refund, "metadata")),
        )

    # --- the protocol ----------------------------------------------------------------------

    def account_info(self) -> AccountInfo:
        """GET /v1/account; a server without that endpoint (localstripe) is checked by listing
        one customer instead, which proves the key is accepted."""
        client = self._client()
        try:
            with self._errors():
                account = client.v1.accounts.retrieve_current()
        except (GatewayPermanent, GatewayRetryable):
            with self._errors():
                client.v1.customers.list(params={"limit": 1})
            return AccountInfo(
                account_id="", display_name=f"Test server at {self.api_base}", test_mode=True
            )
        settings = _get(_get(account, "settings"), "dashboard")
        name = _get(settings, "display_name") or _get(account, "email") or _get(account, "id", "")
        return AccountInfo(
            account_id=_get(account, "id", ""),
            display_name=str(name),
            test_mode=not bool(_get(account, "livemode", False))
            and str(self._secret_key() or "").startswith("sk_test_"),
        )

    def create_customer(
        self, *, name: str, email: str, idempotency_key: str, metadata: Mapping[str, str]
    ) -> str:
        client = self._client()
        with self._errors():
            customer = client.v1.customers.create(
                params={"name": name, "email": email, "metadata": dict(metadata)},
                options={"idempotency_key": idempotency_key},
            )
        return customer["id"]

    def create_setup_intent(
        self, *, customer_id: str | None, idempotency_key: str, metadata: Mapping[str, str]
    ) -> SetupResult:
        client = self._client()
        params: dict[str, Any] = {
            "usage": "off_session" if customer_id else "on_session",
            "payment_method_types": ["card"],
            "metadata": dict(metadata),
        }
        if customer_id:
            params["customer"] = customer_id
        with self._errors():
            intent = client.v1.setup_intents.create(
                params=params, options={"idempotency_key": idempotency_key}
            )
        return self._setup(intent)

    def retrieve_setup_intent(self, setup_intent_id: str) -> SetupResult:
        client = self._client()
        with self._errors():
            return self._setup(client.v1.setup_intents.retrieve(setup_intent_id))

    def retrieve_card(self, payment_method_id: str) -> CardDetails:
        client = self._client()
        with self._errors():
            return self._card(client.v1.payment_methods.retrieve(payment_method_id))

    def attach_card(self, *, payment_method_id: str, customer_id: str) -> CardDetails:
        client = self._client()
        with self._errors():
            card = self._card(client.v1.payment_methods.retrieve(payment_method_id))
            if card.customer_id == customer_id:
                return card
            return self._card(
                client.v1.payment_methods.attach(
                    payment_method_id, params={"customer": customer_id}
                )
            )

    def detach_card(self, payment_method_id: str) -> None:
        client = self._client()
        try:
            with self._errors():
                client.v1.payment_methods.detach(payment_method_id)
        except GatewayPermanent as exc:
            # Already detached or gone at Stripe: the card is not usable either way.
            log.info("detach of %s: %s", payment_method_id, exc)

    def charge(
        self,
        *,
        customer_id: str | None,
        payment_method_id: str,
        amount_minor: int,
        currency: str,
        idempotency_key: str,
        metadata: Mapping[str, str],
        off_session: bool = False,
    ) -> PaymentResult:
        client = self._client()
        params: dict[str, Any] = {
            "amount": amount_minor,
            "currency": currency.lower(),
            "payment_method": payment_method_id,
            "payment_method_types": ["card"],
            "confirm": True,
            "metadata": dict(metadata),
        }
        if customer_id:
            params["customer"] = customer_id
        if off_session:
            params["off_session"] = True
        with self._errors():
            intent = client.v1.payment_intents.create(
                params=params, options={"idempotency_key": idempotency_key}
            )
        result = self._payment(intent)
        if result.failed:
            reason, advice = explain(result.failure_code)
            raise PaymentDeclined(
                reason,
                advice,
                code=result.failure_code or "card_declined",
                payment_intent_id=result.payment_intent_id,
            )
        return result

    def retrieve_payment(self, payment_intent_id: str) -> PaymentResult:
        client = self._client()
        with self._errors():
            return self._payment(client.v1.payment_intents.retrieve(payment_intent_id))

    def cancel_payment(self, payment_intent_id: str) -> PaymentResult:
        client = self._client()
        try:
            with self._errors():
                return self._payment(client.v1.payment_intents.cancel(payment_intent_id))
        except GatewayPermanent:
            return self.retrieve_payment(payment_intent_id)

    def find_payment(
        self, *, customer_id: str | None, metadata_key: str, metadata_value: str
    ) -> PaymentResult | None:
        """Pages through the customer's PaymentIntents (all of them where the server cannot
        filter by customer, as localstripe cannot) looking for the metadata value."""
        client = self._client()
        params: dict[str, Any] = {"limit": 100}
        if customer_id:
            params["customer"] = customer_id
        with self._errors():
            try:
                page = client.v1.payment_intents.list(params=params)
            except stripe.InvalidRequestError:
                params.pop("customer", None)
                page = client.v1.payment_intents.list(params=params)
            for _ in range(FIND_PAGES):
                items = list(_get(page, "data", []))
                for intent in items:
                    if _plain(_get(intent, "metadata")).get(metadata_key) == metadata_value:
                        return self._payment(intent)
                if not _get(page, "has_more", False) or not items:
                    return None
                page = client.v1.payment_intents.list(
                    params={**params, "starting_after": items[-1]["id"]}
                )
        return None

    def refund(
        self,
        *,
        payment_intent_id: str,
        amount_minor: int,
        currency: str,
        idempotency_key: str,
        metadata: Mapping[str, str],
    ) -> RefundResult:
        client = self._client()
        with self._errors():
            refund = client.v1.refunds.create(
                params={
                    "payment_intent": payment_intent_id,
                    "amount": amount_minor,
                    "metadata": dict(metadata),
                },
                options={"idempotency_key": idempotency_key},
            )
        result = self._refund(refund)
        if result.currency and result.currency != currency.upper():
            raise GatewayPermanent(
                f"Stripe refunded in {result.currency}, expected {currency.upper()}."
            )
        return result

    def retrieve_refund(self, refund_id: str) -> RefundResult:
        client = self._client()
        with self._errors():
            return self._refund(client.v1.refunds.retrieve(refund_id))

    def find_refund(
        self, *, payment_intent_id: str, metadata_key: str, metadata_value: str
    ) -> RefundResult | None:
        """Pages through the PaymentIntent's refunds looking for the metadata value."""
        client = self._client()
        params: dict[str, Any] = {"payment_intent": payment_intent_id, "limit": 100}
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

    def parse_webhook(
        self, *, payload: bytes, signature_header: str, secret: str, tolerance: int = 300
    ) -> VerifiedEvent:
        try:
            stripe.WebhookSignature.verify_header(payload, signature_header, secret, tolerance)
        except stripe.SignatureVerificationError as exc:
            raise GatewayPermanent(f"Bad webhook signature: {exc.user_message or exc}") from None
        try:
            body = json.loads(payload)
        except ValueError as exc:
            raise GatewayPermanent(f"Malformed webhook body: {exc}") from None
        return self.read_event(body)

    def read_event(self, payload: Mapping[str, Any]) -> VerifiedEvent:
        try:
            event_id, event_type = str(payload["id"]), str(payload["type"])
            obj = payload["data"]["object"]
            kind = obj.get("object")
        except (KeyError, TypeError, AttributeError) as exc:
            raise GatewayPermanent(f"Malformed webhook event: missing {exc}") from None
        parsed: dict[str, Any] = {}
        if kind == "payment_intent":
            parsed["payment"] = self._payment(obj)
        elif kind == "payment_method" and _get(obj, "card"):
            parsed["card"] = self._card(obj)
        elif kind == "setup_intent":
            parsed["setup"] = self._setup(obj)
        elif kind == "charge":
            intent = _get(obj, "payment_intent")
            parsed["charge_payment_intent_id"] = (
                intent if isinstance(intent, str) else _get(intent, "id")
            )
            parsed["refunds"] = tuple(
                RefundNotice(
                    refund_id=_get(r, "id", ""),
                    amount_minor=int(_get(r, "amount", 0)),
                    status=_get(r, "status", ""),
                    metadata=_plain(_get(r, "metadata")),
                )
                for r in _get(_get(obj, "refunds"), "data", [])
            )
        return VerifiedEvent(
            event_id=event_id,
            type=event_type,
            created=int(payload.get("created") or 0),
            payload=payload,
            **parsed,
        )
