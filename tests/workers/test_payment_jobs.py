"""The card payment jobs, each run twice: charging charges once, reconciling settles once and
never charges, a webhook event is applied once, and the sweep finds only payments old enough
to have lost their answer (and events whose job was lost)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from billing.clock import utcnow
from billing.errors import GatewayRetryable
from billing.models import Account, AuditEntry, Invoice, Payment, PaymentStatus, WebhookEvent
from billing.services import card_payments, cards, webhooks
from billing.services.card_payments import Share
from tests.fake_gateway import FakeGateway
from workers.jobs import TASKS
from workers.jobs.payments import (
    charge_payment_job,
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


def test_jobs_are_registered():
    for name in ("charge_payment", "reconcile_payment", "process_webhook_event", "sweep_payments"):
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
    event_id, _new = webhooks.receive_event(
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
