"""The API's URL table, under /api/v1. Registered by web/app.py, exempt from CSRF (requests
carry an API key, not a cookie), bodies capped at MAX_BODY, every error answered as JSON."""

from __future__ import annotations

from flask import Blueprint, request

from api import errors, invoices, openapi, orders

MAX_BODY = 256 * 1024  # an order of 200 lines is well under 100 KB

blueprint = Blueprint("api", __name__, url_prefix="/api/v1")
errors.register(blueprint)


@blueprint.before_request
def _cap_body() -> None:
    request.max_content_length = MAX_BODY


blueprint.add_url_rule("/orders", "order_create", orders.order_create, methods=["POST"])
blueprint.add_url_rule("/invoices/<int:invoice_id>", "invoice_show", invoices.invoice_show)
blueprint.add_url_rule("/openapi.json", "openapi", openapi.document)
