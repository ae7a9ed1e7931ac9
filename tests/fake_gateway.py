"""An in-memory PaymentGateway for fast domain tests (never the only coverage: the same flows
run against localstripe through the real stripe SDK).

Cards are added with `add_card(number)`; the numbers behave like localstripe's test cards:
4000000000000341 declines every charge, 4000002500003155 needs 3-D Secure (finish it with
`authenticate(pi_id)`), 4000000000000002 cannot be attached. `lose_next_response = True` makes
the next charge happen but raise GatewayRetryable, as if the answer were lost on the way back.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from billing.errors import GatewayRetryable, PaymentDeclined
from billing.gateways.base import (
    AccountInfo,
    CardDetails,
    PaymentResult,
    RefundResult,
    SetupResult,
    VerifiedEvent,
)
from billing.gateways.declines import explain

DECLINES = "4000000000000341"
THREE_D_SECURE = "4000002500003155"
ATTACH_FAILS = "4000000000000002"


@dataclass
class FakeGateway:
    name: str = "stripe"
    cards: dict[str, tuple[str, str | None]] = field(default_factory=dict)
    payments: dict[str, PaymentResult] = field(default_factory=dict)
    refunds: dict[str, RefundResult] = field(default_factory=dict)
    setups: dict[str, SetupResult] = field(default_factory=dict)
    customers: dict[str, str] = field(default_factory=dict)
    charge_calls: int = 0
    lose_next_response: bool = False
    _ids: itertools.count = field(default_factory=lambda: itertools.count(1))

    def _id(self, prefix: str) -> str:
        return f"{prefix}_fake{next(self._ids)}"

    # --- test helpers -----------------------------------------------------------------------

    def add_card(self, number: str = "4242424242424242", customer_id: str | None = None) -> str:
        pm = self._id("pm")
        self.cards[pm] = (number, customer_id)
        return pm

    def succeeded_setup(self, number: str, *, customer_id: str | None, metadata=None) -> str:
        """A SetupIntent the browser confirmed with this card; returns its id."""
        pm = self.add_card(number, customer_id)
        seti = self._id("seti")
        self.setups[seti] = SetupResult(
            seti, f"{seti}_secret", "succeeded", pm, customer_id, dict(metadata or {})
        )
        return seti

    def authenticate(self, payment_intent_id: str, success: bool = True) -> None:
        result = self.payments[payment_intent_id]
        self.payments[payment_intent_id] = replace(
            result,
            status="succeeded" if success else "requires_payment_method",
            charge_id=self._id("ch") if success else None,
            failure_code=None if success else "payment_intent_authentication_failure",
        )

    # --- the protocol -----------------------------------------------------------------------

    def account_info(self) -> AccountInfo:
        return AccountInfo("acct_fake", "Fake gateway", True)

    def create_customer(self, *, name, email, idempotency_key, metadata) -> str:
        if idempotency_key in self.customers:
            return self.customers[idempotency_key]
        customer = self._id("cus")
        self.customers[idempotency_key] = customer
        return customer

    def create_setup_intent(self, *, customer_id, idempotency_key, metadata) -> SetupResult:
        seti = self._id("seti")
        result = SetupResult(
            seti, f"{seti}_secret", "requires_payment_method", None, customer_id, dict(metadata)
        )
        self.setups[seti] = result
        return result

    def retrieve_setup_intent(self, setup_intent_id: str) -> SetupResult:
        return self.setups[setup_intent_id]

    def retrieve_card(self, payment_method_id: str) -> CardDetails:
        number, customer = self.cards[payment_method_id]
        return CardDetails(payment_method_id, "visa", number[-4:], 12, 2030, customer)

    def attach_card(self, *, payment_method_id: str, customer_id: str) -> CardDetails:
        number, _customer = self.cards[payment_method_id]
        if number == ATTACH_FAILS:
            reason, advice = explain("card_declined")
            raise PaymentDeclined(reason, advice)
        self.cards[payment_method_id] = (number, customer_id)
        return self.retrieve_card(payment_method_id)

    def detach_card(self, payment_method_id: str) -> None:
        if payment_method_id in self.cards:
            number, _ = self.cards[payment_method_id]
            self.cards[payment_method_id] = (number, None)

    def charge(
        self,
        *,
        customer_id,
        payment_method_id,
        amount_minor,
        currency,
        idempotency_key,
        metadata: Mapping[str, str],
        off_session=False,
    ) -> PaymentResult:
        self.charge_calls += 1
        number, _ = self.cards[payment_method_id]
        pi = self._id("pi")
        status = {DECLINES: "requires_payment_method", THREE_D_SECURE: "requires_action"}.get(
            number, "succeeded"
        )
        result = PaymentResult(
            payment_intent_id=pi,
            status=status,
            amount_minor=amount_minor,
            currency=currency.upper(),
            client_secret=f"{pi}_secret",
            customer_id=customer_id,
            payment_method_id=payment_method_id,
            charge_id=self._id("ch") if status == "succeeded" else None,
            card_brand="visa",
            card_last4=number[-4:],
            failure_code="card_declined" if number == DECLINES else None,
            metadata=dict(metadata),
        )
        self.payments[pi] = result
        if self.lose_next_response:
            self.lose_next_response = False
            raise GatewayRetryable("Stripe could not be reached: the answer was lost")
        if number == DECLINES:
            reason, advice = explain("card_declined")
            raise PaymentDeclined(reason, advice, payment_intent_id=pi)
        return result

    def retrieve_payment(self, payment_intent_id: str) -> PaymentResult:
        return self.payments[payment_intent_id]

    def cancel_payment(self, payment_intent_id: str) -> PaymentResult:
        result = self.payments[payment_intent_id]
        if result.status != "succeeded":
            result = replace(result, status="canceled")
            self.payments[payment_intent_id] = result
        return result

    def find_payment(self, *, customer_id, metadata_key, metadata_value) -> PaymentResult | None:
        for result in self.payments.values():
            if result.metadata.get(metadata_key) == metadata_value:
                return result
        return None

    def refund(self, *, payment_intent_id, amount_minor, currency, idempotency_key, metadata):
        refund = RefundResult(
            self._id("re"),
            "succeeded",
            amount_minor,
            currency.upper(),
            payment_intent_id,
            self.payments[payment_intent_id].charge_id,
            dict(metadata),
        )
        self.refunds[refund.refund_id] = refund
        return refund

    def retrieve_refund(self, refund_id: str) -> RefundResult:
        return self.refunds[refund_id]

    def find_refund(self, *, payment_intent_id, metadata_key, metadata_value):
        for refund in self.refunds.values():
            if (
                refund.payment_intent_id == payment_intent_id
                and refund.metadata.get(metadata_key) == metadata_value
            ):
                return refund
        return None

    def read_event(self, payload) -> VerifiedEvent:
        return _stripe_reader().read_event(payload)

    def parse_webhook(self, *, payload, signature_header, secret, tolerance=300) -> VerifiedEvent:
        return _stripe_reader().parse_webhook(
            payload=payload, signature_header=signature_header, secret=secret, tolerance=tolerance
        )


def _stripe_reader():
    """Webhooks are read the real gateway's way (signature checks need no network)."""
    from billing.gateways.stripe_gateway import StripeGateway

    return StripeGateway(api_base="http://fake.invalid", secret_key=lambda: None)
