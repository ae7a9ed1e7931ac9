"""Card payments in the domain, with the in-memory FakeGateway (fast). The same flows run
against localstripe through the real stripe SDK in tests/billing/test_payments_localstripe.py."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from billing.errors import (
    AuthenticationRequired,
    GatewayRetryable,
    PaymentDeclined,
    ValidationFailed,
)
from billing.models import (
    Account,
    AccountCredit,
    AuditEntry,
    Email,
    Payment,
    PaymentStatus,
    Refund,
    SavedCard,
)
from billing.services import card_payments, cards, credit, refunds
from billing.services.card_payments import Share
from tests.factories import NOW
from tests.fake_gateway import DECLINES, THREE_D_SECURE, FakeGateway
from tests.helpers import record_statements
from tests.money_back import (
    RefundingFakeGateway,
    card_overtaken_by_a_check,
    record_card_payment,
    set_account_credit,
)

BASE = "http://localhost"


@pytest.fixture
def gateway():
    return FakeGateway()


def saved_card(session, gateway, account, number="4242424242424242"):
    customer = cards.ensure_customer(session, gateway, account_id=account.id, now=NOW, actor="t")
    seti = gateway.succeeded_setup(number, customer_id=customer)
    return cards.finish_card_setup(
        session, gateway, account_id=account.id, setup_intent_id=seti, now=NOW, actor="t"
    )


def pay(session, gateway, account, shares, card, **kw):
    return card_payments.pay_with_card(
        session,
        gateway,
        account_id=account.id,
        shares=shares,
        card_id=card.id,
        setup_intent_id=None,
        allow_partial=kw.pop("allow_partial", True),
        now=kw.pop("now", NOW),
        actor="portal_user:1",
        base_url=BASE,
    )


def test_full_payment_pays_the_invoice_and_queues_a_receipt(session, make, gateway):
    invoice = make.invoice()
    make.portal_user(session.get(Account, invoice.account_id))
    card = saved_card(session, gateway, session.get(Account, invoice.account_id))
    payment = pay(
        session,
        gateway,
        session.get(Account, invoice.account_id),
        [Share(invoice.id, invoice.total_minor)],
        card,
    )
    session.refresh(invoice)
    assert payment.status == PaymentStatus.SUCCEEDED
    assert (invoice.status, invoice.amount_due_minor) == ("paid", 0)
    receipt = session.scalar(select(Email).where(Email.template == "receipt"))
    assert receipt.attachments == [{"kind": "receipt_pdf", "id": payment.id}]
    assert f"billing portal: {BASE}/payments/{payment.id}" in receipt.text_body
    assert gateway.charge_calls == 1
    assert gateway.payments[payment.processor_payment_id].metadata == {
        "paydesk_payment_id": str(payment.id),
        "paydesk_account_id": str(invoice.account_id),
    }


def test_partial_and_multi_invoice_payments(session, make, gateway):
    account = make.account()
    first, second = make.invoice(account), make.invoice(account)
    card = saved_card(session, gateway, account)
    payment = pay(
        session,
        gateway,
        account,
        [Share(first.id, first.total_minor), Share(second.id, 1000)],
        card,
    )
    session.refresh(first)
    session.refresh(second)
    assert payment.amount_minor == first.total_minor + 1000
    assert len(payment.allocations) == 2
    assert first.status == "paid"
    assert (second.status, second.amount_paid_minor) == ("open", 1000)


def test_partial_rules(session, make, gateway):
    invoice = make.invoice()
    card = saved_card(session, gateway, session.get(Account, invoice.account_id))
    with pytest.raises(ValidationFailed, match="at least"):
        pay(
            session,
            gateway,
            session.get(Account, invoice.account_id),
            [Share(invoice.id, 50)],
            card,
        )
    with pytest.raises(ValidationFailed, match="in full"):
        pay(
            session,
            gateway,
            session.get(Account, invoice.account_id),
            [Share(invoice.id, 1000)],
            card,
            allow_partial=False,
        )
    with pytest.raises(ValidationFailed, match="left to pay"):
        pay(
            session,
            gateway,
            session.get(Account, invoice.account_id),
            [Share(invoice.id, invoice.total_minor + 1)],
            card,
        )
    assert (
        session.scalar(select(func.count()).select_from(Payment).where(Payment.method == "card"))
        == 0
    )
    assert gateway.charge_calls == 0


def test_decline_records_the_reason_and_changes_no_invoice(session, make, gateway):
    invoice = make.invoice()
    card = saved_card(session, gateway, session.get(Account, invoice.account_id), DECLINES)
    with pytest.raises(PaymentDeclined) as declined:
        pay(
            session,
            gateway,
            session.get(Account, invoice.account_id),
            [Share(invoice.id, invoice.total_minor)],
            card,
        )
    assert "Try another card" in declined.value.advice
    payment = session.scalar(select(Payment).where(Payment.method == "card"))
    session.refresh(invoice)
    assert payment.status == PaymentStatus.FAILED
    assert "declined" in payment.failure_message
    assert (invoice.status, invoice.amount_paid_minor) == ("open", 0)


def test_three_d_secure_waits_then_confirms_once(session, make, gateway):
    invoice = make.invoice()
    card = saved_card(session, gateway, session.get(Account, invoice.account_id), THREE_D_SECURE)
    with pytest.raises(AuthenticationRequired) as needed:
        pay(
            session,
            gateway,
            session.get(Account, invoice.account_id),
            [Share(invoice.id, invoice.total_minor)],
            card,
        )
    session.refresh(invoice)
    assert invoice.amount_paid_minor == 0  # nothing moves before the confirmed outcome
    gateway.authenticate(needed.value.payment_intent_id)
    for _ in range(2):  # the browser and the webhook both confirm
        payment = card_payments.confirm_card_payment(
            session,
            gateway,
            payment_id=needed.value.payment_id,
            account_id=invoice.account_id,
            now=NOW,
            actor="t",
            base_url=BASE,
        )
    session.refresh(invoice)
    assert payment.status == PaymentStatus.SUCCEEDED
    assert invoice.amount_paid_minor == invoice.total_minor
    applied = session.scalar(
        select(func.count()).where(
            AuditEntry.action == "invoice.payment_applied", AuditEntry.subject_id == invoice.id
        )
    )
    assert applied == 1


def test_a_second_payment_cannot_take_what_an_in_flight_one_reserves(session, make, gateway):
    invoice = make.invoice()
    card = saved_card(session, gateway, session.get(Account, invoice.account_id), THREE_D_SECURE)
    with pytest.raises(AuthenticationRequired):
        pay(
            session,
            gateway,
            session.get(Account, invoice.account_id),
            [Share(invoice.id, invoice.total_minor)],
            card,
        )
    other = saved_card(session, gateway, session.get(Account, invoice.account_id))
    with pytest.raises(ValidationFailed, match="already in progress"):
        pay(
            session,
            gateway,
            session.get(Account, invoice.account_id),
            [Share(invoice.id, invoice.total_minor)],
            other,
        )


def test_lost_answer_is_reconciled_not_charged_again(session, make, gateway):
    invoice = make.invoice()
    card = saved_card(session, gateway, session.get(Account, invoice.account_id))
    gateway.lose_next_response = True
    with pytest.raises(GatewayRetryable):
        pay(
            session,
            gateway,
            session.get(Account, invoice.account_id),
            [Share(invoice.id, invoice.total_minor)],
            card,
        )
    payment = session.scalar(select(Payment).where(Payment.method == "card"))
    assert payment.status == PaymentStatus.PENDING
    # The charge job running again finds the PaymentIntent by metadata instead of charging.
    for _ in range(2):
        card_payments.charge_payment(
            session, gateway, payment_id=payment.id, now=NOW, actor="system", base_url=BASE
        )
    card_payments.reconcile_payment(
        session, gateway, payment_id=payment.id, now=NOW + timedelta(minutes=6), base_url=BASE
    )
    session.refresh(invoice)
    session.refresh(payment)
    assert gateway.charge_calls == 1
    assert payment.status == PaymentStatus.SUCCEEDED
    assert invoice.status == "paid"


def test_a_payment_never_sent_is_canceled_after_a_while(session, make, gateway):
    invoice = make.invoice()
    card = saved_card(session, gateway, session.get(Account, invoice.account_id))
    payment = card_payments.start_card_payment(
        session,
        account_id=invoice.account_id,
        shares=[Share(invoice.id, invoice.total_minor)],
        card=gateway.retrieve_card(card.processor_payment_method_id),
        allow_partial=True,
        processor="stripe",
        now=NOW,
        actor="t",
    )
    card_payments.reconcile_payment(session, gateway, payment_id=payment.id, now=NOW, base_url=BASE)
    session.refresh(payment)
    assert payment.status == PaymentStatus.PENDING  # too early to give up
    later = NOW + card_payments.NOT_SENT_AFTER
    card_payments.reconcile_payment(
        session, gateway, payment_id=payment.id, now=later, base_url=BASE
    )
    session.refresh(payment)
    assert payment.status == PaymentStatus.CANCELED
    assert gateway.charge_calls == 0
    # The charge job arriving late does nothing either.
    card_payments.charge_payment(
        session, gateway, payment_id=payment.id, now=later, actor="t", base_url=BASE
    )
    assert gateway.charge_calls == 0


def test_abandoned_three_d_secure_is_canceled(session, make, gateway):
    invoice = make.invoice()
    card = saved_card(session, gateway, session.get(Account, invoice.account_id), THREE_D_SECURE)
    with pytest.raises(AuthenticationRequired) as needed:
        pay(
            session,
            gateway,
            session.get(Account, invoice.account_id),
            [Share(invoice.id, invoice.total_minor)],
            card,
        )
    later = NOW + card_payments.ACTION_TIMEOUT
    assert needed.value.payment_id in card_payments.payments_to_reconcile(
        session, now=later, min_age=timedelta(minutes=5)
    )
    payment = card_payments.reconcile_payment(
        session, gateway, payment_id=needed.value.payment_id, now=later, base_url=BASE
    )
    assert payment.status == PaymentStatus.CANCELED
    assert gateway.payments[needed.value.payment_intent_id].status == "canceled"


def pay_with_new_card(session, gateway, invoice, number):
    """Pay `invoice` in full with a card entered for this payment (saved with it)."""
    account = session.get(Account, invoice.account_id)
    customer = cards.ensure_customer(session, gateway, account_id=account.id, now=NOW, actor="t")
    return card_payments.pay_with_card(
        session,
        gateway,
        account_id=account.id,
        shares=[Share(invoice.id, invoice.total_minor)],
        card_id=None,
        setup_intent_id=gateway.succeeded_setup(number, customer_id=customer),
        allow_partial=True,
        now=NOW,
        actor="portal_user:1",
        base_url=BASE,
    )


def test_a_new_card_left_in_abandoned_three_d_secure_is_removed_once(session, make, gateway):
    invoice = make.invoice()
    with pytest.raises(AuthenticationRequired) as needed:
        pay_with_new_card(session, gateway, invoice, THREE_D_SECURE)
    payment_id = needed.value.payment_id
    (card,) = session.scalars(select(SavedCard)).all()
    assert session.get(Payment, payment_id).new_card and card.removed_at is None
    later = NOW + card_payments.ACTION_TIMEOUT
    payment = card_payments.reconcile_payment(
        session, gateway, payment_id=payment_id, now=later, base_url=BASE
    )
    assert payment.status == PaymentStatus.CANCELED
    session.refresh(card)
    assert card.removed_at == later and card.processor_payment_method_id not in {
        pm for pm, (_, customer) in gateway.cards.items() if customer
    }
    again = card_payments.forget_new_card(
        session, gateway, payment_id=payment_id, now=later, actor="t"
    )  # runs twice: nothing more happens
    assert again is False
    removals = select(func.count()).where(AuditEntry.action == "card.removed")
    assert session.scalar(removals) == 1


def test_a_new_card_that_paid_something_since_is_kept(session, make, gateway):
    """While the first payment waited for 3-D Secure, the card (already listed under Cards)
    paid another invoice: its first payment failing later must not take it away."""
    first = make.invoice()
    with pytest.raises(AuthenticationRequired) as needed:
        pay_with_new_card(session, gateway, first, THREE_D_SECURE)
    card = session.scalar(select(SavedCard))
    second = make.invoice(session.get(Account, first.account_id))
    gateway.cards[card.processor_payment_method_id] = (
        "4242424242424242",
        gateway.cards[card.processor_payment_method_id][1],
    )  # the bank no longer asks for 3-D Secure on this card
    paid = pay(
        session,
        gateway,
        session.get(Account, first.account_id),
        [Share(second.id, second.total_minor)],
        card,
    )
    assert paid.status == PaymentStatus.SUCCEEDED
    gateway.authenticate(needed.value.payment_intent_id, success=False)
    with pytest.raises(PaymentDeclined):
        card_payments.confirm_card_payment(
            session,
            gateway,
            payment_id=needed.value.payment_id,
            account_id=first.account_id,
            now=NOW,
            actor="t",
            base_url=BASE,
        )
    session.refresh(card)
    assert card.removed_at is None


def _receipt_text(session, payment) -> str:
    email = session.scalar(
        select(Email).where(Email.template == "receipt").order_by(Email.id.desc())
    )
    assert payment.receipt_number in email.subject
    return email.text_body


def test_a_card_payment_beyond_what_is_still_owed_becomes_account_credit(session, make, gateway):
    invoice, payment = card_overtaken_by_a_check(session, make, gateway)
    assert invoice.status == "paid"
    assert invoice.amount_paid_minor == invoice.total_minor  # never more than the total
    assert payment.allocations[0].amount_minor == invoice.total_minor - 1000
    assert credit.balance(session, account_id=invoice.account_id, currency="USD") == 1000
    entry = session.scalar(select(AccountCredit).where(AccountCredit.payment_id == payment.id))
    assert (entry.kind, entry.amount_minor) == ("overpayment", 1000)
    assert "$10.00 was more than the invoices still owed: it is now credit" in _receipt_text(
        session, payment
    )
    # The customer's next invoice is paid from that credit when it is finalized.
    following = make.invoice(session.get(Account, invoice.account_id))
    assert following.amount_due_minor == following.total_minor - 1000


def test_following_up_a_plain_success_sends_no_query(session, make, gateway):
    """Every payment webhook follows up; with nothing to do that must cost nothing."""
    invoice = make.invoice()
    account = session.get(Account, invoice.account_id)
    card = saved_card(session, gateway, account)
    payment = pay(session, gateway, account, [Share(invoice.id, invoice.total_minor)], card)
    assert payment.status == PaymentStatus.SUCCEEDED
    assert not session.in_transaction()  # so any query would check a connection out
    with record_statements(session.get_bind()) as statements:
        done = card_payments.follow_up(session, gateway, payment_id=payment.id, now=NOW, actor="t")
    assert done == [] and statements == [], statements
    with record_statements(session.get_bind()) as locked:  # the recorder does see queries
        refunds.refund_overflow(session, gateway, payment_id=payment.id, now=NOW, actor="t")
    assert any("FROM payments" in statement for statement in locked)


def test_with_credit_turned_off_the_overflow_goes_back_to_the_card_once(session, make, gateway):
    set_account_credit(session, False)
    invoice, payment = card_overtaken_by_a_check(session, make, gateway)
    assert invoice.amount_paid_minor == invoice.total_minor
    assert invoice.amount_refunded_minor == 0  # what the invoice took stays paid
    assert payment.allocations[0].amount_minor == invoice.total_minor - 1000
    assert payment.overflow_minor == 1000
    assert credit.balance(session, account_id=invoice.account_id, currency="USD") == 0
    assert "$10.00 was more than the invoices still owed; we will refund it" in _receipt_text(
        session, payment
    )
    audit = session.scalar(
        select(AuditEntry).where(
            AuditEntry.action == "payment.succeeded", AuditEntry.subject_id == payment.id
        )
    )
    assert (audit.after["unapplied_minor"], audit.after["credited_minor"]) == (1000, 0)
    # The confirming path sent the overflow back through the processor at once.
    (refund,) = session.scalars(select(Refund).where(Refund.payment_id == payment.id)).all()
    assert (refund.status, refund.amount_minor) == ("succeeded", 1000)
    assert refund.reason == refunds.OVERFLOW_REASON
    assert gateway.refunds[refund.processor_refund_id].amount_minor == 1000
    session.refresh(payment)
    assert payment.amount_refunded_minor == 1000
    # Every later path runs the same follow-up (the webhook, the sweep): nothing more is sent.
    for _ in range(2):
        assert (
            card_payments.follow_up(session, gateway, payment_id=payment.id, now=NOW, actor="t")
            == []
        )
    assert session.scalar(select(func.count()).where(Refund.payment_id == payment.id)) == 1
    assert len(gateway.refunds) == 1


def test_an_overflow_that_became_credit_is_not_refunded(session, make, gateway):
    _, payment = card_overtaken_by_a_check(session, make, gateway)
    assert payment.overflow_minor == 1000
    done = card_payments.follow_up(session, gateway, payment_id=payment.id, now=NOW, actor="t")
    assert done == [] and session.scalar(select(func.count()).select_from(Refund)) == 0


def test_an_overflow_refund_whose_answer_was_lost_is_not_sent_again(session, make):
    """The refund's answer is lost: it stays pending, later follow-ups count it, and the
    sweep settles it from the processor."""
    set_account_credit(session, False)
    gateway = RefundingFakeGateway(lose_next_refund=True)
    _, payment = card_overtaken_by_a_check(session, make, gateway)
    (refund,) = session.scalars(select(Refund).where(Refund.payment_id == payment.id)).all()
    assert refund.status == "pending" and gateway.refund_calls == 1
    card_payments.follow_up(session, gateway, payment_id=payment.id, now=NOW, actor="t")
    assert gateway.refund_calls == 1  # the pending refund already covers the overflow
    assert refunds.reconcile_refund(session, gateway, refund_id=refund.id, now=NOW).status == (
        "succeeded"
    )
    card_payments.follow_up(session, gateway, payment_id=payment.id, now=NOW, actor="t")
    assert gateway.refund_calls == 1
    assert session.scalar(select(func.count()).where(Refund.payment_id == payment.id)) == 1
    session.refresh(payment)
    assert payment.amount_refunded_minor == 1000


def test_a_payment_without_overflow_is_never_refunded_by_itself(session, make, gateway):
    """Only overflow goes back: not an invoice's money, nor (the same rule) a Pay Now amount."""
    set_account_credit(session, False)
    payment = record_card_payment(session, make.invoice(), "pi_no_overflow")
    done = card_payments.follow_up(session, gateway, payment_id=payment.id, now=NOW, actor="t")
    assert done == [] and session.scalar(select(func.count()).select_from(Refund)) == 0
