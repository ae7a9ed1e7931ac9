"""Orders from other systems (a CRM, a shop), received through the API with an API key and an
Idempotency-Key, turned into invoices by the same conversion as accepted quotes.

Exactly once: the order row is unique per (API key, Idempotency-Key). The request that inserts
it makes the invoice; a later request with the same key and the same body gets that order back
(a replay); with a different body it is refused (IdempotencyKeyReused). The order, its invoice
and its email commit in one transaction, so two requests racing with the same key on
PostgreSQL: the second insert waits for the first to commit, fails on the unique constraint,
and becomes a replay; either way one order and one invoice exist.

The customer is matched by `external_id`, then by billing email, or created (audited as the key).
Everything is validated before anything is written, with one message per field path
(`lines[0].quantity`), so a refused order leaves no trace.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from billing import audit
from billing.errors import Conflict, IdempotencyKeyReused, NotFound, ValidationFailed
from billing.models import Account, ApiKey, Invoice, Order, OrderLine, OrderStatus
from billing.money import check_currency
from billing.services import conversions
from billing.services.invoices import MAX_UNIT_MINOR, DraftLine
from billing.services.line_input import (
    MAX_DISCOUNT_MINOR,
    check_discount,
    check_lines,
    check_memo,
    check_total,
)
from billing.totals import LineInput, compute_totals

IDEMPOTENCY_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")  # printable ASCII, no spaces
MAX_NET_DAYS = 365
EARLIEST, LATEST = date(2000, 1, 1), date(2099, 12, 31)
MAX_TEXT = {"external_id": 100, "name": 200, "address": 2000, "tax_id": 64, "reference": 100}
ORDER_FIELDS = frozenset(
    {
        "customer",
        "currency",
        "lines",
        "discount_minor",
        "memo",
        "reference",
        "issue_date",
        "due_date",
        "net_days",
        "finalize",
        "send",
    }
)
CUSTOMER_FIELDS = frozenset({"external_id", "email", "name", "address", "tax_id"})
LINE_FIELDS = frozenset({"description", "quantity", "unit_amount_minor", "tax_rate"})


def request_fingerprint(payload: Any) -> str:
    """SHA-256 of the request's JSON in a canonical form (keys sorted, no spaces), so the same
    order sent again, even re-serialised, matches, and any change to a value does not."""
    canonical = json.dumps(
        payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


# --- parsing the untrusted payload -------------------------------------------------------------


@dataclass(frozen=True)
class CustomerInput:
    external_id: str | None
    email: str | None
    name: str
    address: str
    tax_id: str


@dataclass(frozen=True)
class OrderInput:
    customer: CustomerInput
    currency: str
    lines: list[DraftLine]
    discount_minor: int
    memo: str
    reference: str
    issue_date: date
    due_date: date | None  # None: the customer's payment terms
    finalize: bool
    send: bool


def _unknown(fields: dict, allowed: frozenset[str], at: str, errors: dict[str, str]) -> None:
    for name in fields:
        if name not in allowed:
            errors[f"{at}{name}"] = "Unknown field."


def _text(value: Any, field: str, errors: dict[str, str], *, required: bool = False) -> str:
    if value is None:
        if required:
            errors[field] = "This field is required."
        return ""
    if not isinstance(value, str):
        errors[field] = "Must be a string."
        return ""
    text = value.strip()
    limit = MAX_TEXT.get(field.rpartition(".")[2])
    if required and not text:
        errors[field] = "This field is required."
    elif limit and len(text) > limit:
        errors[field] = f"Use at most {limit} characters."
    return text


def _integer(value: Any, field: str, errors: dict[str, str], *, maximum: int) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int):
        errors[field] = "Must be a whole number (an amount in minor units, e.g. 1250 for 12.50)."
        return None
    if value < 0:
        errors[field] = "Must not be negative."
        return None
    if value > maximum:
        errors[field] = "Is too large."
        return None
    return value


def _decimal(value: Any, field: str, errors: dict[str, str]) -> Decimal | None:
    """A number given as a JSON number or a string such as "1.5"."""
    if isinstance(value, bool) or not isinstance(value, int | Decimal | str):
        errors[field] = 'Must be a number, e.g. 2 or "1.5".'
        return None
    try:
        number = Decimal(value.strip() if isinstance(value, str) else value)
    except (InvalidOperation, ValueError):
        errors[field] = 'Must be a number, e.g. 2 or "1.5".'
        return None
    if not number.is_finite() or abs(number) > Decimal(10) ** 12:
        errors[field] = "Must be a reasonable number."
        return None
    return number


def _date(value: Any, field: str, errors: dict[str, str]) -> date | None:
    """A calendar date as YYYY-MM-DD, within EARLIEST..LATEST (so date arithmetic never
    overflows and no typo such as 0226-11-30 becomes an invoice)."""
    if isinstance(value, str) and len(value) == 10:
        try:
            day = date.fromisoformat(value)
        except ValueError:
            day = None
        if day is not None and EARLIEST <= day <= LATEST:
            return day
    errors[field] = f"Must be a date like 2026-11-30, between {EARLIEST.year} and {LATEST.year}."
    return None


def _customer(raw: Any, errors: dict[str, str]) -> CustomerInput | None:
    if not isinstance(raw, dict):
        errors["customer"] = "Must be an object with external_id, email and name."
        return None
    _unknown(raw, CUSTOMER_FIELDS, "customer.", errors)
    external_id = _text(raw.get("external_id"), "customer.external_id", errors) or None
    email = _text(raw.get("email"), "customer.email", errors) or None
    if email:
        try:
            email = validate_email(
                email, check_deliverability=False, test_environment=True
            ).normalized.lower()
        except EmailNotValidError:
            errors["customer.email"] = "Must be an email address like billing@example.com."
    if external_id is None and email is None and "customer.email" not in errors:
        errors["customer"] = "Give the customer's external_id or email (or both)."
    return CustomerInput(
        external_id=external_id,
        email=email,
        name=_text(raw.get("name"), "customer.name", errors),
        address=_text(raw.get("address"), "customer.address", errors),
        tax_id=_text(raw.get("tax_id"), "customer.tax_id", errors),
    )


def _lines(raw: Any, errors: dict[str, str]) -> list[DraftLine]:
    if not isinstance(raw, list):
        errors["lines"] = "Must be a list of lines."
        return []
    parsed: list[DraftLine] = []
    if len(raw) > 200:
        errors["lines"] = "An order has at most 200 lines."
        return []
    for i, item in enumerate(raw):
        at = f"lines[{i}]"
        if not isinstance(item, dict):
            errors[at] = "Must be an object with description, quantity and unit_amount_minor."
            continue
        _unknown(item, LINE_FIELDS, f"{at}.", errors)
        description = _text(item.get("description"), f"{at}.description", errors, required=True)
        quantity = _decimal(item.get("quantity", 1), f"{at}.quantity", errors)
        unit = _integer(
            item.get("unit_amount_minor"), f"{at}.unit_amount_minor", errors, maximum=MAX_UNIT_MINOR
        )
        tax_rate = _decimal(item.get("tax_rate", 0), f"{at}.tax_rate", errors)
        if quantity is not None and unit is not None and tax_rate is not None:
            parsed.append(DraftLine(description or "-", quantity, unit, tax_rate))
    if not errors:
        errors |= check_lines(parsed)
    return parsed


def parse_order(unsafe_payload: Any, *, today: date) -> OrderInput:
    """The order a JSON payload asks for, or ValidationFailed with every problem found (field
    paths such as `lines[0].quantity`). Pure: reads nothing, writes nothing."""
    errors: dict[str, str] = {}
    if not isinstance(unsafe_payload, dict):
        raise ValidationFailed({"body": "Must be a JSON object."})
    raw = unsafe_payload
    _unknown(raw, ORDER_FIELDS, "", errors)
    customer = _customer(raw.get("customer"), errors)
    currency = ""
    if not isinstance(raw.get("currency"), str):
        errors["currency"] = "Must be a three-letter ISO 4217 code, such as USD."
    else:
        try:
            currency = check_currency(raw["currency"])
        except ValueError:
            errors["currency"] = "Must be a three-letter ISO 4217 code, such as USD."
    lines = _lines(raw.get("lines"), errors)
    discount = _integer(
        raw.get("discount_minor", 0), "discount_minor", errors, maximum=MAX_DISCOUNT_MINOR
    )
    memo = _text(raw.get("memo"), "memo", errors)
    errors |= check_memo(memo)
    reference = _text(raw.get("reference"), "reference", errors)
    issue = _date(raw["issue_date"], "issue_date", errors) if "issue_date" in raw else today
    due = None
    if "due_date" in raw and "net_days" in raw:
        errors["due_date"] = "Give due_date or net_days, not both."
    elif "due_date" in raw:
        due = _date(raw["due_date"], "due_date", errors)
    elif "net_days" in raw:
        net = _integer(raw["net_days"], "net_days", errors, maximum=MAX_NET_DAYS)
        if issue is not None and net is not None:
            due = issue + timedelta(days=net)
    if issue is not None and due is not None and due < issue:
        errors["due_date"] = "The due date cannot be before the issue date."
    flags = {}
    for flag in ("finalize", "send"):
        value = raw.get(flag, False)
        if not isinstance(value, bool):
            errors[flag] = "Must be true or false."
        flags[flag] = value is True
    if flags["send"] and not flags["finalize"] and "finalize" not in errors:
        errors["send"] = "Only a finalized invoice can be sent: set finalize to true as well."
    if not errors:
        totals = compute_totals(
            [LineInput(ln.quantity, ln.unit_amount_minor, ln.tax_rate) for ln in lines]
        )
        if problem := check_discount(discount or 0, totals.subtotal_minor):
            errors["discount_minor"] = problem["discount"]
        errors |= check_total(totals.total_minor)
    if errors:
        raise ValidationFailed(errors)
    return OrderInput(
        customer=customer,
        currency=currency,
        lines=lines,
        discount_minor=discount or 0,
        memo=memo,
        reference=reference,
        issue_date=issue,
        due_date=due,
        finalize=flags["finalize"],
        send=flags["send"],
    )


# --- the customer ----------------------------------------------------------------------------


def _match_customer(
    session: Session, customer: CustomerInput, currency: str, *, now: datetime, actor: str
) -> Account:
    """The account the order bills, in the caller's transaction: by external_id, then by billing
    email (an account with no external_id yet gets this one), else a new account (needs a name
    and an email). Raises ValidationFailed when a new account cannot be made."""
    if customer.external_id:
        account = session.scalar(select(Account).where(Account.external_id == customer.external_id))
        if account is not None:
            return account
    if customer.email:
        account = session.scalar(
            select(Account)
            .where(func.lower(Account.billing_email) == customer.email)
            .where(Account.external_id.is_(None) if customer.external_id else True)
            .order_by(Account.id)
            .limit(1)
        )
        if account is not None:
            if customer.external_id:
                account.external_id = customer.external_id
                audit.record(
                    session,
                    actor=actor,
                    action="account.external_id_set",
                    subject=account,
                    now=now,
                    account_id=account.id,
                    after={"external_id": customer.external_id},
                )
            return account
    errors = {}
    if not customer.name:
        errors["customer.name"] = "No customer matches; give a name to create one."
    if not customer.email:
        errors["customer.email"] = "No customer matches; give an email to create one."
    if errors:
        raise ValidationFailed(errors)
    account = Account(
        name=customer.name,
        billing_email=customer.email,
        address=customer.address,
        tax_id=customer.tax_id,
        currency=currency,
        external_id=customer.external_id,
        created_at=now,
    )
    session.add(account)
    audit.record(
        session,
        actor=actor,
        action="account.created",
        subject=account,
        now=now,
        account_id=None,
        after={"name": account.name, "external_id": account.external_id, "via": "api"},
    )
    return account


# --- placing the order -----------------------------------------------------------------------


@dataclass(frozen=True)
class PlacedOrder:
    order: Order
    account: Account
    invoice: Invoice
    replayed: bool  # True when this Idempotency-Key had already made the order


def _existing(session: Session, api_key_id: int, idempotency_key: str) -> Order | None:
    return session.scalar(
        select(Order).where(
            Order.api_key_id == api_key_id, Order.idempotency_key == idempotency_key
        )
    )


def _insert(
    session: Session,
    *,
    key: ApiKey,
    idempotency_key: str,
    fingerprint: str,
    data: OrderInput,
    now: datetime,
) -> Order | None:
    """Add the order (and a new customer, if any) in the caller's transaction and flush; None
    (rolled back) when a concurrent request won the race for this Idempotency-Key or customer
    (the caller looks again). Raises ValidationFailed (rolled back)."""
    try:
        account = _match_customer(session, data.customer, data.currency, now=now, actor=key.actor)
        session.flush()
        order = Order(
            api_key_id=key.id,
            idempotency_key=idempotency_key,
            request_hash=fingerprint,
            account_id=account.id,
            status=OrderStatus.PENDING,
            reference=data.reference,
            currency=data.currency,
            discount_minor=data.discount_minor,
            memo=data.memo,
            issue_date=data.issue_date,
            due_date=data.due_date,
            finalize=data.finalize,
            send=data.send,
            created_at=now,
            lines=[
                OrderLine(
                    position=i,
                    description=line.description,
                    quantity=line.quantity,
                    unit_amount_minor=line.unit_amount_minor,
                    tax_rate=line.tax_rate,
                )
                for i, line in enumerate(data.lines)
            ],
        )
        session.add(order)
        session.flush()
    except IntegrityError:
        session.rollback()
        return None
    except ValidationFailed:
        session.rollback()
        raise
    audit.record(
        session,
        actor=key.actor,
        action="order.received",
        subject=order,
        now=now,
        account_id=account.id,
        after={
            "idempotency_key": idempotency_key,
            "reference": data.reference,
            "lines": len(data.lines),
            "finalize": data.finalize,
            "send": data.send,
        },
    )
    return order


def _complete(
    session: Session,
    order_id: int,
    *,
    links: conversions.LinkSettings,
    now: datetime,
    actor: str,
) -> Invoice:
    """Make the order's invoice (finalized and sent as the order asks) and mark the order
    completed, then commit: one transaction with whatever the caller added (the order itself
    for a new one). Idempotent. On any error everything is rolled back and it is re-raised."""
    try:
        order = session.get(Order, order_id)
        invoice = conversions.convert_locked(
            session,
            model=Order,
            source_id=order_id,
            issue_date=order.issue_date,
            due_date=order.due_date,
            finalize=order.finalize,
            now=now,
            actor=actor,
            send=order.send,
            links=links,
        )
        if order.status == OrderStatus.PENDING:
            order.status = OrderStatus.COMPLETED
            order.completed_at = now
            audit.record(
                session,
                actor=actor,
                action="order.completed",
                subject=order,
                now=now,
                account_id=order.account_id,
                before={"status": str(OrderStatus.PENDING)},
                after={"status": str(OrderStatus.COMPLETED), "invoice_id": invoice.id},
            )
    except Exception:
        session.rollback()
        raise
    session.commit()
    session.refresh(invoice)
    return invoice


def _replay(
    session: Session,
    order: Order,
    fingerprint: str,
    *,
    links: conversions.LinkSettings,
    now: datetime,
    actor: str,
) -> PlacedOrder:
    if order.request_hash != fingerprint:
        raise IdempotencyKeyReused(
            "This Idempotency-Key was already used with a different request body. "
            "Use a new key for a new order."
        )
    if order.status == OrderStatus.COMPLETED:
        invoice = session.get(Invoice, order.invoice_id)
        return PlacedOrder(order, session.get(Account, order.account_id), invoice, replayed=True)
    # Still pending (written before conversions were one transaction): finish it now.
    invoice = _complete(session, order.id, links=links, now=now, actor=actor)
    session.refresh(order)
    return PlacedOrder(order, session.get(Account, order.account_id), invoice, replayed=True)


def place_order(
    session: Session,
    *,
    key: ApiKey,
    idempotency_key: str,
    unsafe_payload: Any,
    links: conversions.LinkSettings,
    now: datetime,
) -> PlacedOrder:
    """Record an order and turn it into an invoice (finalized and emailed when it asks; `links`
    builds the email's pay link), or return the order this Idempotency-Key already made.

    One transaction: the customer (if new), the order, its invoice, the finalization and the
    queued email commit together or not at all. A second request with the same key waits for
    the first on PostgreSQL's unique index, then replays its order.
    Raises ValidationFailed ({field path: message}; nothing is written), IdempotencyKeyReused
    (same key, different body), Conflict (the key kept colliding: retry shortly), and what the
    conversion raises (nothing written). Audited as "api_key:<id>"."""
    if not isinstance(idempotency_key, str) or not IDEMPOTENCY_KEY.match(idempotency_key):
        raise ValidationFailed(
            {"Idempotency-Key": "Send an Idempotency-Key header of 1 to 255 visible characters."}
        )
    fingerprint = request_fingerprint(unsafe_payload)
    for _attempt in range(3):
        existing = _existing(session, key.id, idempotency_key)
        if existing is not None:
            return _replay(session, existing, fingerprint, links=links, now=now, actor=key.actor)
        data = parse_order(unsafe_payload, today=now.date())
        order = _insert(
            session,
            key=key,
            idempotency_key=idempotency_key,
            fingerprint=fingerprint,
            data=data,
            now=now,
        )
        if order is not None:
            invoice = _complete(session, order.id, links=links, now=now, actor=key.actor)
            session.refresh(order)
            account = session.get(Account, order.account_id)
            return PlacedOrder(order, account, invoice, replayed=False)
    raise Conflict("Another request with this Idempotency-Key is being processed; retry shortly.")


def invoice_for_key(session: Session, *, key: ApiKey, invoice_id: int) -> Invoice:
    """An invoice as the key may see it: any invoice with "invoices:read", else only invoices
    made by this key's orders. Raises NotFound otherwise. Read-only."""
    invoice = session.get(Invoice, invoice_id) if 0 < invoice_id < 2**63 else None
    if invoice is None:
        raise NotFound(f"invoice {invoice_id}")
    if "invoices:read" in key.scope_set:
        return invoice
    made_here = session.scalar(
        select(Order.id).where(Order.invoice_id == invoice_id, Order.api_key_id == key.id)
    )
    if made_here is None:
        raise NotFound(f"invoice {invoice_id}")
    return invoice


def order_for_invoice(session: Session, *, invoice_id: int) -> Order | None:
    """The order an invoice was made from, if any. Read-only."""
    return session.scalar(select(Order).where(Order.invoice_id == invoice_id))
