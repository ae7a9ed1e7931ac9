"""The card payment jobs, each run twice: charging charges once, reconciling settles once and
never charges, a webhook event is applied once (alone, by a drain, by two drains at once), and
the sweep finds only payments old enough to have lost their answer (and events whose job or
wake-up was lost). The drain with Redis/RQ is tested in test_webhook_drain.py."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from billing.clock import utcnow
from billing.errors import GatewayRetryable
from billing.models import (
    Account,
    AuditEntry,
    Invoice,
    Payment,
    PaymentStatus,
    WebhookEvent,
    WebhookEventStatus,
)
from billing.services import card_payments, cards, webhooks
from billing.services.card_payments import Share
from tests.conftest import POSTGRES_URL
from tests.fake_gateway import FakeGateway
from workers.jobs import TASKS
from workers.jobs.payments import (
    charge_payment_job,
    drain_webhook_events_job,
    process_webhook_event_job,
    reconcile_payment_job,
    sweep_payments_job,
)


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


def pending(session, make, gateway, *, age=timedelta(0)) -> tuple[Invoice, Payment]:
    invoice = make.invoice()
    now = utcnow() - age
    customer = cards.ensure_customer(
        session, gateway, account_id=invoice.account_id, now=now, actor="t"
    )
    setup = gateway.succeeded_setup("4242424242424242", customer_id=customer)
    card = cards.finish_card_setup(
        session, gateway, account_id=invoice.account_id, setup_intent_id=setup, now=now, actor="t"
    )
    payment = card_payments.start_card_payment(
        session,
        account_id=invoice.account_id,
        shares=[Share(invoice.id, invoice.amount_due_minor)],
        card=gateway.retrieve_card(card.processor_payment_method_id),
        allow_partial=True,
        processor="stripe",
        now=now,
        actor="t",
    )
    return invoice, payment


def applied_count(session, invoice_id: int) -> int:
    return session.scalar(
        select(func.count()).where(
            AuditEntry.action == "invoice.payment_applied", AuditEntry.subject_id == invoice_id
        )
    )


def in_flight(session, make, gateway) -> tuple[Invoice, dict]:
    """A card payment charged at the processor whose answer was lost, and the payload of its
    payment_intent.succeeded event."""
    invoice, payment = pending(session, make, gateway)
    gateway.lose_next_response = True
    with pytest.raises(GatewayRetryable):
        card_payments.charge_payment(
            session, gateway, payment_id=payment.id, now=utcnow(), actor="t", base_url="http://x"
        )
    intent = list(gateway.payments.values())[-1]  # the charge whose answer was lost
    return invoice, {
        "id": f"evt_{payment.id}",
        "type": "payment_intent.succeeded",
        "created": 1,
        "data": {
            "object": {
                "object": "payment_intent",
                "id": intent.payment_intent_id,
                "status": "succeeded",
                "amount": intent.amount_minor,
                "currency": "usd",
                "latest_charge": intent.charge_id,
                "metadata": dict(intent.metadata),
            }
        },
    }


def store(session, gateway, payload, *, age=timedelta(0)) -> int:
    event_id = webhooks.receive_event(
        session, event=gateway.read_event(payload), processor="stripe", now=utcnow() - age
    )
    return event_id


def stored_unprocessed(session, quiet_session, make, gateway, count) -> list[tuple[Invoice, int]]:
    """`count` events stored (received) through a session that dispatches nothing."""
    found = []
    for _ in range(count):
        invoice, payload = in_flight(session, make, gateway)
        found.append((invoice, store(quiet_session, gateway, payload)))
    return found


def statuses(session) -> list[str]:
    session.expire_all()
    return list(session.scalars(select(WebhookEvent.status).order_by(WebhookEvent.id)))


def test_jobs_are_registered():
    for name in (
        "charge_payment",
        "reconcile_payment",
        "process_webhook_event",
        "retry_webhook_event",
        "drain_webhook_events",
        "sweep_payments",
    ):
        assert TASKS[name].startswith("workers.jobs.payments.")


def test_charge_payment_job_twice_charges_once(session, make, gateway):
    invoice, payment = pending(session, make, gateway)
    assert charge_payment_job(payment.id) == "succeeded"
    assert charge_payment_job(payment.id) == "succeeded"
    assert gateway.charge_calls == 1
    assert applied_count(session, invoice.id) == 1


def test_charge_job_after_a_lost_answer_finds_the_charge_instead(session, make, gateway):
    invoice, payment = pending(session, make, gateway)
    gateway.lose_next_response = True
    with pytest.raises(GatewayRetryable):
        charge_payment_job(payment.id)  # the worker "dies" with the answer
    assert charge_payment_job(payment.id) == "succeeded"  # RQ's retry
    assert charge_payment_job(payment.id) == "succeeded"
    assert gateway.charge_calls == 1
    session.expire_all()
    assert session.get(Invoice, invoice.id).status == "paid"


def test_reconcile_payment_job_twice_settles_once(session, make, gateway):
    invoice, payment = pending(session, make, gateway)
    gateway.lose_next_response = True
    with pytest.raises(GatewayRetryable):
        card_payments.charge_payment(
            session, gateway, payment_id=payment.id, now=utcnow(), actor="t", base_url="http://x"
        )
    assert reconcile_payment_job(payment.id) == "succeeded"
    assert reconcile_payment_job(payment.id) == "succeeded"
    assert gateway.charge_calls == 1
    assert applied_count(session, invoice.id) == 1


def test_process_webhook_event_job_twice_applies_once(session, make, gateway):
    invoice, payment = pending(session, make, gateway)
    gateway.lose_next_response = True
    with pytest.raises(GatewayRetryable):
        card_payments.charge_payment(
            session, gateway, payment_id=payment.id, now=utcnow(), actor="t", base_url="http://x"
        )
    [intent] = gateway.payments.values()
    payload = {
        "id": "evt_job",
        "type": "payment_intent.succeeded",
        "created": 1,
        "data": {
            "object": {
                "object": "payment_intent",
                "id": intent.payment_intent_id,
                "status": "succeeded",
                "amount": intent.amount_minor,
                "currency": "usd",
                "latest_charge": intent.charge_id,
                "metadata": dict(intent.metadata),
            }
        },
    }
    event_id = webhooks.receive_event(
        session, event=gateway.read_event(payload), processor="stripe", now=utcnow()
    )
    # Storing it already ran the job in-process (no Redis here); run it twice more.
    assert process_webhook_event_job(event_id) == "processed"
    assert process_webhook_event_job(event_id) == "processed"
    assert applied_count(session, invoice.id) == 1
    assert session.get(WebhookEvent, event_id).attempts == 1


def test_sweep_reconciles_only_old_payments_twice_safely(session, make, gateway):
    old_invoice, old = pending(session, make, gateway, age=timedelta(minutes=10))
    young_invoice, young = pending(session, make, gateway)
    for payment in (old, young):
        gateway.lose_next_response = True
        with pytest.raises(GatewayRetryable):
            card_payments.charge_payment(
                session,
                gateway,
                payment_id=payment.id,
                now=utcnow(),
                actor="t",
                base_url="http://x",
            )
    assert sweep_payments_job() == 1  # the in-process dispatcher reconciles it at once
    assert sweep_payments_job() == 0
    session.expire_all()
    assert session.get(Payment, old.id).status == PaymentStatus.SUCCEEDED
    assert session.get(Payment, young.id).status == PaymentStatus.PENDING  # may still be in flight
    assert gateway.charge_calls == 2
    assert applied_count(session, old_invoice.id) == 1
    assert session.get(Account, young_invoice.account_id) is not None


def test_drain_webhook_events_job_twice_processes_everything_once(
    session, quiet_session, make, gateway
):
    stored = stored_unprocessed(session, quiet_session, make, gateway, 5)
    assert statuses(session) == ["received"] * 5
    assert drain_webhook_events_job() == 5
    assert drain_webhook_events_job() == 0
    assert statuses(session) == ["processed"] * 5
    for invoice, event_id in stored:
        assert applied_count(session, invoice.id) == 1
        assert session.get(WebhookEvent, event_id).attempts == 1


def test_a_drain_works_in_batches_and_hands_retryable_failures_to_a_retry(
    session, quiet_session, make, gateway, monkeypatch
):
    stored = stored_unprocessed(session, quiet_session, make, gateway, 5)
    unlucky = stored[1][1]
    real = webhooks.process_event

    def flaky(session, gateway, *, event_id, now, base_url):
        if event_id == unlucky:
            webhooks._finish(session, event_id, WebhookEventStatus.FAILED, now=now, error="down")
            raise GatewayRetryable("the processor is down")
        return real(session, gateway, event_id=event_id, now=now, base_url=base_url)

    monkeypatch.setattr(webhooks, "process_event", flaky)
    retried = []
    done = webhooks.drain_events(
        session, gateway, clock=utcnow, base_url="http://x", retry=retried.append, batch=2
    )
    assert (done, retried) == (5, [unlucky])
    assert statuses(session) == ["processed", "failed", "processed", "processed", "processed"]
    monkeypatch.setattr(webhooks, "process_event", real)
    assert process_webhook_event_job(unlucky) == "processed"  # the retry job, later


@pytest.mark.skipif(not POSTGRES_URL, reason="claims need PostgreSQL (TEST_DATABASE_URL)")
def test_two_concurrent_drains_apply_each_event_once(
    session, quiet_session, make, gateway, monkeypatch
):
    stored = stored_unprocessed(session, quiet_session, make, gateway, 30)
    real = webhooks.process_event

    def slow(*args, **kwargs):  # so the two drains surely overlap
        time.sleep(0.01)
        return real(*args, **kwargs)

    monkeypatch.setattr(webhooks, "process_event", slow)
    start = threading.Barrier(2)
    counts, errors = [], []

    def drain():
        start.wait()
        try:
            counts.append(drain_webhook_events_job())
        except Exception as exc:  # pragma: no cover (reported below)
            errors.append(exc)

    threads = [threading.Thread(target=drain) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert sum(counts) == 30  # no event was processed by both drains
    assert statuses(session) == ["processed"] * 30
    for invoice, event_id in stored:
        assert applied_count(session, invoice.id) == 1
        assert session.get(WebhookEvent, event_id).attempts == 1
