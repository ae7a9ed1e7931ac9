"""Money: integer minor units plus an ISO 4217 code.

This is the only module that converts between Decimal and minor units. `to_minor` is the single
rounding point (ROUND_HALF_UP, the currency's own exponent: JPY has none, KWD has three), and
`allocate` splits an amount into parts that add up exactly, so no minor unit is ever created or
lost. Formatting for people lives in web/jinja.py (Babel); this module never formats.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from functools import cache

from babel.numbers import get_currency_precision, list_currencies

ROUNDING = ROUND_HALF_UP


@cache
def known_currencies() -> frozenset[str]:
    return frozenset(list_currencies())


def check_currency(code: str) -> str:
    """The upper-case ISO 4217 code; raises ValueError for anything else."""
    code = (code or "").strip().upper()
    if code not in known_currencies():
        raise ValueError(f"{code or 'empty'} is not an ISO 4217 currency code")
    return code


@cache
def exponent(currency: str) -> int:
    """Digits after the decimal point in `currency` (USD 2, JPY 0, KWD 3)."""
    return get_currency_precision(check_currency(currency))


def to_minor(amount: Decimal, currency: str) -> int:
    """Round a major-unit Decimal to whole minor units: the one rounding point."""
    quantum = Decimal(1).scaleb(-exponent(currency))
    return int(amount.quantize(quantum, rounding=ROUNDING).scaleb(exponent(currency)))


def round_minor(amount_minor: Decimal) -> int:
    """Round a Decimal amount already expressed in minor units to a whole minor unit."""
    return int(amount_minor.quantize(Decimal(1), rounding=ROUNDING))


def to_major(amount_minor: int, currency: str) -> Decimal:
    """Exact major-unit Decimal of an integer minor amount (for display and parsing only)."""
    return Decimal(amount_minor).scaleb(-exponent(currency))


def allocate(total_minor: int, weights: list[int]) -> list[int]:
    """Split `total_minor` in proportion to non-negative `weights`, losing nothing.

    Largest-remainder method: every part is floor(total * w / sum(w)); the units left over go to
    the parts with the largest remainders (earliest first on ties). With all weights zero the
    total is split as evenly as possible. The parts always sum to `total_minor` exactly.
    """
    if not weights:
        if total_minor:
            raise ValueError("cannot allocate a non-zero amount over no parts")
        return []
    if any(w < 0 for w in weights):
        raise ValueError("weights must not be negative")
    sign = -1 if total_minor < 0 else 1
    total = abs(total_minor)
    if sum(weights) == 0:
        weights = [1] * len(weights)
    weight_sum = sum(weights)
    parts = [total * w // weight_sum for w in weights]
    remainders = [(total * w) % weight_sum for w in weights]
    leftover = total - sum(parts)
    order = sorted(range(len(weights)), key=lambda i: (-remainders[i], i))
    for i in order[:leftover]:
        parts[i] += 1
    return [sign * p for p in parts]


@dataclass(frozen=True, order=True)
class Money:
    """An exact amount: integer minor units of one currency."""

    amount_minor: int
    currency: str

    def __post_init__(self):
        if not isinstance(self.amount_minor, int) or isinstance(self.amount_minor, bool):
            raise TypeError("amount_minor must be an int")
        object.__setattr__(self, "currency", check_currency(self.currency))

    def _same(self, other: Money) -> None:
        if self.currency != other.currency:
            raise ValueError(f"cannot combine {self.currency} with {other.currency}")

    def __add__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.amount_minor + other.amount_minor, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.amount_minor - other.amount_minor, self.currency)

    @property
    def major(self) -> Decimal:
        return to_major(self.amount_minor, self.currency)

    @classmethod
    def parse(cls, text: str, currency: str) -> Money:
        """Parse '1,250.50' into Money, refusing more decimals than the currency has. Raises
        ValueError whose message is a sentence for people, which every form shows as it is:
        not an amount, too many decimals, or too large."""
        places = exponent(currency)
        try:
            value = Decimal(str(text).strip().replace(",", ""))
        except ArithmeticError:
            value = Decimal("NaN")
        if not value.is_finite():
            raise ValueError(f"Enter an amount such as {Decimal(125):.{places}f}.")
        if -value.as_tuple().exponent > places:
            raise ValueError(
                f"{currency} amounts have "
                + (f"at most {places} decimals." if places else "no decimals.")
            )
        try:
            return cls(to_minor(value, currency), currency)
        except ArithmeticError:  # beyond Decimal's precision, e.g. 1e30
            raise ValueError("That amount is too large.") from None
