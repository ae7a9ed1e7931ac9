"""The OpenAPI 3.1 description of the API, served at /api/v1/openapi.json.

Hand-written, and kept honest by tests: tests/api/test_openapi.py checks that every API route is
described and runs schemathesis against this document (every response must match it, and none
may be a 500).
"""

from __future__ import annotations

from typing import Any

from billing.money import known_currencies
from billing.services.invoices import MAX_LINES, MAX_MEMO, MAX_TOTAL_MINOR, MAX_UNIT_MINOR
from billing.services.orders import MAX_NET_DAYS, MAX_TEXT


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _error(description: str, headers: dict | None = None) -> dict[str, Any]:
    response = _json(_ref("Error"), description)
    if headers:
        response["headers"] = headers
    return response


NULLABLE_STRING = {"type": ["string", "null"]}
NULLABLE_INSTANT = {"type": ["string", "null"], "format": "date-time"}
QUANTITY_TEXT = {"type": "string", "pattern": r"^\s*[0-9]{1,7}(\.[0-9]{1,4})?\s*$"}
PERCENT_TEXT = {"type": "string", "pattern": r"^\s*[0-9]{1,3}(\.[0-9]{1,4})?\s*$"}
DAY = {"type": "string", "format": "date", "pattern": "^20[0-9]{2}-"}  # 2000 to 2099
RETRY_AFTER = {
    "Retry-After": {"description": "Seconds to wait before retrying.", "schema": {"type": "string"}}
}
UNAUTHORIZED = _error(
    "The API key is missing, unknown or revoked.",
    {"WWW-Authenticate": {"description": "Bearer", "schema": {"type": "string"}}},
)
FORBIDDEN = _error("The API key lacks the scope this operation needs (insufficient_scope).")
RATE_LIMITED = _error("Too many requests for this API key in this minute.", RETRY_AFTER)

SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["code", "message"],
                "properties": {
                    "code": {
                        "type": "string",
                        "description": "Stable, machine-readable: validation_failed, "
                        "invalid_json, unsupported_media_type, payload_too_large, unauthorized, "
                        "insufficient_scope, not_found, idempotency_key_missing, "
                        "idempotency_key_reused, request_in_progress, rate_limited, …",
                    },
                    "message": {"type": "string"},
                    "fields": {
                        "type": "object",
                        "description": "One message per invalid field, by path: "
                        '{"lines[0].quantity": "The quantity must be more than zero."}',
                        "additionalProperties": {"type": "string"},
                    },
                },
            }
        },
    },
    "CustomerRef": {
        "type": "object",
        "description": "Matched by external_id, then by email; created when nothing matches "
        "(then name and email are needed). An existing customer found by email without an "
        "external_id takes the one given.",
        "additionalProperties": False,
        "anyOf": [{"required": ["external_id"]}, {"required": ["email"]}],
        "properties": {
            "external_id": {
                "type": "string",
                "minLength": 1,
                "maxLength": MAX_TEXT["external_id"],
                "description": "The customer's id in your system.",
            },
            "email": {"type": "string", "format": "email", "maxLength": 320},
            "name": {"type": "string", "maxLength": MAX_TEXT["name"]},
            "address": {"type": "string", "maxLength": MAX_TEXT["address"]},
            "tax_id": {"type": "string", "maxLength": MAX_TEXT["tax_id"]},
        },
    },
    "OrderLine": {
        "type": "object",
        "additionalProperties": False,
        "required": ["description", "unit_amount_minor"],
        "properties": {
            "description": {"type": "string", "minLength": 1, "maxLength": 500},
            "quantity": {
                "description": "More than 0, at most 1,000,000, up to 4 decimals; a number or "
                'a string such as "1.5". Default 1.',
                "oneOf": [
                    {"type": "number", "exclusiveMinimum": 0, "maximum": 1_000_000},
                    QUANTITY_TEXT,
                ],
            },
            "unit_amount_minor": {
                "type": "integer",
                "minimum": 0,
                "maximum": MAX_UNIT_MINOR,
                "description": "The unit price in minor units of the currency (1250 = 12.50).",
            },
            "tax_rate": {
                "description": "Percent of tax added to the line, 0 to 100. Default 0.",
                "oneOf": [{"type": "number", "minimum": 0, "maximum": 100}, PERCENT_TEXT],
            },
        },
    },
    "OrderRequest": {
        "type": "object",
        "additionalProperties": False,
        "required": ["customer", "currency", "lines"],
        # due_date or net_days, not both; send only with finalize.
        "not": {"required": ["due_date", "net_days"]},
        "if": {"required": ["send"], "properties": {"send": {"const": True}}},
        "then": {"required": ["finalize"], "properties": {"finalize": {"const": True}}},
        "properties": {
            "customer": _ref("CustomerRef"),
            "currency": {
                "type": "string",
                "enum": sorted(known_currencies()),
                "description": "ISO 4217 code (lower case is accepted too).",
            },
            "lines": {
                "type": "array",
                "minItems": 1,
                "maxItems": MAX_LINES,
                "items": _ref("OrderLine"),
            },
            "discount_minor": {
                "type": "integer",
                "minimum": 0,
                "maximum": MAX_TOTAL_MINOR,
                "description": "A discount on the whole order, in minor units.",
            },
            "memo": {"type": "string", "maxLength": MAX_MEMO},
            "reference": {
                "type": "string",
                "maxLength": MAX_TEXT["reference"],
                "description": "Your order number, shown to staff.",
            },
            "issue_date": {**DAY, "description": "Default today."},
            "due_date": {**DAY, "description": "Not before issue_date."},
            "net_days": {
                "type": "integer",
                "minimum": 0,
                "maximum": MAX_NET_DAYS,
                "description": "Due this many days after issue. Not with due_date. "
                "Without either, the customer's payment terms apply (30 days for a new one).",
            },
            "finalize": {
                "type": "boolean",
                "default": False,
                "description": "Number the invoice and open it for payment.",
            },
            "send": {
                "type": "boolean",
                "default": False,
                "description": "Email the finalized invoice (needs finalize).",
            },
        },
    },
    "InvoiceLine": {
        "type": "object",
        "required": ["description", "quantity", "unit_amount_minor", "tax_rate", "amount_minor"],
        "properties": {
            "description": {"type": "string"},
            "quantity": {"type": "string"},
            "unit_amount_minor": {"type": "integer"},
            "tax_rate": {"type": "string"},
            "amount_minor": {"type": "integer"},
        },
    },
    "Invoice": {
        "type": "object",
        "required": [
            "id",
            "object",
            "number",
            "status",
            "currency",
            "total_minor",
            "amount_due_minor",
            "lines",
        ],
        "properties": {
            "id": {"type": "integer"},
            "object": {"const": "invoice"},
            "number": {**NULLABLE_STRING, "description": "Null while a draft."},
            "status": {
                "type": "string",
                "enum": ["draft", "open", "paid", "void", "uncollectible"],
            },
            "customer_id": {"type": "integer"},
            "currency": {"type": "string"},
            "issue_date": {"type": "string", "format": "date"},
            "due_date": {"type": "string", "format": "date"},
            "subtotal_minor": {"type": "integer"},
            "discount_minor": {"type": "integer"},
            "tax_minor": {"type": "integer"},
            "total_minor": {"type": "integer"},
            "amount_paid_minor": {"type": "integer"},
            "amount_credited_minor": {"type": "integer"},
            "amount_refunded_minor": {"type": "integer"},
            "amount_due_minor": {"type": "integer"},
            "quote_id": {"type": ["integer", "null"]},
            "finalized_at": NULLABLE_INSTANT,
            "paid_at": NULLABLE_INSTANT,
            "lines": {"type": "array", "items": _ref("InvoiceLine")},
        },
    },
    "Order": {
        "type": "object",
        "required": ["id", "object", "status", "idempotency_key", "customer", "invoice"],
        "properties": {
            "id": {"type": "integer"},
            "object": {"const": "order"},
            "status": {"type": "string", "enum": ["pending", "completed"]},
            "idempotency_key": {"type": "string"},
            "reference": {"type": "string"},
            "customer": {
                "type": "object",
                "required": ["id", "name", "email"],
                "properties": {
                    "id": {"type": "integer"},
                    "external_id": NULLABLE_STRING,
                    "name": {"type": "string"},
                    "email": {"type": "string"},
                },
            },
            "created_at": {"type": "string", "format": "date-time"},
            "invoice": _ref("Invoice"),
        },
    },
}

