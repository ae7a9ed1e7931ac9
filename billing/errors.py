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
