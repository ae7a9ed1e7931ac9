"""The payment-gateway protocol the domain talks to, and the small immutable results it returns.

Services receive a `PaymentGateway` (chosen by create_app or the worker entry point) and never
see processor objects: every answer is one of the frozen dataclasses below, and every failure
one of billing.errors' PaymentDeclined, AuthenticationRequired, GatewayRetryable or
GatewayPermanent. Amounts are integer minor units with an upper-case ISO 4217 currency.

Every mutating call takes an `idempotency_key` derived from a committed local row
(`payment:<id>`, `refund:<id>`, …) and writes `metadata` onto the processor object, so a lost
answer is found again by that metadata instead of repeating the operation.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True)
class AccountInfo:
    """Who the configured key belongs to (shown by "Test connection")."""

    account_id: str
    display_name: str
    test_mode: bool


@dataclass(frozen=True)
class CardDetails:
    """A saved card as the portal may show it: brand, last four digits, expiry. Nothing more."""

    payment_method_id: str
    brand: str
    last4: str
    exp_month: int
    exp_year: int
    customer_id: str | None = None


@dataclass(frozen=True)
class SetupResult:
    """A SetupIntent: the browser confirms it with Stripe.js using `client_secret`."""

    setup_intent_id: str
    client_secret: str
    status: str  # requires_payment_method, requires_action, succeeded, canceled, …
    payment_method_id: str | None = None
    customer_id: str | None = None
    metadata: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class PaymentResult:
    """A PaymentIntent's state. `status` is the processor's: succeeded, requires_action,
    processing, requires_payment_method (declined or not yet tried), canceled, …"""

    payment_intent_id: str
    status: str
    amount_minor: int
    currency: str
    client_secret: str = ""
    customer_id: str | None = None
    payment_method_id: str | None = None
    charge_id: str | None = None
    card_brand: str | None = None
    card_last4: str | None = None
    failure_code: str | None = None
    failure_message: str | None = None
    metadata: Mapping[str, str] = field(default_factory=dict)

    @property
    def succeeded(self) -> bool:
        return self.status == "succeeded"

    @property
    def needs_action(self) -> bool:
        return self.status == "requires_action"

    @property
    def failed(self) -> bool:
        """Tried and refused (declined, failed authentication) or canceled."""
        return self.status in {"requires_payment_method", "canceled"} and bool(
            self.failure_code or self.failure_message or self.status == "canceled"
        )


@dataclass(frozen=True)
class RefundResult:
    refund_id: str
    status: str  # succeeded, pending, failed, canceled
    amount_minor: int
    currency: str
    payment_intent_id: str | None = None
    charge_id: str | None = None
    metadata: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class RefundNotice:
    """One refund listed on a refunded charge (charge.refunded)."""

    refund_id: str
    amount_minor: int
    status: str
    metadata: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class VerifiedEvent:
    """A processor event whose signature was checked: its id (for exactly-once storage), type,
    the raw payload (stored), and its object read into Paydesk's terms (whichever applies)."""

    event_id: str
    type: str
    created: int
    payload: Mapping[str, Any]
    payment: PaymentResult | None = None
    card: CardDetails | None = None
    setup: SetupResult | None = None
    refunds: tuple[RefundNotice, ...] = ()
    charge_payment_intent_id: str | None = None


class PaymentGateway(Protocol):
    """What Paydesk asks of a card processor. Implementations raise only billing.errors."""

    name: str

    def account_info(self) -> AccountInfo:
        """The account the secret key belongs to; GatewayPermanent with the processor's exact
        message for a bad key, GatewayRetryable when unreachable."""

    def create_customer(
        self, *, name: str, email: str, idempotency_key: str, metadata: Mapping[str, str]
    ) -> str:
        """A new processor customer; returns its id."""

    def create_setup_intent(
        self, *, customer_id: str | None, idempotency_key: str, metadata: Mapping[str, str]
    ) -> SetupResult:
        """A SetupIntent, confirmed in the browser: for saving a card to `customer_id`, or
        (None) for a card used for one payment only (pay links)."""

    def retrieve_setup_intent(self, setup_intent_id: str) -> SetupResult: ...

    def retrieve_card(self, payment_method_id: str) -> CardDetails: ...

    def attach_card(self, *, payment_method_id: str, customer_id: str) -> CardDetails:
        """Attach the card to the customer (a no-op when already attached to it). Raises
        PaymentDeclined when the bank refuses the card."""

    def detach_card(self, payment_method_id: str) -> None:
        """Detach a saved card. Idempotent: an unknown or detached card is fine."""

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
        """Create and confirm a PaymentIntent for a card (saved to `customer_id`, or set up
        for this one payment when None). Returns the result when it succeeded or needs 3-D
        Secure (status requires_action, with client_secret); raises PaymentDeclined (with
        payment_intent_id when the processor said which), GatewayRetryable (outcome unknown:
        reconcile by metadata) or GatewayPermanent."""

    def retrieve_payment(self, payment_intent_id: str) -> PaymentResult: ...

    def cancel_payment(self, payment_intent_id: str) -> PaymentResult:
        """Cancel a PaymentIntent that has not succeeded (abandoned 3-D Secure). Returns the
        current state instead when it can no longer be canceled (it may have succeeded)."""

    def find_payment(
        self, *, customer_id: str | None, metadata_key: str, metadata_value: str
    ) -> PaymentResult | None:
        """The PaymentIntent whose metadata[metadata_key] == metadata_value, or None (for
        reconciling a call whose answer was lost)."""

    def refund(
        self,
        *,
        payment_intent_id: str,
        amount_minor: int,
        currency: str,
        idempotency_key: str,
        metadata: Mapping[str, str],
    ) -> RefundResult:
        """Refund part or all of a succeeded payment. The caller enforces the refundable
        remainder; the processor may be more lenient (localstripe is)."""

    def retrieve_refund(self, refund_id: str) -> RefundResult: ...

    def find_refund(
        self, *, payment_intent_id: str, metadata_key: str, metadata_value: str
    ) -> RefundResult | None:
        """The PaymentIntent's refund whose metadata[metadata_key] == metadata_value, or None
        (for reconciling a refund whose answer was lost)."""

    def parse_webhook(
        self, *, payload: bytes, signature_header: str, secret: str, tolerance: int = 300
    ) -> VerifiedEvent:
        """Verify the signature on the raw body and read it; raises GatewayPermanent for a
        bad or stale signature or a malformed body."""

    def read_event(self, payload: Mapping[str, Any]) -> VerifiedEvent:
        """Read an event stored after its signature was verified (no verification here);
        raises GatewayPermanent for a malformed one."""
