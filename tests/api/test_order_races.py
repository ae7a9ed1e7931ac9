"""Requests racing on PostgreSQL: the same Idempotency-Key sent at once still makes one order and
one invoice, and two orders creating the same new customer at once make one customer."""

from __future__ import annotations

import json
import threading

import pytest
from sqlalchemy import func, select

from billing.models import Account, Invoice, Order
from tests.conftest import POSTGRES_URL
from tests.quote_helpers import make_api_key

pytestmark = pytest.mark.skipif(
    not POSTGRES_URL, reason="row locks and unique races need PostgreSQL (set TEST_DATABASE_URL)"
)

ORDER = {
    "customer": {"external_id": "shop-7", "email": "race@x.test", "name": "Race Ltd"},
    "currency": "USD",
    "lines": [{"description": "Widget", "quantity": 2, "unit_amount_minor": 1999}],
    "finalize": True,
}


def _race(app, requests: list[tuple[str, str]]) -> list[int]:
    """POST every (token, idempotency key) at the same moment; returns the status codes."""
    barrier = threading.Barrier(len(requests))
    statuses: list[int] = [0] * len(requests)

    def send(i: int, token: str, key: str) -> None:
        client = app.test_client()
        barrier.wait()
        response = client.post(
            "/api/v1/orders",
            data=json.dumps(ORDER),
            headers={
                "Authorization": f"Bearer {token}",
                "Idempotency-Key": key,
                "Content-Type": "application/json",
            },
        )
        assert response.is_json
        statuses[i] = response.status_code

    threads = [
        threading.Thread(target=send, args=(i, token, key))
        for i, (token, key) in enumerate(requests)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return statuses


def _count(session, model) -> int:
    session.expire_all()
    return session.scalar(select(func.count()).select_from(model))


def test_the_same_key_at_once_makes_one_order_and_one_invoice(app, session):
    token = make_api_key(session, "orders:write")[1]
    statuses = _race(app, [(token, "same-key")] * 6)
    assert statuses.count(201) == 1, statuses
    assert set(statuses) <= {201, 200, 409}, statuses
    assert (_count(session, Order), _count(session, Invoice), _count(session, Account)) == (1, 1, 1)


def test_new_customer_created_once_by_racing_orders(app, session):
    tokens = [make_api_key(session, "orders:write", name=f"Shop {i}")[1] for i in range(4)]
    statuses = _race(app, [(token, "order-1") for token in tokens])
    assert statuses == [201] * 4, statuses
    assert (_count(session, Order), _count(session, Invoice), _count(session, Account)) == (4, 4, 1)
