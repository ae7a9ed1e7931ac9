"""Checking the lines of an order (the orders API) before anything is written.

Every bad value gets its own message under a path such as `lines[2].quantity`, so a form can
show it beside the field and the API can return it in `error.fields`. The limits keep amounts
far inside the database's integer range and refuse what no real document holds (a quantity of
ten million, a 500% tax, a thousand lines, a megabyte of memo).
"""

from __future__ import annotations

from billing.services.invoices import (
    MAX_LINES,
    MAX_MEMO,
    MAX_TOTAL_MINOR,
    DraftLine,
    line_problems,
)

# The invoices' own limits and line checks (billing.services.invoices), so an order that
# passes here is never refused when it becomes an invoice.
MAX_DISCOUNT_MINOR = MAX_TOTAL_MINOR


def check_lines(lines: list[DraftLine], prefix: str = "lines") -> dict[str, str]:
    """{field path: message} for every problem in `lines` (empty when all is well), paths such
    as `lines[2].unit_amount_minor`. Pure."""
    if not lines:
        return {prefix: "Add at least one line."}
    if len(lines) > MAX_LINES:
        return {prefix: f"A document has at most {MAX_LINES} lines."}
    return {
        f"{prefix}[{i}].{field}": message
        for i, line in enumerate(lines)
        for field, message in line_problems(line).items()
    }


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
