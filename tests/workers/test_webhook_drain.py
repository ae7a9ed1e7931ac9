"""Webhook events through real Redis and a real RQ worker: each committed event wakes the drain
job (one SET NX, at most one queued drain, none at all soon after another wake), so none waits
for the sweeper, including an event stored while a drain runs or lingers; a failed or stuck
wake-up is recovered by the sweeper; a staff replay wakes the drain too. Every event is applied
exactly once."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from redis.exceptions import RedisError
from rq import SimpleWorker

from billing.clock import utcnow
from billing.models import WebhookEvent
from billing.services import webhooks
from tests.fake_gateway import FakeGateway
from tests.workers.test_payment_jobs import applied_count, in_flight, statuses, store
from workers import dispatch, runtime
from workers.dispatch import WAKE_COVER, WAKE_TTL, wake_key
from workers.jobs.payments import WEBHOOK_AFTER, sweep_payments_job

pytestmark = pytest.mark.redis


@pytest.fixture
def settings_overrides(own_redis):
    return {"redis_url": own_redis.url}


@pytest.fixture
def gateway():
    return FakeGateway()


@pytest.fixture
def app(settings, gateway):
    from web.app import create_app
    from web.extensions import db

    application = create_app(settings, gateway=gateway)
    yield application
    db.factory.kw["bind"].dispose()


@pytest.fixture
def rq(app):
    """The app's RQ dispatcher (on the run's own redis-server)."""
    return runtime.current().dispatcher


def work(dispatcher) -> bool:
    return SimpleWorker([dispatcher.queue], connection=dispatcher.connection).work(
        burst=True, logging_level="WARNING"
    )


def marker(dispatcher) -> str:
    return wake_key(dispatcher.queue.name, "drain_webhook_events")


def drains(dispatcher) -> int:
    """Drain jobs waiting on the queue (other jobs, e.g. emails, may wait there too)."""
    return sum(job.func_name == "workers.dispatch.run_woken" for job in dispatcher.queue.jobs)


def test_events_stored_before_the_drain_starts_share_one_job(rq, session, make, gateway):
    first_invoice, first = in_flight(session, make, gateway)
    second_invoice, second = in_flight(session, make, gateway)
    store(session, gateway, first)
    assert drains(rq) == 1
    assert 0 < rq.connection.ttl(marker(rq)) <= WAKE_TTL
    store(session, gateway, second)  # the marker is there: one SET NX, no second job
    assert drains(rq) == 1
    assert work(rq)
    assert not rq.connection.exists(marker(rq))
    assert statuses(session) == ["processed", "processed"]
    assert (
        applied_count(session, first_invoice.id) == applied_count(session, second_invoice.id) == 1
    )


def test_an_event_stored_while_a_drain_runs_is_processed_without_the_sweeper(
    rq, session, make, gateway, monkeypatch
):
    invoices_payloads = [in_flight(session, make, gateway) for _ in range(2)]
    (_, first), (_, second) = invoices_payloads
    from web.extensions import db

    real = webhooks.process_event
    arrivals = []

    def arrive_meanwhile(*args, **kwargs):  # the drain has deleted the marker by now
        if not arrivals:
            with db.factory() as request_session:
                arrivals.append(store(request_session, gateway, second))
        return real(*args, **kwargs)

    monkeypatch.setattr(webhooks, "process_event", arrive_meanwhile)
    store(session, gateway, first)
    assert work(rq)
    assert arrivals
    assert statuses(session) == ["processed", "processed"]
    assert drains(rq) == 0
    for invoice, _ in invoices_payloads:
        assert applied_count(session, invoice.id) == 1


def test_a_failed_enqueue_removes_its_marker(rq, session, make, gateway, monkeypatch):
    _, payload = in_flight(session, make, gateway)

    def refuse(*args, **kwargs):
        raise RedisError("connection lost")

    monkeypatch.setattr(rq.queue, "enqueue", refuse)
    store(session, gateway, payload)  # committed; the dispatch failure is only logged
    assert not rq.connection.exists(marker(rq))
    assert statuses(session) == ["received"]


def test_a_stuck_marker_delays_events_until_the_sweeper(rq, session, make, gateway):
    invoice, payload = in_flight(session, make, gateway)
    # As after a SET whose enqueue failed and whose clean-up failed too.
    rq.connection.set(marker(rq), b"1", ex=WAKE_TTL)
    event_id = store(session, gateway, payload, age=WEBHOOK_AFTER + timedelta(minutes=1))
    assert drains(rq) == 0
    rq.connection.delete(marker(rq))  # its TTL ran out
    time.sleep(WAKE_COVER)  # the sweep runs a minute later (here: on the same dispatcher)
    assert sweep_payments_job() == 1
    assert work(rq)
    assert statuses(session) == ["processed"]
    assert applied_count(session, invoice.id) == 1
    assert session.get(WebhookEvent, event_id).attempts == 1


def test_staff_replay_of_a_failed_event_wakes_a_drain(rq, session, make, gateway):
    invoice, payload = in_flight(session, make, gateway)
    good = payload["data"]["object"]
    broken = dict(payload, data={"object": dict(good, amount=1)})
    event_id = store(session, gateway, broken)
    assert work(rq)
    assert statuses(session) == ["failed"]
    row = session.get(WebhookEvent, event_id)
    row.payload = payload
    session.commit()
    webhooks.replay_event(session, event_id=event_id, now=utcnow(), actor="staff")
    assert drains(rq) == 1
    assert work(rq)
    assert statuses(session) == ["processed"]
    assert applied_count(session, invoice.id) == 1


def test_a_wake_soon_after_another_needs_no_redis(rq, monkeypatch):
    drain = "drain_webhook_events"
    assert rq.wake(drain)
    rq.connection.delete(marker(rq))  # as the drain does when it starts
    monkeypatch.setattr(rq.connection, "set", None)  # any Redis command would raise now
    assert not rq.wake(drain)
    assert drains(rq) == 1
    monkeypatch.undo()
    time.sleep(WAKE_COVER)
    assert rq.wake(drain)  # the cover ran out: a new marker and a second drain
    assert rq.connection.exists(marker(rq))
    assert drains(rq) == 2


@pytest.mark.parametrize("linger", [dispatch.DRAIN_LINGER, 0.0])
def test_a_woken_drain_lingers_for_events_committed_without_a_wake(
    rq, session, quiet_session, make, gateway, monkeypatch, linger
):
    """The promise behind skipped wakes: an event committed after the drain's first pass found
    nothing more (stored here through a session that dispatches nothing, as a skipped wake
    would) is processed by the same drain. Without the linger it would wait for the sweep."""
    monkeypatch.setattr(dispatch, "DRAIN_LINGER", linger)
    (_, first), (second_invoice, second) = (in_flight(session, make, gateway) for _ in range(2))
    real = dispatch.job_function("drain_webhook_events")
    passes = []

    def drain_then_one_arrives():
        done = real()
        if not passes:
            store(quiet_session, gateway, second)
        passes.append(done)
        return done

    monkeypatch.setattr(dispatch, "job_function", lambda _name: drain_then_one_arrives)
    store(session, gateway, first)
    assert work(rq)
    if linger:
        assert passes[:2] == [1, 1] and sum(passes) == 2
        assert statuses(session) == ["processed", "processed"]
        assert applied_count(session, second_invoice.id) == 1
    else:
        assert passes == [1]
        assert statuses(session) == ["processed", "received"]