DOCUMENT: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {
        "title": "Paydesk API",
        "version": "1",
        "description": "Orders from other systems (a CRM, a shop) become invoices. "
        "Authenticate with `Authorization: Bearer <API key>` (staff create keys in Admin → "
        "Settings → API keys). Money is in integer minor units of the currency. Every error "
        "is JSON with a stable code. Requests are limited per key and per minute.",
    },
    "security": [{"bearerAuth": []}],
    "paths": {
        "/api/v1/orders": {
            "post": {
                "operationId": "createOrder",
                "summary": "Create an order: it becomes an invoice, finalized and emailed if asked",
                "description": "Exactly once per Idempotency-Key: repeating a request with the "
                "same key and body returns the same order (200, header Idempotent-Replayed); the "
                "same key with another body is refused (422 idempotency_key_reused); while the "
                "first request is still at work, 409 request_in_progress. Needs the "
                "orders:write scope.",
                "parameters": [
                    {
                        "name": "Idempotency-Key",
                        "in": "header",
                        "required": True,
                        "description": "Your unique key for this order (e.g. its number).",
                        "schema": {
                            "type": "string",
                            "minLength": 1,
                            "maxLength": 255,
                            "pattern": "^[!-~]+$",
                        },
                    }
                ],
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": _ref("OrderRequest")}},
                },
                "responses": {
                    "201": _json(_ref("Order"), "The order and the invoice it became."),
                    "200": _json(_ref("Order"), "This Idempotency-Key's order, made earlier."),
                    "400": _error("The body is not JSON, or the Idempotency-Key is missing."),
                    "401": UNAUTHORIZED,
                    "403": FORBIDDEN,
                    "409": _error("A request with this Idempotency-Key is at work.", RETRY_AFTER),
                    "413": _error("The body is larger than 256 KB."),
                    "415": _error("The body is not application/json."),
                    "422": _error("Invalid fields (see error.fields), or a reused key."),
                    "429": RATE_LIMITED,
                },
            }
        },
        "/api/v1/invoices/{invoice_id}": {
            "get": {
                "operationId": "getInvoice",
                "summary": "An invoice's status and amounts",
                "description": "With invoices:read any invoice; with only orders:write the "
                "invoices of this key's orders (others are 404).",
                "parameters": [
                    {
                        "name": "invoice_id",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "integer", "minimum": 1},
                    }
                ],
                "responses": {
                    "200": _json(_ref("Invoice"), "The invoice."),
                    "401": UNAUTHORIZED,
                    "403": FORBIDDEN,
                    "404": _error("No such invoice for this API key."),
                    "429": RATE_LIMITED,
                },
            }
        },
        "/api/v1/openapi.json": {
            "get": {
                "operationId": "getOpenApi",
                "summary": "This document",
                "security": [],
                "responses": {"200": _json({"type": "object"}, "The OpenAPI document.")},
            }
        },
    },
    "components": {
        "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer"}},
        "schemas": SCHEMAS,
    },
}


def document():
    """GET /api/v1/openapi.json (public: it holds no secrets)."""
    return DOCUMENT
