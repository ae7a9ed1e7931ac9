"""The refund jobs, each run twice: reconciling a refund whose answer was lost settles it once
and never refunds again; the sweep finds only refunds old enough to have lost their answer."""

from __future__ import annotations

from datetime import timedelta

import pytest

from billing.clock import utcnow
from billing.models import Payment, Refund, RefundStatus
from billing.services import refunds
from tests.money_back import RefundingFakeGateway, record_card_payment
from workers.jobs import TASKS
from workers.jobs.refunds import reconcile_refund_job, sweep_refunds_job


@pytest.fixture
def gateway():
    return RefundingFakeGateway()


@pytest.fixture
def app(settings, gateway):
    from web.app import create_app
    from web.extensions import db

    application = create_app(settings, gateway=gateway)
    yield application
    db.factory.kw["bind"].dispose()


def lost_refund(session, make, gateway, *, age: timedelta) -> Refund:
    invoice = make.invoice()
    payment = record_card_payment(session, invoice, gateway.charged(invoice.amount_due_minor))
    gateway.lose_next_refund = True
    refund = refunds.refund_payment(
        session,
        gateway,
        payment_id=payment.id,
        amount_minor=5000,
        reason="Goodwill",
        method_for_offline=None,
        now=utcnow() - age,
        actor="staff:1",
    )
    assert refund.status == RefundStatus.PENDING
    return refund


def test_reconcile_refund_job_twice_settles_once(session, make, gateway):
    refund = lost_refund(session, make, gateway, age=timedelta(0))

    assert reconcile_refund_job(refund.id) == "succeeded"
    assert reconcile_refund_job(refund.id) == "succeeded"

    session.expire_all()
    assert session.get(Payment, refund.payment_id).amount_refunded_minor == 5000
    assert gateway.refund_calls == 1


def test_sweep_refunds_job_twice_reconciles_only_old_pending_refunds(session, make, gateway):
    old = lost_refund(session, make, gateway, age=timedelta(minutes=10))
    fresh = lost_refund(session, make, gateway, age=timedelta(seconds=5))  # call may be in flight

    assert sweep_refunds_job() == 1  # in-process dispatcher: reconciled right away
    assert sweep_refunds_job() == 0

    session.expire_all()
    assert session.get(Refund, old.id).status == RefundStatus.SUCCEEDED
    assert session.get(Refund, fresh.id).status == RefundStatus.PENDING
    assert "sweep_refunds" in TASKS and "reconcile_refund" in TASKS
