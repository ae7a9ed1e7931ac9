"""Helpers for the credit and refund tests: company credit switch, card payments recorded as
payments-core would record them, and a fake gateway that can also lose or refuse refunds."""

from __future__ import annotations

from dataclasses import dataclass, replace

from sqlalchemy import select
from sqlalchemy.orm import Session

from billing.errors import AuthenticationRequired, GatewayRetryable
from billing.models import (
    Account,
    CompanySettings,
    Invoice,
    Payment,
    PaymentAllocation,
    PaymentMethod,
    PaymentStatus,
)
from billing.services import card_payments, cards
from billing.services.invoices import apply_payment, lock_invoice
from tests.factories import NOW
from tests.fake_gateway import THREE_D_SECURE, FakeGateway


def set_account_credit(session: Session, allowed: bool) -> None:
    """Turn the company's "overpayments become account credit" switch on or off."""
    row = session.scalar(select(CompanySettings).limit(1))
    if row is None:
        row = CompanySettings(id=1, name="Test Co", default_currency="USD")
        session.add(row)
    row.allow_account_credit = allowed
    session.commit()


def record_card_payment(
    session: Session,
    invoice: Invoice,
    processor_payment_id: str,
    amount_minor: int | None = None,
    *,
    last4: str = "4242",
) -> Payment:
    """A succeeded card payment applied to `invoice`, as the card flows record one."""
    invoice = lock_invoice(session, invoice.id)
    amount = invoice.amount_due_minor if amount_minor is None else amount_minor
    apply_payment(invoice, amount, NOW)
    payment = Payment(
        account_id=invoice.account_id,
        method=PaymentMethod.CARD,
        status=PaymentStatus.SUCCEEDED,
        currency=invoice.currency,
        amount_minor=amount,
        received_date=NOW.date(),
        processor="stripe",
        processor_payment_id=processor_payment_id,
        card_brand="visa",
        card_last4=last4,
        created_at=NOW,
        succeeded_at=NOW,
        allocations=[PaymentAllocation(invoice_id=invoice.id, amount_minor=amount)],
    )
    session.add(payment)
    session.commit()
    return payment


def card_overtaken_by_a_check(session: Session, make, gateway: FakeGateway):
    """A card payment for the whole invoice waits for 3-D Secure while a $10.00 check is
    recorded; then the card payment completes. Returns (invoice, payment)."""
    invoice = make.invoice()
    account = session.get(Account, invoice.account_id)
    customer = cards.ensure_customer(session, gateway, account_id=account.id, now=NOW, actor="t")
    card = cards.finish_card_setup(
        session,
        gateway,
        account_id=account.id,
        setup_intent_id=gateway.succeeded_setup(THREE_D_SECURE, customer_id=customer),
        now=NOW,
        actor="t",
    )
    try:
        card_payments.pay_with_card(
            session,
            gateway,
            account_id=account.id,
            shares=[card_payments.Share(invoice.id, invoice.total_minor)],
            card_id=card.id,
            setup_intent_id=None,
            allow_partial=True,
            now=NOW,
            actor="portal_user:1",
            base_url="http://localhost",
        )
    except AuthenticationRequired as needed:
        waiting = needed
    else:
        raise AssertionError("the 3-D Secure card did not ask for authentication")
    make.payment(invoice, 1000)
    gateway.authenticate(waiting.payment_intent_id)
    payment = card_payments.confirm_card_payment(
        session,
        gateway,
        payment_id=waiting.payment_id,
        account_id=invoice.account_id,
        now=NOW,
        actor="t",
        base_url="http://localhost",
    )
    session.refresh(invoice)
    return invoice, payment


@dataclass
class RefundingFakeGateway(FakeGateway):
    """FakeGateway plus find_refund and switches that make the next refund call fail:
    `refund_error` raises it (the refund is not made); `lose_next_refund` makes the refund and
    then raises GatewayRetryable, as if the answer were lost; `pending_next_refund` answers
    status pending."""

    refund_error: Exception | None = None
    lose_next_refund: bool = False
    pending_next_refund: bool = False
    refund_calls: int = 0

    def refund(self, *, payment_intent_id, amount_minor, currency, idempotency_key, metadata):
        self.refund_calls += 1
        if self.refund_error is not None:
            error, self.refund_error = self.refund_error, None
            raise error
        result = super().refund(
            payment_intent_id=payment_intent_id,
            amount_minor=amount_minor,
            currency=currency,
            idempotency_key=idempotency_key,
            metadata=metadata,
        )
        if self.pending_next_refund:
            self.pending_next_refund = False
            result = replace(result, status="pending")
            self.refunds[result.refund_id] = result
        if self.lose_next_refund:
            self.lose_next_refund = False
            raise GatewayRetryable("Stripe could not be reached: the answer was lost")
        return result

    def find_refund(self, *, payment_intent_id, metadata_key, metadata_value):
        for result in self.refunds.values():
            if (
                result.payment_intent_id == payment_intent_id
                and result.metadata.get(metadata_key) == metadata_value
            ):
                return result
        return None

    def settle_refund(self, refund_id: str, status: str) -> None:
        self.refunds[refund_id] = replace(self.refunds[refund_id], status=status)

    def charged(self, amount_minor: int, currency: str = "USD") -> str:
        """A succeeded PaymentIntent of `amount_minor`; returns its id."""
        pm = self.add_card()
        return self.charge(
            customer_id="cus_x",
            payment_method_id=pm,
            amount_minor=amount_minor,
            currency=currency,
            idempotency_key=f"test:{pm}",
            metadata={},
        ).payment_intent_id
