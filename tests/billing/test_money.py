"""Money: exponents, the single rounding point, allocation and invoice totals never gain or
lose a minor unit (property tests)."""

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from billing.money import Money, allocate, exponent, to_major, to_minor
from billing.totals import LineInput, compute_totals


@pytest.mark.parametrize(("currency", "digits"), [("USD", 2), ("EUR", 2), ("JPY", 0), ("KWD", 3)])
def test_exponents(currency, digits):
    assert exponent(currency) == digits


def test_to_minor_rounds_half_up_once_per_currency():
    assert to_minor(Decimal("1.005"), "USD") == 101
    assert to_minor(Decimal("1.004"), "USD") == 100
    assert to_minor(Decimal("1234.5"), "JPY") == 1235
    assert to_minor(Decimal("1.0005"), "KWD") == 1001
    assert to_major(1001, "KWD") == Decimal("1.001")


def test_parse_refuses_more_decimals_than_the_currency_has():
    assert Money.parse("12.50", "USD") == Money(1250, "USD")
    assert Money.parse("1,200", "JPY") == Money(1200, "JPY")
    with pytest.raises(ValueError, match="at most 0 decimals"):
        Money.parse("12.5", "JPY")
    with pytest.raises(ValueError):
        Money.parse("NaN", "USD")
    with pytest.raises(ValueError):
        Money(1, "XXXX")


def test_money_refuses_mixed_currencies():
    with pytest.raises(ValueError):
        Money(1, "USD") + Money(1, "EUR")


@given(
    total=st.integers(min_value=-(10**12), max_value=10**12),
    weights=st.lists(st.integers(min_value=0, max_value=10**9), min_size=1, max_size=30),
)
def test_allocate_never_loses_a_minor_unit(total, weights):
    parts = allocate(total, weights)
    assert sum(parts) == total
    assert len(parts) == len(weights)
    exact = [Decimal(total) * w / (sum(weights) or 1) for w in weights]
    if sum(weights):
        assert all(abs(p - e) < 1 for p, e in zip(parts, exact, strict=True))


lines_strategy = st.lists(
    st.builds(
        LineInput,
        quantity=st.decimals(min_value=Decimal("0.0001"), max_value=Decimal("10000"), places=4),
        unit_amount_minor=st.integers(min_value=0, max_value=10**9),
        tax_rate=st.decimals(min_value=Decimal(0), max_value=Decimal(30), places=4),
    ),
    min_size=1,
    max_size=20,
)


@given(lines=lines_strategy, discount=st.integers(min_value=0, max_value=10**12))
def test_invoice_totals_add_up_exactly(lines, discount):
    totals = compute_totals(lines, discount)
    assert totals.subtotal_minor == sum(line.amount_minor for line in totals.lines)
    assert totals.discount_minor == sum(line.discount_minor for line in totals.lines)
    assert totals.discount_minor == min(discount, totals.subtotal_minor)
    assert totals.tax_minor == sum(line.tax_minor for line in totals.lines)
    assert totals.total_minor == totals.subtotal_minor - totals.discount_minor + totals.tax_minor
    for given_line, line in zip(lines, totals.lines, strict=True):
        assert 0 <= line.discount_minor <= line.amount_minor
        assert abs(
            line.amount_minor - given_line.quantity * given_line.unit_amount_minor
        ) <= Decimal("0.5")


def test_totals_refuse_bad_lines():
    with pytest.raises(ValueError):
        compute_totals([LineInput(Decimal(0), 100)])
    with pytest.raises(ValueError):
        compute_totals([LineInput(Decimal(1), -1)])
    with pytest.raises(ValueError):
        compute_totals([LineInput(Decimal(1), 1)], discount_minor=-5)
