"""Money: exponents, the single rounding point, allocation, and invoice totals, discounts, taxes
(inclusive and exclusive, several per line) and credit notes never gain or lose a minor unit
(property tests)."""

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from billing.money import Money, allocate, exponent, to_major, to_minor
from billing.totals import LineInput, TaxInput, compute_totals, split_credit


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
    with pytest.raises(ValueError, match="JPY amounts have no decimals"):
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


# --- discounts, several taxes per line, inclusive taxes, credit notes ------------------------

percents = st.decimals(min_value=Decimal(0), max_value=Decimal(100), places=4)
taxes_strategy = st.lists(
    st.builds(
        TaxInput, rate=st.decimals(min_value=0, max_value=30, places=4), inclusive=st.booleans()
    ),
    max_size=3,
)


@st.composite
def rich_lines(draw):
    """Lines with any mix of line discounts (percent or amount) and inclusive/exclusive taxes."""
    lines = []
    for _ in range(draw(st.integers(min_value=1, max_value=12))):
        unit = draw(st.integers(min_value=0, max_value=10**9))
        kind = draw(st.sampled_from(["none", "percent", "amount"]))
        lines.append(
            LineInput(
                quantity=draw(
                    st.decimals(min_value=Decimal("0.0001"), max_value=Decimal(10000), places=4)
                ),
                unit_amount_minor=unit,
                taxes=tuple(draw(taxes_strategy)),
                discount_percent=draw(percents) if kind == "percent" else None,
                discount_amount_minor=draw(st.integers(0, 10**10)) if kind == "amount" else 0,
            )
        )
    return lines


@given(
    lines=rich_lines(),
    discount=st.one_of(
        st.tuples(st.just("amount"), st.integers(min_value=0, max_value=10**13)),
        st.tuples(st.just("percent"), percents),
    ),
)
def test_discounts_and_taxes_never_gain_or_lose_a_minor_unit(lines, discount):
    kind, value = discount
    totals = (
        compute_totals(lines, discount_minor=value)
        if kind == "amount"
        else compute_totals(lines, discount_percent=value)
    )
    assert totals.subtotal_minor == sum(t.amount_minor for t in totals.lines)
    assert totals.discount_minor == sum(t.discount_minor for t in totals.lines)
    assert totals.tax_minor == sum(t.tax_minor for t in totals.lines)
    assert totals.tax_inclusive_minor == sum(t.tax_inclusive_minor for t in totals.lines)
    assert totals.total_minor == (
        totals.subtotal_minor
        - totals.discount_minor
        + totals.tax_minor
        - totals.tax_inclusive_minor
    )
    assert totals.total_minor == sum(t.total_minor for t in totals.lines)
    nets = [t.amount_minor - t.line_discount_minor for t in totals.lines]
    invoice_discount = totals.discount_minor - sum(t.line_discount_minor for t in totals.lines)
    if kind == "amount":
        assert invoice_discount == min(value, sum(nets))
    else:
        assert abs(invoice_discount - Decimal(sum(nets)) * value / 100) <= Decimal("0.5")
    for line, t in zip(lines, totals.lines, strict=True):
        assert 0 <= t.line_discount_minor <= t.discount_minor <= t.amount_minor
        assert t.tax_minor == sum(t.taxes_minor) and len(t.taxes_minor) == len(line.all_taxes())
        base = t.amount_minor - t.discount_minor
        assert 0 <= t.tax_inclusive_minor <= base  # inclusive tax never exceeds the price
        assert t.total_minor >= 0
        pre_tax = Decimal(base) / (
            1 + sum((x.rate for x in line.all_taxes() if x.inclusive), Decimal(0)) / 100
        )
        for tax, amount in zip(line.all_taxes(), t.taxes_minor, strict=True):
            assert abs(amount - pre_tax * tax.rate / 100) <= Decimal("0.5")  # one rounding


def test_inclusive_tax_is_inside_the_price():
    # 119.00 with 19% VAT included: 100.00 net + 19.00 VAT, the customer pays 119.00
    totals = compute_totals([LineInput(Decimal(1), 11900, taxes=(TaxInput(Decimal(19), True),))])
    assert (totals.subtotal_minor, totals.tax_minor, totals.total_minor) == (11900, 1900, 11900)
    # 10.00 incl. 7%: tax = round(10.00 - 10.00/1.07) = round(0.6542) = 0.65
    totals = compute_totals([LineInput(Decimal(1), 1000, taxes=(TaxInput(Decimal(7), True),))])
    assert (totals.tax_minor, totals.tax_inclusive_minor, totals.total_minor) == (65, 65, 1000)


def test_line_and_invoice_discounts_with_two_taxes():
    line = LineInput(
        Decimal(3),
        10000,  # 300.00
        taxes=(TaxInput(Decimal(10)), TaxInput(Decimal("2.5"))),
        discount_percent=Decimal(10),  # -30.00
    )
    other = LineInput(Decimal(1), 9000, discount_amount_minor=2000)  # 90.00 - 20.00
    totals = compute_totals([line, other], discount_percent=Decimal(10))  # 10% of 340.00
    first, second = totals.lines
    assert (first.line_discount_minor, second.line_discount_minor) == (3000, 2000)
    assert first.discount_minor + second.discount_minor - 5000 == 3400
    assert first.discount_minor == 3000 + 2700 and second.discount_minor == 2000 + 700
    assert first.taxes_minor == (2430, 608)  # 10% and 2.5% of 243.00 (607.5 rounds up)
    assert totals.total_minor == 24300 + 3038 + 6300


def test_discount_and_tax_inputs_are_checked():
    with pytest.raises(ValueError, match="not both"):
        compute_totals([LineInput(Decimal(1), 1)], discount_minor=1, discount_percent=Decimal(1))
    with pytest.raises(ValueError, match="100%"):
        compute_totals([LineInput(Decimal(1), 1, taxes=(TaxInput(Decimal(101)),))])
    with pytest.raises(ValueError, match="inclusive"):
        compute_totals([LineInput(Decimal(1), 1, taxes=(TaxInput(Decimal(60), True),) * 2)])


@given(
    lines=rich_lines(),
    credits=st.lists(st.integers(min_value=1, max_value=10**12), min_size=1, max_size=6),
    paid_share=st.integers(min_value=0, max_value=100),
)
def test_credit_notes_never_gain_or_lose_a_minor_unit(lines, credits, paid_share):
    """Credits split exactly into net and tax, and into what the amount due absorbs and what
    goes back; issued until the invoice is used up, they never exceed it."""
    totals = compute_totals(lines)
    total, tax = totals.total_minor, totals.tax_minor
    paid = total * paid_share // 100
    credited_to_due, issued = 0, 0
    for asked in credits:
        remaining = total - issued
        if remaining <= 0:
            break
        amount = min(asked, remaining)
        due = total - paid - credited_to_due
        split = split_credit(
            amount, invoice_total_minor=total, invoice_tax_minor=tax, amount_due_minor=due
        )
        assert split.applied_to_due_minor + split.outside_minor == amount
        assert 0 <= split.tax_minor <= amount
        assert split.applied_to_due_minor <= due
        credited_to_due += split.applied_to_due_minor
        issued += amount
        assert total - paid - credited_to_due >= 0
    assert issued <= total


def test_parse_refuses_amounts_beyond_decimal_precision():
    with pytest.raises(ValueError, match="too large"):
        Money.parse("1e30", "USD")
