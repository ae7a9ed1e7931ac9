"""Invoice arithmetic, defined once.

For each line:    amount   = round(quantity x unit_amount)             (the rounding point per line)
The invoice discount is split over the lines in proportion to their amounts (money.allocate), so
the shares add up to the discount exactly:
                  taxable  = amount - discount_share
                  tax      = round(taxable x tax_rate / 100)           (tax rounded per line)
For the invoice:  subtotal = sum(amount)
                  discount = sum(discount_share)  (== the discount asked for, capped at subtotal)
                  tax      = sum(tax)
                  total    = subtotal - discount + tax
After issue:      amount_due = total - amount_paid; refunds return money but never reopen one
                  (amount_refunded <= amount_paid <= total). The same equations are CHECK
                  constraints on the invoices table.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from billing.money import allocate, round_minor


@dataclass(frozen=True)
class LineInput:
    quantity: Decimal
    unit_amount_minor: int
    tax_rate: Decimal = Decimal(0)  # percent, exclusive of price


@dataclass(frozen=True)
class LineTotals:
    amount_minor: int
    discount_minor: int
    tax_minor: int


@dataclass(frozen=True)
class InvoiceTotals:
    lines: tuple[LineTotals, ...]
    subtotal_minor: int
    discount_minor: int
    tax_minor: int
    total_minor: int


def compute_totals(lines: list[LineInput], discount_minor: int = 0) -> InvoiceTotals:
    """Totals for `lines` with an invoice-level `discount_minor`; raises ValueError on bad input."""
    if discount_minor < 0:
        raise ValueError("discount cannot be negative")
    for line in lines:
        if line.quantity <= 0:
            raise ValueError("quantity must be positive")
        if line.unit_amount_minor < 0:
            raise ValueError("unit amount cannot be negative")
        if line.tax_rate < 0:
            raise ValueError("tax rate cannot be negative")
    amounts = [round_minor(line.quantity * line.unit_amount_minor) for line in lines]
    subtotal = sum(amounts)
    discount = min(discount_minor, subtotal)
    shares = allocate(discount, amounts) if lines else []
    result = []
    for line, amount, share in zip(lines, amounts, shares, strict=True):
        tax = round_minor((amount - share) * line.tax_rate / Decimal(100))
        result.append(LineTotals(amount, share, tax))
    tax_total = sum(t.tax_minor for t in result)
    return InvoiceTotals(
        lines=tuple(result),
        subtotal_minor=subtotal,
        discount_minor=discount,
        tax_minor=tax_total,
        total_minor=subtotal - discount + tax_total,
    )
