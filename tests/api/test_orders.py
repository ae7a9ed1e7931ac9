"""POST /api/v1/orders and GET /api/v1/invoices/<id> through the real app: API keys and scopes,
exactly-once orders per Idempotency-Key, customer matching, invoices made by the quote path,
and errors that are always JSON with a code (never a 500)."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from billing.clock import utcnow
from billing.models import Account, AuditEntry, Invoice, InvoiceStatus, Order
from billing.services import api_keys
from tests.factories import NOW
from tests.quote_helpers import make_api_key

ORDER = {
    "customer": {"external_id": "crm-42", "email": "ap@wonka.test", "name": "Wonka Industries"},
    "currency": "USD",
    "reference": "SO-1001",
    "lines": [
        {"description": "Golden ticket printing", "quantity": 3, "unit_amount_minor": 12500},
        {
            "description": "Design (hours)",
            "quantity": "1.5",
            "unit_amount_minor": 9000,
            "tax_rate": "10",
        },
    ],
}


def post(client, token, body, *, key="order-1", headers=None, raw=None):
    sent = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    if key is not None:
        sent["Idempotency-Key"] = key
    sent |= headers or {}
    data = raw if raw is not None else json.dumps(body)
    return client.post("/api/v1/orders", data=data, headers=sent)


def count(session, model) -> int:
    return session.scalar(select(func.count()).select_from(model))


def error(response) -> dict:
    assert response.is_json, response.get_data(as_text=True)[:300]
    return response.get_json()["error"]


@pytest.fixture
def token(session):
    return make_api_key(session, "orders:write")[1]


def test_an_order_becomes_a_draft_invoice_for_a_new_customer(client, session, token):
    response = post(client, token, ORDER)
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["object"] == "order" and body["status"] == "completed"
    assert body["reference"] == "SO-1001" and body["idempotency_key"] == "order-1"
    assert body["customer"]["external_id"] == "crm-42"
    invoice = body["invoice"]
    assert invoice["status"] == "draft" and invoice["number"] is None
    # 3 x 125.00 + 1.5 x 90.00 (+10% tax on 135.00) = 375.00 + 135.00 + 13.50
    assert (invoice["subtotal_minor"], invoice["tax_minor"], invoice["total_minor"]) == (
        51000,
        1350,
        52350,
    )
    assert [line["quantity"] for line in invoice["lines"]] == ["3", "1.5"]
    assert response.headers["Location"] == f"/api/v1/invoices/{invoice['id']}"
    account = session.scalars(select(Account)).one()
    assert (account.name, account.billing_email, account.external_id) == (
        "Wonka Industries",
        "ap@wonka.test",
        "crm-42",
    )


def test_every_change_is_audited_as_the_api_key(client, session):
    key_id, token = make_api_key(session, "orders:write")
    post(client, token, ORDER | {"finalize": True})
    actions = dict(
        session.execute(
            select(AuditEntry.action, AuditEntry.actor).where(AuditEntry.actor != "staff:1")
        ).all()
    )
    assert set(actions) == {
        "account.created",
        "order.received",
        "invoice.created_from_order",
        "order.invoiced",
        "invoice.finalized",
        "order.completed",
    }
    assert set(actions.values()) == {f"api_key:{key_id}"}


def test_the_same_key_and_body_replay_the_same_order(client, session, token):
    first = post(client, token, ORDER)
    reformatted = json.dumps(ORDER, indent=2, sort_keys=True)
    again = post(client, token, None, raw=reformatted)
    assert again.status_code == 200 and again.headers["Idempotent-Replayed"] == "true"
    assert again.get_json()["id"] == first.get_json()["id"]
    assert again.get_json()["invoice"]["id"] == first.get_json()["invoice"]["id"]
    assert (count(session, Order), count(session, Invoice), count(session, Account)) == (1, 1, 1)


def test_the_same_key_with_another_body_is_refused(client, session, token):
    post(client, token, ORDER)
    changed = ORDER | {"lines": [{"description": "Other", "unit_amount_minor": 1}]}
    response = post(client, token, changed)
    assert response.status_code == 422
    assert error(response)["code"] == "idempotency_key_reused"
    assert (count(session, Order), count(session, Invoice)) == (1, 1)


def test_keys_are_scoped_to_their_api_key(client, session, token):
    other = make_api_key(session, "orders:write", name="CRM")[1]
    one, two = post(client, token, ORDER), post(client, other, ORDER)
    assert (one.status_code, two.status_code) == (201, 201)
    assert one.get_json()["customer"]["id"] == two.get_json()["customer"]["id"]
    assert count(session, Order) == 2


def test_customers_are_matched_by_external_id_then_email(client, session, make, token):
    by_id = make.account(name="Acme Corp", external_id="crm-1", billing_email="a@acme.test")
    by_email = make.account(name="Globex", billing_email="AP@Globex.test")
    first = post(client, token, ORDER | {"customer": {"external_id": "crm-1"}}, key="a")
    assert first.get_json()["customer"]["id"] == by_id.id
    second = post(
        client,
        token,
        ORDER | {"customer": {"email": "ap@globex.test", "external_id": "crm-2"}},
        key="b",
    )
    assert second.get_json()["customer"]["id"] == by_email.id
    session.refresh(by_email)
    assert by_email.external_id == "crm-2"  # linked for next time
    assert count(session, Account) == 2


def test_a_new_customer_needs_a_name(client, session, token):
    response = post(client, token, ORDER | {"customer": {"email": "new@x.test"}})
    assert response.status_code == 422
    assert "customer.name" in error(response)["fields"]
    assert (count(session, Account), count(session, Order)) == (0, 0)


def test_finalize_numbers_the_invoice(client, session, token):
    body = post(client, token, ORDER | {"finalize": True, "net_days": 14}).get_json()
    invoice = body["invoice"]
    assert invoice["status"] == "open" and invoice["number"] == f"INV-{utcnow().year}-0001"
    assert invoice["amount_due_minor"] == invoice["total_minor"] == 52350


def test_sending_needs_finalizing(client, token):
    response = post(client, token, ORDER | {"send": True})
    assert response.status_code == 422 and "send" in error(response)["fields"]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (
            {"lines": [{"description": "x", "quantity": -1, "unit_amount_minor": 1}]},
            "lines[0].quantity",
        ),
        (
            {"lines": [{"description": "x", "quantity": "lots", "unit_amount_minor": 1}]},
            "lines[0].quantity",
        ),
        (
            {"lines": [{"description": "x", "quantity": 1e9, "unit_amount_minor": 1}]},
            "lines[0].quantity",
        ),
        (
            {"lines": [{"description": "x", "unit_amount_minor": 12.5}]},
            "lines[0].unit_amount_minor",
        ),
        (
            {"lines": [{"description": "x", "unit_amount_minor": "100"}]},
            "lines[0].unit_amount_minor",
        ),
        ({"lines": [{"description": "", "unit_amount_minor": 1}]}, "lines[0].description"),
        (
            {"lines": [{"description": "x", "unit_amount_minor": 1, "tax_rate": 101}]},
            "lines[0].tax_rate",
        ),
        (
            {"lines": [{"description": "x", "unit_amount_minor": 1, "colour": "red"}]},
            "lines[0].colour",
        ),
        ({"lines": [{"description": "x", "unit_amount_minor": 1}] * 1000}, "lines"),
        ({"lines": []}, "lines"),
        ({"lines": "many"}, "lines"),
        ({"currency": "ZZZ"}, "currency"),
        ({"currency": 840}, "currency"),
        ({"customer": "crm-42"}, "customer"),
        ({"customer": {"name": "No id"}}, "customer"),
        ({"customer": {"email": "not an email"}}, "customer.email"),
        ({"memo": "m" * 6000}, "memo"),
        ({"discount_minor": 10**9}, "discount_minor"),
        ({"discount_minor": -5}, "discount_minor"),
        ({"issue_date": "2026-02-30"}, "issue_date"),
        ({"issue_date": "0001-01-01"}, "issue_date"),
        ({"issue_date": "2026-11-20", "due_date": "2026-11-01"}, "due_date"),
        ({"due_date": "2026-12-01", "net_days": 3}, "due_date"),
        ({"net_days": 100000}, "net_days"),
        ({"finalize": "yes"}, "finalize"),
        ({"surprise": 1}, "surprise"),
    ],
)
def test_bad_fields_get_a_message_each_and_write_nothing(client, session, token, change, field):
    response = post(client, token, ORDER | change)
    assert response.status_code == 422, response.get_json()
    body = error(response)
    assert body["code"] == "validation_failed" and field in body["fields"], body
    assert (count(session, Order), count(session, Account), count(session, Invoice)) == (0, 0, 0)


@pytest.mark.parametrize(
    ("raw", "headers", "status", "code"),
    [
        ("{not json", {}, 400, "invalid_json"),
        ('{"a": NaN}', {}, 400, "invalid_json"),
        ("[" * 5000 + "]" * 5000, {}, 400, "invalid_json"),
        ('{"a":' * 20 + "1" + "}" * 20, {}, 400, "invalid_json"),
        ("1" * 5000, {}, 400, "invalid_json"),
        ("[1, 2]", {}, 422, "validation_failed"),
        (json.dumps(ORDER), {"Content-Type": "text/plain"}, 415, "unsupported_media_type"),
        ('{"memo": "' + "x" * 300_000 + '"}', {}, 413, "payload_too_large"),
    ],
)
def test_malformed_requests_get_json_errors(client, session, token, raw, headers, status, code):
    response = post(client, token, None, raw=raw, headers=headers)
    assert response.status_code == status
    assert error(response)["code"] == code
    assert count(session, Order) == 0


def test_the_idempotency_key_is_required_and_checked(client, token):
    missing = post(client, token, ORDER, key=None)
    assert missing.status_code == 400 and error(missing)["code"] == "idempotency_key_missing"
    bad = post(client, token, ORDER, key="has spaces in it")
    assert bad.status_code == 422 and "Idempotency-Key" in error(bad)["fields"]
    long = post(client, token, ORDER, key="k" * 256)
    assert long.status_code == 422


def test_authentication(client, session):
    key_id, token = make_api_key(session, "orders:write")
    anonymous = client.post("/api/v1/orders", json=ORDER, headers={"Idempotency-Key": "x"})
    assert anonymous.status_code == 401 and error(anonymous)["code"] == "unauthorized"
    assert anonymous.headers["WWW-Authenticate"] == "Bearer"
    assert post(client, token + "x", ORDER).status_code == 401
    assert (
        post(client, token, ORDER, headers={"Authorization": f"Basic {token}"}).status_code == 401
    )
    api_keys.revoke_api_key(session, api_key_id=key_id, now=NOW, actor="staff:1")
    revoked = post(client, token, ORDER)
    assert revoked.status_code == 401 and count(session, Order) == 0


def test_scopes(client, session):
    reader = make_api_key(session, "invoices:read")[1]
    response = post(client, reader, ORDER)
    assert response.status_code == 403 and error(response)["code"] == "insufficient_scope"
    assert count(session, Order) == 0


def test_rate_limit_per_key(app, client, session, token):
    app.config["PAYDESK_API_REQUESTS_PER_MINUTE"] = 2
    other = make_api_key(session, "orders:write", name="Other")[1]
    assert post(client, token, ORDER, key="a").status_code == 201
    assert post(client, token, ORDER, key="a").status_code == 200
    limited = post(client, token, ORDER, key="b")
    assert limited.status_code == 429 and error(limited)["code"] == "rate_limited"
    assert 1 <= int(limited.headers["Retry-After"]) <= 60
    assert post(client, other, ORDER, key="b").status_code == 201  # another key has its own


def get_invoice(client, token, invoice_id):
    return client.get(
        f"/api/v1/invoices/{invoice_id}", headers={"Authorization": f"Bearer {token}"}
    )


def test_reading_invoices_follows_the_key_scope(client, session, make, token):
    mine = post(client, token, ORDER | {"finalize": True}).get_json()["invoice"]
    elsewhere = make.invoice(make.account())
    seen = get_invoice(client, token, mine["id"])
    assert seen.status_code == 200 and seen.get_json() == mine
    assert get_invoice(client, token, elsewhere.id).status_code == 404
    reader = make_api_key(session, "invoices:read", name="Reports")[1]
    other = get_invoice(client, reader, elsewhere.id).get_json()
    assert other["number"] == elsewhere.number and other["status"] == InvoiceStatus.OPEN
    assert other["amount_due_minor"] == elsewhere.amount_due_minor
    for missing in (999999, 10**30):
        response = get_invoice(client, reader, missing)
        assert response.status_code == 404 and error(response)["code"] == "not_found"
    assert get_invoice(client, "nope", mine["id"]).status_code == 401


def test_unknown_routes_and_methods_answer_json(client):
    assert error(client.get("/api/v1/nothing"))["code"] == "not_found"
    wrong_method = client.get("/api/v1/orders")
    assert wrong_method.status_code == 405 and error(wrong_method)["code"] == "method_not_allowed"
    assert client.get("/api/v1/invoices/abc").status_code == 404


def test_without_terms_the_customers_payment_terms_apply(client, make, token):
    make.account(name="Acme Corp", external_id="crm-1", payment_terms_days=14)
    body = {**ORDER, "customer": {"external_id": "crm-1"}, "issue_date": "2026-11-02"}
    invoice = post(client, token, body).get_json()["invoice"]
    assert (invoice["issue_date"], invoice["due_date"]) == ("2026-11-02", "2026-11-16")
    net = post(client, token, body | {"net_days": 3}, key="other").get_json()["invoice"]
    assert net["due_date"] == "2026-11-05"
