"""An order that asks to be finalized and sent: the invoice email, with its PDF and a working
pay link, reaches a real SMTP server."""

from __future__ import annotations

import json
import re

import pytest
from sqlalchemy import select

from billing.models import AuditEntry, Email
from tests.quote_helpers import make_api_key

ORDER = {
    "customer": {"external_id": "shop-9", "email": "buyer@shop.test", "name": "Buyer GmbH"},
    "currency": "EUR",
    "lines": [
        {"description": "Annual licence", "quantity": 1, "unit_amount_minor": 49900, "tax_rate": 19}
    ],
    "finalize": True,
    "send": True,
}


@pytest.fixture
def settings_overrides(smtp):
    return {"smtp_url": smtp[0]}


def test_finalize_and_send_emails_the_invoice_with_pdf_and_pay_link(client, session, smtp):
    _, mailbox = smtp
    key_id, token = make_api_key(session, "orders:write")
    headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": "so-77"}
    response = client.post("/api/v1/orders", json=ORDER, headers=headers)
    assert response.status_code == 201, response.get_json()
    invoice = response.get_json()["invoice"]
    assert invoice["status"] == "open" and invoice["total_minor"] == 59381

    [message] = mailbox.to("buyer@shop.test")
    assert invoice["number"] in message["Subject"]
    [pdf] = [part for part in message.iter_attachments()]
    assert pdf.get_content_type() == "application/pdf"
    text = message.get_body(("plain",)).get_content()
    pay_link = re.search(r"http://localhost/pay/[\w-]+", text).group(0)
    assert client.get(pay_link.removeprefix("http://localhost")).status_code == 200

    sent = session.scalars(select(AuditEntry).where(AuditEntry.action == "invoice.sent")).one()
    assert sent.actor == f"api_key:{key_id}"

    # Replaying the request sends nothing more.
    again = client.post(
        "/api/v1/orders",
        data=json.dumps(ORDER),
        headers=headers | {"Content-Type": "application/json"},
    )
    assert again.status_code == 200
    assert len(mailbox.to("buyer@shop.test")) == 1
    assert len(session.scalars(select(Email).where(Email.template == "invoice")).all()) == 1
