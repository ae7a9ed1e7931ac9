"""Why a card was declined and what the payer can do about it, in words for people.

Processors give a `code` (card_declined, expired_card, …) and sometimes a finer `decline_code`
(insufficient_funds, lost_card, …). `explain` turns them into (reason, advice). Codes that
must not be revealed to the payer (lost or stolen card, fraud) get the generic answer, as the
processors recommend.
"""

from __future__ import annotations

GENERIC = (
    "Your bank declined the card.",
    "Try another card or contact your bank.",
)

_EXPLANATIONS: dict[str, tuple[str, str]] = {
    "insufficient_funds": (
        "The card has insufficient funds.",
        "Use another card, or pay a smaller amount if partial payment is offered.",
    ),
    "expired_card": (
        "The card has expired.",
        "Check the expiry date or use another card.",
    ),
    "incorrect_cvc": (
        "The security code (CVC) is incorrect.",
        "Check the three digits on the back of the card and try again.",
    ),
    "invalid_cvc": (
        "The security code (CVC) is incorrect.",
        "Check the three digits on the back of the card and try again.",
    ),
    "incorrect_number": (
        "The card number is incorrect.",
        "Check the number or use another card.",
    ),
    "invalid_expiry_year": (
        "The expiry year is invalid.",
        "Check the expiry date on the card.",
    ),
    "processing_error": (
        "The card could not be processed.",
        "Nothing was charged. Wait a moment and try again.",
    ),
    "card_velocity_exceeded": (
        "The card has reached its spending limit.",
        "Use another card or contact your bank.",
    ),
    "authentication_required": (
        "Your bank requires you to confirm this payment.",
        "Pay again from the portal and complete the bank's check.",
    ),
    "payment_intent_authentication_failure": (
        "The bank's security check was not completed.",
        "Try again and complete the check, or use another card.",
    ),
    "currency_not_supported": (
        "The card does not support this currency.",
        "Use another card.",
    ),
}


def explain(code: str | None, decline_code: str | None = None) -> tuple[str, str]:
    """(reason, advice) for a processor's error `code` and optional `decline_code`."""
    for key in (decline_code, code):
        if key and key in _EXPLANATIONS:
            return _EXPLANATIONS[key]
    return GENERIC
