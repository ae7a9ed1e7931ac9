"""The domain's exceptions. Adapters turn them into messages (HTTP 4xx, flash, job logs)."""


class BillingError(Exception):
    """Base of every expected, user-explainable failure in the domain."""


class NotFound(BillingError):
    """The record does not exist or is not visible to this actor (the web answers 404)."""


class InvalidTransition(BillingError):
    """A state change that the record's transition table does not allow."""


class ValidationFailed(BillingError):
    """Input that cannot be accepted; `errors` maps field names to messages."""

    def __init__(self, errors: dict[str, str]):
        self.errors = errors
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))


class RateLimited(BillingError):
    """Too many attempts; `retry_after_seconds` says when to try again."""

    def __init__(self, retry_after_seconds: int):
        self.retry_after_seconds = retry_after_seconds
        minutes = max(1, -(-retry_after_seconds // 60))
        super().__init__(
            f"Too many attempts. For your security, please wait {minutes} minute"
            f"{'s' if minutes != 1 else ''} and try again."
        )


class AuthenticationFailed(BillingError):
    """Wrong email or password (deliberately never says which)."""


class TokenInvalid(BillingError):
    """A sign-in or reset link that is unknown, used or expired."""


class PaymentDeclined(BillingError):
    """The processor refused the card. `reason` says why (for the payer and staff), `advice`
    what the payer can do next; `code` is the processor's decline code when it gave one."""

    def __init__(
        self,
        reason: str,
        advice: str,
        code: str = "card_declined",
        payment_intent_id: str | None = None,
    ):
        self.reason = reason
        self.advice = advice
        self.code = code
        self.payment_intent_id = payment_intent_id
        super().__init__(f"{reason} {advice}".strip())


class AuthenticationRequired(BillingError):
    """The card's bank asks the payer to authenticate (3-D Secure): the browser finishes it with
    Stripe.js confirmCardPayment(client_secret), then the server confirms the outcome."""

    def __init__(self, client_secret: str, payment_intent_id: str = "", payment_id: int = 0):
        self.client_secret = client_secret
        self.payment_intent_id = payment_intent_id
        self.payment_id = payment_id
        super().__init__("Your bank asks you to confirm this payment.")


class GatewayRetryable(BillingError):
    """The processor could not be reached or answered 5xx / rate limited: trying again later
    may work, and nothing is known to have happened (reconciliation settles the outcome)."""


class GatewayPermanent(BillingError):
    """The processor refused the request for a reason retrying will not fix (bad key, invalid
    request, not configured). The message is safe to show to staff."""


class Conflict(BillingError):
    """Another request is doing the same work right now (an order with this Idempotency-Key, a
    quote's conversion). Nothing was changed; trying again shortly gets the outcome."""


class IdempotencyKeyReused(BillingError):
    """An Idempotency-Key that was already used with a different request body."""
