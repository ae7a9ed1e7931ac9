"""POST /api/v1/orders: an order from another system becomes an invoice (exactly once per
Idempotency-Key). The view parses the body and calls one service."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from flask import current_app, request, url_for

from api import representations
from api.auth import current_key, require_scope
from api.errors import ApiError
from billing.clock import utcnow
from billing.services import conversions, orders
from web.extensions import db

MAX_DEPTH = 8  # an order is at most customer → lines → line → value deep


def _depth(value: Any) -> int:
    """How deeply lists and objects nest in `value` (iterative: no recursion on hostile input)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, level)
            if level > MAX_DEPTH:
                return level
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, level + 1) for child in children)
    return deepest


def _reject_constant(name: str):
    raise ValueError(f"{name} is not valid JSON")


def json_body() -> Any:
    """The request's JSON, numbers with decimals as Decimal (never float). Raises ApiError for
    a body that is not JSON (415, 400) or nests too deeply (400); too large a body is 413."""
    if request.mimetype != "application/json":
        raise ApiError(415, "unsupported_media_type", "Send the body as application/json.")
    raw = request.get_data(cache=True)
    try:
        payload = json.loads(raw, parse_float=Decimal, parse_constant=_reject_constant)
    except (ValueError, RecursionError):
        raise ApiError(400, "invalid_json", "The body is not valid JSON.") from None
    if _depth(payload) > MAX_DEPTH:
        raise ApiError(400, "invalid_json", "The body nests too deeply.")
    return payload


def _links() -> conversions.LinkSettings:
    settings = current_app.extensions["paydesk.settings"]
    return conversions.LinkSettings(
        secret=settings.secret_key,
        base_url=settings.base_url,
        pay_link_days=settings.pay_link_days,
    )


@require_scope("orders:write")
def order_create():
    idempotency_key = request.headers.get("Idempotency-Key")
    if idempotency_key is None:
        raise ApiError(
            400,
            "idempotency_key_missing",
            "Send an Idempotency-Key header (e.g. your order number or a UUID) so a retried "
            "request never creates a second order.",
        )
    placed = orders.place_order(
        db.session,
        key=current_key(),
        idempotency_key=idempotency_key,
        unsafe_payload=json_body(),
        links=_links(),
        now=utcnow(),
    )
    body = representations.order(placed.order, placed.account, placed.invoice)
    headers = {"Location": url_for("api.invoice_show", invoice_id=placed.invoice.id)}
    if placed.replayed:
        headers["Idempotent-Replayed"] = "true"
    return body, 200 if placed.replayed else 201, headers
