"""Refund rules, fast, with an in-memory gateway (the same card flows run against localstripe in
test_refunds_localstripe.py). Runs on PostgreSQL too (TEST_DATABASE_URL)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from billing.errors import GatewayPermanent, InvalidTransition, ValidationFailed
from billing.models import (
    AuditEntry,
    Email,
    InvoiceStatus,
    Payment,
    PaymentMethod,
    Refund,
    RefundStatus,
)
from billing.services import credit, refunds
from billing.services import payments as payment_service
from tests.factories import NOW
from tests.money_back import RefundingFakeGateway, record_card_payment


@pytest.fixture
def gateway():
    return RefundingFakeGateway()


def refund(session, gateway, payment, amount_minor, **overrides):
    values = {
        "payment_id": payment.id,
        "amount_minor": amount_minor,
        "reason": "Goodwill",
        "method_for_offline": None,
        "now": NOW,
        "actor": "staff:1",
    } | overrides
    return refunds.refund_payment(session, gateway, **values)


def card_paid_invoice(session, make, gateway, amount_minor=None):
    invoice = make.invoice()
    pi = gateway.charged(amount_minor or invoice.amount_due_minor)
    return invoice, record_card_payment(session, invoice, pi, amount_minor)


def test_partial_then_full_card_refund(session, make, gateway):
    invoice, payment = card_paid_invoice(session, make, gateway)
    first = refund(session, gateway, payment, 10000)
    assert (first.status, first.method, first.invoice_id) == (
        RefundStatus.SUCCEEDED,
        PaymentMethod.CARD,
        invoice.id,
    )
    assert gateway.refunds[first.processor_refund_id].metadata == {
        "paydesk_refund_id": str(first.id)
    }
    session.refresh(payment)
    session.refresh(invoice)
    assert (payment.amount_refunded_minor, invoice.amount_refunded_minor) == (10000, 10000)
    assert invoice.status == InvoiceStatus.PAID  # refunds never reopen an invoice
    assert refunds.refundable_minor(session, payment_id=payment.id) == 27999
    rest = refund(session, gateway, payment, 27999)
    assert rest.status == RefundStatus.SUCCEEDED
    session.refresh(payment)
    assert payment.amount_refunded_minor == payment.amount_minor
    assert refunds.refundable_minor(session, payment_id=payment.id) == 0
    actions = [a for a in session.scalars(select(AuditEntry.action)) if "refund" in a]
    assert actions.count("refund.succeeded") == 2 and actions.count("invoice.refunded") == 2
    subjects = [e.subject for e in session.scalars(select(Email).where(Email.template == "refund"))]
    assert len(subjects) == 2 and "$100.00" in subjects[0]


def test_a_refund_beyond_the_remainder_never_reaches_the_processor(session, make, gateway):
    _invoice, payment = card_paid_invoice(session, make, gateway)
    refund(session, gateway, payment, 30000)
    calls = gateway.refund_calls
    with pytest.raises(ValidationFailed) as refused:
        refund(session, gateway, payment, 8000)
    assert "At most $79.99 can be refunded" in refused.value.errors["amount"]
    with pytest.raises(ValidationFailed, match="greater than zero"):
        refund(session, gateway, payment, 0)
    assert gateway.refund_calls == calls
    assert session.scalar(select(func.count()).select_from(Refund)) == 1


def test_a_processor_error_leaves_a_failed_refund_and_changes_nothing(session, make, gateway):
    invoice, payment = card_paid_invoice(session, make, gateway)
    gateway.refund_error = GatewayPermanent("Stripe refused the request: charge is disputed")
    failed = refund(session, gateway, payment, 5000)
    assert failed.status == RefundStatus.FAILED
    assert "charge is disputed" in failed.failure_message
    session.refresh(payment)
    session.refresh(invoice)
    assert (payment.amount_refunded_minor, invoice.amount_refunded_minor) == (0, 0)
    assert refunds.refundable_minor(session, payment_id=payment.id) == payment.amount_minor
    refund_emails = select(func.count()).select_from(Email).where(Email.template == "refund")
    assert session.scalar(refund_emails) == 0


def test_a_lost_answer_stays_pending_reserves_the_amount_and_is_reconciled(session, make, gateway):
    _invoice, payment = card_paid_invoice(session, make, gateway)
    gateway.lose_next_refund = True
    pending = refund(session, gateway, payment, 30000)
    assert pending.status == RefundStatus.PENDING and pending.processor_refund_id is None
    assert "will check with the processor" in pending.failure_message
    # The pending amount is reserved: nobody can refund it twice meanwhile.
    assert refunds.refundable_minor(session, payment_id=payment.id) == 7999
    with pytest.raises(ValidationFailed, match="pending"):
        refund(session, gateway, payment, 8000)
    later = NOW + timedelta(minutes=5)
    assert refunds.pending_card_refund_ids(session, older_than=later) == [pending.id]
    settled = refunds.reconcile_refund(session, gateway, refund_id=pending.id, now=later)
    assert settled.status == RefundStatus.SUCCEEDED and settled.processor_refund_id
    again = refunds.reconcile_refund(session, gateway, refund_id=pending.id, now=later)
    assert again.status == RefundStatus.SUCCEEDED
    session.refresh(payment)
    assert payment.amount_refunded_minor == 30000
    assert gateway.refund_calls == 1  # reconciling never refunds again


def test_a_refund_the_processor_never_received_is_failed_by_reconciling(session, make, gateway):
    from billing.errors import GatewayRetryable

    _invoice, payment = card_paid_invoice(session, make, gateway)
    gateway.refund_error = GatewayRetryable("Stripe could not be reached: timed out")
    pending = refund(session, gateway, payment, 1000)
    assert pending.status == RefundStatus.PENDING
    failed = refunds.reconcile_refund(session, gateway, refund_id=pending.id, now=NOW)
    assert failed.status == RefundStatus.FAILED
    assert "no record of this refund" in failed.failure_message
    assert refunds.refundable_minor(session, payment_id=payment.id) == payment.amount_minor


def test_a_pending_processor_refund_is_settled_when_it_completes(session, make, gateway):
    _invoice, payment = card_paid_invoice(session, make, gateway)
    gateway.pending_next_refund = True
    pending = refund(session, gateway, payment, 2500)
    assert pending.status == RefundStatus.PENDING and pending.processor_refund_id
    assert refunds.reconcile_refund(session, gateway, refund_id=pending.id, now=NOW).status == (
        RefundStatus.PENDING
    )
    gateway.settle_refund(pending.processor_refund_id, "failed")
    failed = refunds.reconcile_refund(session, gateway, refund_id=pending.id, now=NOW)
    assert failed.status == RefundStatus.FAILED


def test_offline_refund_records_how_the_money_went_back(session, make, gateway):
    invoice = make.invoice()
    payment = make.payment(invoice, 20000)
    with pytest.raises(ValidationFailed) as refused:
        refund(session, None, payment, 5000)
    assert "method" in refused.value.errors
    done = refund(
        session,
        None,
        payment,
        5000,
        method_for_offline=PaymentMethod.CHECK,
        reference="CHK-2002",
        reason="Double charge",
    )
    assert (done.status, done.method, done.reference) == (
        RefundStatus.SUCCEEDED,
        PaymentMethod.CHECK,
        "CHK-2002",
    )
    session.refresh(invoice)
    assert (invoice.amount_paid_minor, invoice.amount_refunded_minor) == (20000, 5000)
    assert gateway.refund_calls == 0
    email = session.scalar(select(Email).where(Email.template == "refund"))
    assert "Check (CHK-2002)" in email.text_body and "Double charge" in email.text_body


def test_refunding_an_overpayment_takes_back_the_credit_first(session, make):
    invoice = make.invoice()
    payment = payment_service.record_offline_payment(
        session,
        invoice_id=invoice.id,
        amount_minor=40000,
        method=PaymentMethod.CHECK,
        received_date=NOW.date(),
        reference="CHK-1",
        now=NOW,
        actor="t",
    )
    refund(session, None, payment, 2001, method_for_offline=PaymentMethod.CHECK)
    session.refresh(invoice)
    assert invoice.amount_refunded_minor == 0  # the invoice keeps its payment
    assert credit.balance(session, account_id=invoice.account_id, currency="USD") == 0
    refund(session, None, payment, 999, method_for_offline=PaymentMethod.CHECK)
    session.refresh(invoice)
    assert invoice.amount_refunded_minor == 999


def test_credit_already_spent_cannot_be_refunded_again(session, make):
    account = make.account()
    first = make.invoice(account)
    payment = payment_service.record_offline_payment(
        session,
        invoice_id=first.id,
        amount_minor=37999 + 5000,
        method=PaymentMethod.CASH,
        received_date=NOW.date(),
        reference="",
        now=NOW,
        actor="t",
    )
    make.invoice(account)  # finalizing it spends the 50.00 of credit
    assert refunds.refundable_minor(session, payment_id=payment.id) == 37999
    with pytest.raises(ValidationFailed, match="At most"):
        refund(session, None, payment, 37999 + 1, method_for_offline=PaymentMethod.CASH)


def test_refunding_a_payment_made_from_credit_gives_the_credit_back(session, make):
    account = make.account()
    credit.grant_credit(
        session,
        account_id=account.id,
        amount_minor=1000,
        currency="USD",
        reason="r",
        now=NOW,
        actor="t",
    )
    invoice = make.invoice(account)
    paid_by_credit = session.scalar(
        select(Payment).where(Payment.method == PaymentMethod.ACCOUNT_CREDIT)
    )
    done = refund(session, None, paid_by_credit, 400)
    assert done.method == PaymentMethod.ACCOUNT_CREDIT
    assert credit.balance(session, account_id=account.id, currency="USD") == 400
    session.refresh(invoice)
    assert invoice.amount_refunded_minor == 400


def test_only_succeeded_payments_can_be_refunded(session, make, gateway):
    _invoice, payment = card_paid_invoice(session, make, gateway)
    payment.status = "failed"
    session.commit()
    with pytest.raises(InvalidTransition):
        refund(session, gateway, payment, 100)


def test_refunds_made_at_the_processor_are_applied_once(session, make, gateway):
    invoice, payment = card_paid_invoice(session, make, gateway)
    first = refunds.apply_processor_refund(
        session,
        processor_payment_id=payment.processor_payment_id,
        processor_refund_id="re_dashboard_1",
        amount_minor=1500,
        now=NOW,
    )
    again = refunds.apply_processor_refund(
        session,
        processor_payment_id=payment.processor_payment_id,
        processor_refund_id="re_dashboard_1",
        amount_minor=1500,
        now=NOW,
    )
    assert first.id == again.id and first.status == RefundStatus.SUCCEEDED
    session.refresh(invoice)
    assert invoice.amount_refunded_minor == 1500
    assert (
        refunds.apply_processor_refund(
            session,
            processor_payment_id="pi_not_ours",
            processor_refund_id="re_x",
            amount_minor=100,
            now=NOW,
        )
        is None
    )


def test_a_processor_report_settles_our_own_pending_refund(session, make, gateway):
    _invoice, payment = card_paid_invoice(session, make, gateway)
    gateway.lose_next_refund = True
    pending = refund(session, gateway, payment, 700)
    (made,) = gateway.refunds.values()
    settled = refunds.apply_processor_refund(
        session,
        processor_payment_id=payment.processor_payment_id,
        processor_refund_id=made.refund_id,
        amount_minor=700,
        now=NOW,
        metadata=made.metadata,
    )
    assert settled.id == pending.id and settled.status == RefundStatus.SUCCEEDED
    session.refresh(payment)
    assert payment.amount_refunded_minor == 700
    assert session.scalar(select(func.count()).select_from(Refund)) == 1
