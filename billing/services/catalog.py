"""The catalog staff pick invoice lines from: tax rates and products (a unit price per currency
and the tax rates that usually apply). Invoice lines copy what they take (description, price,
each tax's name and percentage), so changing or archiving a catalog entry never changes an
invoice already written.

Values arrive as people typed them (`unsafe_*`); each function checks everything first and a bad
value changes nothing, with a message per field. One transaction each, with an audit entry;
saving the same values again is a no-op.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from billing import audit
from billing.errors import NotFound, ValidationFailed
from billing.models import Product, ProductPrice, TaxRate
from billing.money import Money, check_currency

MAX_PRICES = 20
MAX_UNIT_MINOR = 10**10
PERCENT_PLACES = 4


def parse_percent(unsafe: Any) -> Decimal:
    """'20', '8.875', '7,5' -> Decimal; ValueError with a message for people."""
    text = str(unsafe or "").strip().rstrip("%").strip().replace(",", ".")
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise ValueError("Enter a percentage such as 20 or 8.875.") from None
    if not value.is_finite() or not 0 <= value <= 100:
        raise ValueError("A percentage must be between 0 and 100.")
    exponent = value.normalize().as_tuple().exponent
    if isinstance(exponent, int) and -exponent > PERCENT_PLACES:
        raise ValueError(f"Use at most {PERCENT_PLACES} decimal places.")
    return value


def _text(unsafe: Any, field: str, label: str, max_length: int, errors, required=True) -> str:
    text = str(unsafe or "").replace("\r\n", "\n").strip()
    if required and not text:
        errors[field] = f"{label} is required."
    elif len(text) > max_length:
        errors[field] = f"{label} can be at most {max_length:,} characters."
    return text


# --- tax rates ---------------------------------------------------------------------------------


def _tax_values(unsafe: dict[str, Any]) -> dict[str, Any]:
    errors: dict[str, str] = {}
    clean: dict[str, Any] = {"name": _text(unsafe.get("name"), "name", "Name", 100, errors)}
    try:
        clean["percentage"] = parse_percent(unsafe.get("percentage"))
    except ValueError as exc:
        errors["percentage"] = str(exc)
    clean["is_inclusive"] = bool(unsafe.get("is_inclusive"))
    clean["is_active"] = bool(unsafe.get("is_active", True))
    if errors:
        raise ValidationFailed(errors)
    return clean


def _tax_snapshot(rate: TaxRate) -> dict[str, Any]:
    return {
        "name": rate.name,
        "percentage": str(Decimal(rate.percentage).normalize()),
        "is_inclusive": rate.is_inclusive,
        "is_active": rate.is_active,
    }


def save_tax_rate(
    session: Session,
    *,
    tax_rate_id: int | None,
    values: dict[str, Any],
    now: datetime,
    actor: str,
) -> TaxRate:
    """Create (tax_rate_id None) or change a tax rate: name, percentage (0-100, up to four
    decimals), is_inclusive (the price already includes it), is_active (offered on new lines).
    Raises ValidationFailed, NotFound. Commits with an audit entry; same values: no-op."""
    clean = _tax_values(values)
    if tax_rate_id is None:
        rate = TaxRate(**clean, created_at=now)
        session.add(rate)
        before = None
    else:
        rate = session.scalar(select(TaxRate).where(TaxRate.id == tax_rate_id).with_for_update())
        if rate is None:
            raise NotFound(f"tax rate {tax_rate_id}")
        before = _tax_snapshot(rate)
        for field, value in clean.items():
            setattr(rate, field, value)
        if _tax_snapshot(rate) == before:
            session.rollback()
            return rate
    audit.record(
        session,
        actor=actor,
        action="tax_rate.created" if before is None else "tax_rate.updated",
        subject=rate,
        now=now,
        before=before,
        after=_tax_snapshot(rate),
    )
    session.commit()
    return rate


# --- products ---------------------------------------------------------------------------------


def _prices(unsafe: Any, errors: dict[str, str]) -> dict[str, int]:
    """{currency: unit price} from [(currency, amount text), ...]; blank rows are skipped."""
    prices: dict[str, int] = {}
    rows = list(unsafe or [])
    if len(rows) > MAX_PRICES:
        errors["prices"] = f"A product has at most {MAX_PRICES} prices."
        return prices
    for i, (unsafe_currency, unsafe_amount) in enumerate(rows):
        currency_text = str(unsafe_currency or "").strip()
        amount_text = str(unsafe_amount or "").strip()
        if not amount_text:
            continue  # a row without a price is left out, whatever its currency says
        try:
            currency = check_currency(currency_text)
        except ValueError:
            errors[f"prices-{i}-currency"] = "Enter a three-letter currency code."
            continue
        if currency in prices:
            errors[f"prices-{i}-currency"] = f"{currency} has a price already."
            continue
        try:
            amount = Money.parse(amount_text, currency).amount_minor
        except ValueError as exc:
            errors[f"prices-{i}-amount"] = str(exc)
            continue
        if not 0 <= amount <= MAX_UNIT_MINOR:
            errors[f"prices-{i}-amount"] = "Enter a price from zero up to a hundred million."
            continue
        prices[currency] = amount
    return prices


def _product_values(session: Session, unsafe: dict[str, Any]) -> dict[str, Any]:
    errors: dict[str, str] = {}
    clean: dict[str, Any] = {
        "name": _text(unsafe.get("name"), "name", "Name", 200, errors),
        "description": _text(
            unsafe.get("description"), "description", "Description", 2000, errors, required=False
        ),
        "is_active": bool(unsafe.get("is_active", True)),
    }
    clean["prices"] = _prices(unsafe.get("prices"), errors)
    ids = set()
    for unsafe_id in unsafe.get("tax_rate_ids") or []:
        try:
            ids.add(int(unsafe_id))
        except (TypeError, ValueError):
            errors["tax_rate_ids"] = "Choose tax rates from the list."
    rates = list(session.scalars(select(TaxRate).where(TaxRate.id.in_(ids)).order_by(TaxRate.id)))
    if len(rates) != len(ids):
        errors["tax_rate_ids"] = "Choose tax rates from the list."
    clean["tax_rates"] = rates
    if errors:
        raise ValidationFailed(errors)
    return clean


def _product_snapshot(product: Product) -> dict[str, Any]:
    return {
        "name": product.name,
        "description": (product.description or "")[:200],
        "is_active": product.is_active,
        "prices": {p.currency: p.unit_amount_minor for p in product.prices},
        "tax_rates": [rate.id for rate in product.tax_rates],
    }


def save_product(
    session: Session,
    *,
    product_id: int | None,
    values: dict[str, Any],
    now: datetime,
    actor: str,
) -> Product:
    """Create (product_id None) or change a product: name, description, is_active, prices as
    [(currency, amount text)] (one per currency; blank rows ignored) and tax_rate_ids.
    Raises ValidationFailed (nothing changed), NotFound. Commits with an audit entry; saving
    the same values is a no-op."""
    clean = _product_values(session, values)
    if product_id is None:
        product = Product(
            name=clean["name"],
            description=clean["description"],
            is_active=clean["is_active"],
            created_at=now,
        )
        session.add(product)
        before = None
    else:
        product = session.scalar(select(Product).where(Product.id == product_id).with_for_update())
        if product is None:
            raise NotFound(f"product {product_id}")
        before = _product_snapshot(product)
        product.name = clean["name"]
        product.description = clean["description"]
        product.is_active = clean["is_active"]
    existing = {price.currency: price for price in product.prices}
    for currency, amount in clean["prices"].items():
        if currency in existing:
            existing[currency].unit_amount_minor = amount
        else:
            product.prices.append(ProductPrice(currency=currency, unit_amount_minor=amount))
    for currency, price in existing.items():
        if currency not in clean["prices"]:
            product.prices.remove(price)
    product.tax_rates = clean["tax_rates"]
    after = _product_snapshot(product)
    if before == after:
        session.rollback()
        return session.get(Product, product_id)
    product.updated_at = now
    audit.record(
        session,
        actor=actor,
        action="product.created" if before is None else "product.updated",
        subject=product,
        now=now,
        before=before,
        after=after,
    )
    session.commit()
    return product
