"""Checking the lines of an order (the orders API) before anything is written.

Every bad value gets its own message under a path such as `lines[2].quantity`, so a form can
show it beside the field and the API can return it in `error.fields`. The limits keep amounts
far inside the database's integer range and refuse what no real document holds (a quantity of
ten million, a 500% tax, a thousand lines, a megabyte of memo).
"""

from __future__ import annotations

from decimal import Decimal

from billing.services.invoices import (
    MAX_DESCRIPTION,
    MAX_LINES,
    MAX_MEMO,
    MAX_QUANTITY,
    MAX_TOTAL_MINOR,
    MAX_UNIT_MINOR,
    PERCENT_PLACES,
    QUANTITY_PLACES,
    DraftLine,
)

# The same limits as invoices (billing.services.invoices), so an order that passes here
# is never refused when it becomes an invoice.
MAX_TAX_RATE = Decimal(100)
MAX_DISCOUNT_MINOR = MAX_TOTAL_MINOR


def places(value: Decimal) -> int:
    """Digits after the decimal point that `value` really uses (1.50 has 1)."""
    exponent = value.normalize().as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


def check_lines(lines: list[DraftLine], prefix: str = "lines") -> dict[str, str]:
    """{field path: message} for every problem in `lines` (empty when all is well). Pure."""
    if not lines:
        return {prefix: "Add at least one line."}
    if len(lines) > MAX_LINES:
        return {prefix: f"A document has at most {MAX_LINES} lines."}
    errors: dict[str, str] = {}
    for i, line in enumerate(lines):
        at = f"{prefix}[{i}]"
        description = line.description.strip()
        if not description:
            errors[f"{at}.description"] = "Describe what is sold."
        elif len(description) > MAX_DESCRIPTION:
            errors[f"{at}.description"] = f"Use at most {MAX_DESCRIPTION} characters."
        if not line.quantity.is_finite() or line.quantity <= 0:
            errors[f"{at}.quantity"] = "The quantity must be more than zero."
        elif line.quantity > MAX_QUANTITY:
            errors[f"{at}.quantity"] = f"The quantity can be at most {MAX_QUANTITY:,}."
        elif places(line.quantity) > QUANTITY_PLACES:
            errors[f"{at}.quantity"] = f"Use at most {QUANTITY_PLACES} decimal places."
        if line.unit_amount_minor < 0:
            errors[f"{at}.unit_amount"] = "The unit price cannot be negative."
        elif line.unit_amount_minor > MAX_UNIT_MINOR:
            errors[f"{at}.unit_amount"] = "The unit price is too large."
        if not line.tax_rate.is_finite() or not 0 <= line.tax_rate <= MAX_TAX_RATE:
            errors[f"{at}.tax_rate"] = "The tax rate must be between 0 and 100 percent."
        elif places(line.tax_rate) > PERCENT_PLACES:
            errors[f"{at}.tax_rate"] = f"Use at most {PERCENT_PLACES} decimal places."
    return errors


def check_memo(memo: str, field: str = "memo") -> dict[str, str]:
    if len(memo) > MAX_MEMO:
        return {field: f"Use at most {MAX_MEMO:,} characters."}
    return {}


def check_total(total_minor: int) -> dict[str, str]:
    if total_minor > MAX_TOTAL_MINOR:
        return {"lines": "The total is too large."}
    return {}


def check_discount(discount_minor: int, subtotal_minor: int | None) -> dict[str, str]:
    """The document discount: not negative and not more than the lines add up to."""
    if discount_minor < 0:
        return {"discount": "The discount cannot be negative."}
    if discount_minor > MAX_DISCOUNT_MINOR or (
        subtotal_minor is not None and discount_minor > subtotal_minor
    ):
        return {"discount": "The discount cannot be more than the lines add up to."}
    return {}
