"""Invoice and credit note arithmetic, defined once. Everything is integer minor units; Decimal
appears only inside a step and is rounded by billing.money (ROUND_HALF_UP) exactly where marked.

Inputs. A line has a quantity, a unit amount, an optional line discount (a percent OR an amount)
and any number of taxes, each a percentage that is either exclusive (added on top of the price)
or inclusive (already inside the price). The invoice may have a discount (a percent OR an
amount). The legacy `tax_rate` of a line is one more exclusive tax.

For each line:
    amount        = round(quantity x unit_amount)                          rounding point 1
    line_discount = round(amount x percent / 100)  or  min(discount amount, amount)
    net           = amount - line_discount
The invoice discount, asked = round(sum(net) x percent / 100) or min(amount, sum(net)), is
split over the lines in proportion to their net amounts (money.allocate), so the shares add up
to it exactly, and then for each line:
    discount      = line_discount + share                                  (<= amount)
    base          = amount - discount           the price of the line after discounts
    pre_tax       = base / (1 + sum(inclusive rates) / 100)                (exact, not rounded)
    tax_k         = round(pre_tax x rate_k / 100)   for every tax k        one rounding point
                                                                           per tax per line
    tax           = sum(tax_k)
    tax_inclusive = sum(tax_k of the inclusive taxes)    (already inside base; <= base because
                                                          the inclusive rates of a line add up
                                                          to at most 100%)
    total         = base + tax - tax_inclusive
With one inclusive tax this is tax = round(base - base / (1 + rate)).
For the invoice:  subtotal      = sum(amount)
                  discount      = sum(discount)
                  tax           = sum(tax)
                  tax_inclusive = sum(tax_inclusive)
                  total         = subtotal - discount + tax - tax_inclusive   (= sum of line totals)

Credit notes (against a finalized invoice; all credit notes together never exceed its total):
    for chosen lines: each line's total, with its tax, exactly as invoiced
    for an amount A:  [A - tax_part, tax_part] = allocate(A, [total - tax, tax])  (exact split)
    for the whole invoice: the amount not yet credited, split the same way
    applied to due = min(A, amount due); the rest goes back to the customer as a refund of
    the original payment or as account credit, as staff choose.

After issue:  amount_due = total - amount_paid - amount_credited, where amount_credited is the
              part of credit notes applied to the amount due. Refunds return money but never
              reopen an invoice (amount_refunded <= amount_paid <= total). The same equations are
              CHECK constraints on the invoices table.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from billing.money import allocate, round_minor

HUNDRED = Decimal(100)


@dataclass(frozen=True)
class TaxInput:
    rate: Decimal  # percent, 0..100
    inclusive: bool = False


@dataclass(frozen=True)
class LineInput:
    quantity: Decimal
    unit_amount_minor: int
    tax_rate: Decimal = Decimal(0)  # legacy: one more exclusive tax, in percent
    taxes: tuple[TaxInput, ...] = ()
    discount_percent: Decimal | None = None
    discount_amount_minor: int = 0

    def all_taxes(self) -> tuple[TaxInput, ...]:
        legacy = (TaxInput(self.tax_rate),) if self.tax_rate else ()
        return legacy + tuple(self.taxes)


@dataclass(frozen=True)
class LineTotals:
    amount_minor: int
    discount_minor: int  # the line's own discount plus its share of the invoice discount
    tax_minor: int  # every tax of the line, inclusive ones included
    tax_inclusive_minor: int = 0  # the part of tax_minor already inside the price
    taxes_minor: tuple[int, ...] = ()  # one per tax, in LineInput.all_taxes() order
    line_discount_minor: int = 0  # the line's own discount (without the invoice share)

    @property
    def total_minor(self) -> int:
        return self.amount_minor - self.discount_minor + self.tax_minor - self.tax_inclusive_minor


@dataclass(frozen=True)
class InvoiceTotals:
    lines: tuple[LineTotals, ...]
    subtotal_minor: int
    discount_minor: int
    tax_minor: int
    total_minor: int
    tax_inclusive_minor: int = 0


def _check_percent(value: Decimal | None, what: str) -> None:
    if value is not None and not (0 <= value <= HUNDRED):
        raise ValueError(f"{what} must be between 0 and 100%")


def _check(lines: list[LineInput], discount_minor: int, discount_percent: Decimal | None) -> None:
    if discount_minor < 0:
        raise ValueError("discount cannot be negative")
    if discount_minor and discount_percent:
        raise ValueError("give the discount as a percent or as an amount, not both")
    _check_percent(discount_percent, "the discount")
    for line in lines:
        if line.quantity <= 0:
            raise ValueError("quantity must be positive")
        if line.unit_amount_minor < 0:
            raise ValueError("unit amount cannot be negative")
        if line.discount_amount_minor < 0:
            raise ValueError("a line discount cannot be negative")
        if line.discount_amount_minor and line.discount_percent:
            raise ValueError("give a line discount as a percent or as an amount, not both")
        _check_percent(line.discount_percent, "a line discount")
        if line.tax_rate < 0:
            raise ValueError("tax rate cannot be negative")
        for tax in line.all_taxes():
            _check_percent(tax.rate, "a tax rate")
        if sum((t.rate for t in line.all_taxes() if t.inclusive), Decimal(0)) > HUNDRED:
            raise ValueError("the inclusive taxes of a line cannot add up to more than 100%")


def _own_discount(line: LineInput, amount: int) -> int:
    if line.discount_percent:
        return round_minor(amount * line.discount_percent / HUNDRED)
    return min(line.discount_amount_minor, amount)


def _line_taxes(line: LineInput, base: int) -> tuple[tuple[int, ...], int]:
    """(each tax, the inclusive part) of a line whose discounted price is `base`."""
    taxes = line.all_taxes()
    inclusive_rates = sum((t.rate for t in taxes if t.inclusive), Decimal(0))
    pre_tax = Decimal(base) / (1 + inclusive_rates / HUNDRED)
    amounts = tuple(round_minor(pre_tax * t.rate / HUNDRED) for t in taxes)
    inclusive = sum(a for a, t in zip(amounts, taxes, strict=True) if t.inclusive)
    return amounts, inclusive


def compute_totals(
    lines: list[LineInput], discount_minor: int = 0, discount_percent: Decimal | None = None
) -> InvoiceTotals:
    """Totals for `lines` with an invoice discount given as an amount (`discount_minor`, capped
    at what the lines come to) or a percent. Pure; raises ValueError on bad input."""
    _check(lines, discount_minor, discount_percent)
    amounts = [round_minor(line.quantity * line.unit_amount_minor) for line in lines]
    own = [_own_discount(line, amount) for line, amount in zip(lines, amounts, strict=True)]
    nets = [amount - d for amount, d in zip(amounts, own, strict=True)]
    if discount_percent:
        asked = round_minor(sum(nets) * discount_percent / HUNDRED)
    else:
        asked = min(discount_minor, sum(nets))
    shares = allocate(asked, nets) if lines else []
    result = []
    for line, amount, own_discount, share in zip(lines, amounts, own, shares, strict=True):
        discount = own_discount + share
        taxes, inclusive = _line_taxes(line, amount - discount)
        result.append(
            LineTotals(
                amount_minor=amount,
                discount_minor=discount,
                tax_minor=sum(taxes),
                tax_inclusive_minor=inclusive,
                taxes_minor=taxes,
                line_discount_minor=own_discount,
            )
        )
    subtotal = sum(amounts)
    discount_total = sum(t.discount_minor for t in result)
    tax_total = sum(t.tax_minor for t in result)
    inclusive_total = sum(t.tax_inclusive_minor for t in result)
    return InvoiceTotals(
        lines=tuple(result),
        subtotal_minor=subtotal,
        discount_minor=discount_total,
        tax_minor=tax_total,
        total_minor=subtotal - discount_total + tax_total - inclusive_total,
        tax_inclusive_minor=inclusive_total,
    )


@dataclass(frozen=True)
class CreditSplit:
    amount_minor: int  # what the credit note credits, tax included
    tax_minor: int  # the tax inside amount_minor
    applied_to_due_minor: int  # reduces the invoice's amount due
    outside_minor: int  # goes back to the customer: refund or account credit


def split_credit(
    amount_minor: int,
    *,
    invoice_total_minor: int,
    invoice_tax_minor: int,
    amount_due_minor: int,
    tax_minor: int | None = None,
) -> CreditSplit:
    """How a credit of `amount_minor` against an invoice divides: its tax part (`tax_minor` when
    the credited lines say it, else in proportion to the invoice's tax by money.allocate, exact),
    and how much of it the amount due absorbs. Raises ValueError for a non-positive amount or
    inconsistent figures."""
    if amount_minor <= 0:
        raise ValueError("a credit must be more than zero")
    if not 0 <= invoice_tax_minor <= invoice_total_minor or amount_due_minor < 0:
        raise ValueError("invoice figures are inconsistent")
    if tax_minor is None:
        weights = [invoice_total_minor - invoice_tax_minor, invoice_tax_minor]
        tax_minor = allocate(amount_minor, weights)[1]
    if not 0 <= tax_minor <= amount_minor:
        raise ValueError("the tax of a credit must be between zero and its amount")
    to_due = min(amount_minor, amount_due_minor)
    return CreditSplit(amount_minor, tax_minor, to_due, amount_minor - to_due)
