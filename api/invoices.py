"""GET /api/v1/invoices/<id>: an invoice's status and amounts, as the key's scope allows."""

from __future__ import annotations

from api import representations
from api.auth import current_key, require_scope
from billing.services import orders
from web.extensions import db


@require_scope("invoices:read", "orders:write")
def invoice_show(invoice_id: int):
    invoice = orders.invoice_for_key(db.session, key=current_key(), invoice_id=invoice_id)
    return representations.invoice(invoice)
