"""Storing a webhook event (billing.services.webhooks.receive_event, a precompiled INSERT run on
the DB-API cursor): the row reads back through the ORM exactly as an ORM insert would store
it, a duplicate stores nothing, and on PostgreSQL a connection that died under it is dropped
from the pool instead of failing the next delivery too."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select
from sqlalchemy.pool import NullPool

from billing.db import make_engine, make_session_factory
from billing.gateways.base import VerifiedEvent
from billing.models import WebhookEvent, WebhookEventStatus
from billing.services import webhooks
from tests.conftest import POSTGRES_URL


@pytest.fixture
def quiet(session):
    """A session whose factory has no dispatcher: the stored events stay received."""
    with make_session_factory(session.get_bind())() as quiet_session:
        yield quiet_session


def verified(event_id: str) -> VerifiedEvent:
    payload = {
        "id": event_id,
        "type": "payment_intent.succeeded",
        "data": {"object": {"object": "payment_intent", "id": "pi_1", "amount": 1999}},
        "note": "ünïcode ✓",
    }
    return VerifiedEvent(
        event_id=event_id, type="payment_intent.succeeded", created=1, payload=payload
    )


def test_the_stored_row_reads_back_as_an_orm_row(session, quiet):
    when = datetime(2026, 12, 7, 13, 5, 9, 123456, tzinfo=UTC)
    event = verified("evt_intake_1")
    row_id = webhooks.receive_event(quiet, event=event, processor="stripe", now=when)
    row = session.get(WebhookEvent, row_id)
    assert (row.processor, row.processor_event_id, row.type) == (
        "stripe",
        "evt_intake_1",
        "payment_intent.succeeded",
    )
    assert row.payload == event.payload
    assert row.status == WebhookEventStatus.RECEIVED
    assert (row.attempts, row.last_error, row.note, row.processed_at) == (0, "", "", None)
    assert row.received_at == when and row.received_at.tzinfo is not None
    older = session.scalars(
        select(WebhookEvent.id).where(WebhookEvent.received_at < datetime(2026, 12, 8, tzinfo=UTC))
    ).all()
    assert row_id in older  # compared in the database as the ORM stores instants


def test_a_duplicate_stores_nothing(session):
    now = datetime.now(UTC)
    first = webhooks.receive_event(session, event=verified("evt_dup"), processor="stripe", now=now)
    again = webhooks.receive_event(session, event=verified("evt_dup"), processor="stripe", now=now)
    assert first is not None and again is None
    count = select(func.count()).where(WebhookEvent.processor_event_id == "evt_dup")
    assert session.scalar(count) == 1


@pytest.mark.skipif(not POSTGRES_URL, reason="server-side disconnects: PostgreSQL")
def test_a_connection_killed_under_the_insert_is_dropped_from_the_pool(session):
    engine = make_engine(POSTGRES_URL, pool_size=1, max_overflow=0)
    try:
        with make_session_factory(engine)() as intake:
            with engine.connect() as connection:
                pid = connection.exec_driver_sql("SELECT pg_backend_pid()").scalar()
            killer = make_engine(POSTGRES_URL, poolclass=NullPool)
            with killer.connect() as connection:
                connection.exec_driver_sql(f"SELECT pg_terminate_backend({int(pid)})")
            killer.dispose()
            now = datetime.now(UTC)
            with pytest.raises(Exception, match="terminating connection"):  # the real cause
                webhooks.receive_event(
                    intake, event=verified("evt_k1"), processor="stripe", now=now
                )
            # Used again at once (no rest, so no ping): a fresh connection, not the dead one.
            assert webhooks.receive_event(
                intake, event=verified("evt_k2"), processor="stripe", now=now
            )
    finally:
        engine.dispose()
    assert session.scalar(select(func.count()).where(WebhookEvent.processor_event_id == "evt_k2"))
