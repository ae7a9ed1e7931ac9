"""How the API shows orders and invoices: plain JSON with integer minor units, decimals as
strings (so "1.5" stays exact) and dates in ISO 8601. Described by api/openapi.py."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from billing.models import Account, Invoice, Order


def _decimal(value: Decimal) -> str:
    return format(Decimal(value).normalize(), "f")


def _day(value: date | None) -> str | None:
    return value.isoformat() if value else None


def _instant(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


def invoice(inv: Invoice) -> dict[str, Any]:
    return {
        "id": inv.id,
        "object": "invoice",
        "number": inv.number,
        "status": str(inv.status),
        "customer_id": inv.account_id,
        "currency": inv.currency,
        "issue_date": _day(inv.issue_date),
        "due_date": _day(inv.due_date),
        "subtotal_minor": inv.subtotal_minor,
        "discount_minor": inv.discount_minor,
        "tax_minor": inv.tax_minor,
        "total_minor": inv.total_minor,
        "amount_paid_minor": inv.amount_paid_minor,
        "amount_credited_minor": inv.amount_credited_minor,
        "amount_refunded_minor": inv.amount_refunded_minor,
        "amount_due_minor": inv.amount_due_minor,
        "quote_id": inv.quote_id,
        "finalized_at": _instant(inv.finalized_at),
        "paid_at": _instant(inv.paid_at),
        "lines": [
            {
                "description": line.description,
                "quantity": _decimal(line.quantity),
                "unit_amount_minor": line.unit_amount_minor,
                "tax_rate": _decimal(line.tax_rate),
                "amount_minor": line.amount_minor,
            }
            for line in inv.lines
        ],
    }


def order(placed: Order, account: Account, inv: Invoice) -> dict[str, Any]:
    return {
        "id": placed.id,
        "object": "order",
        "status": str(placed.status),
        "idempotency_key": placed.idempotency_key,
        "reference": placed.reference,
        "customer": {
            "id": account.id,
            "external_id": account.external_id,
            "name": account.name,
            "email": account.billing_email,
        },
        "created_at": _instant(placed.created_at),
        "invoice": invoice(inv),
    }
