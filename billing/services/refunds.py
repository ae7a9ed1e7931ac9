"""Refunds: money going back to a customer, in full or in part, for one payment.

Paydesk enforces the refundable remainder itself; the processor is never trusted to refuse
(localstripe refunds beyond the charge). Under a row lock on the payment, a new refund may be at
most what was paid, minus what was already refunded, minus refunds still pending, and only as
much as can be placed (see "Where a refund comes from" below).

Card payments (a processor payment):
1. `refund_payment` writes the Refund row as pending and commits (one transaction), so the row
   that names the operation exists before the processor hears of it;
2. calls gateway.refund with idempotency key f"refund:{id}" and metadata
   {"paydesk_refund_id": id};
3. records the outcome in a second transaction: succeeded (amounts, audit, email), failed (the
   processor's message, shown to staff; nothing changed), or still pending when the answer was
   lost or the processor says pending. `reconcile_refund` (run by the sweeper job for pending
   refunds) settles those from the processor: by the refund id when known, else by finding the
   PaymentIntent's refund with that metadata; one that the processor never received is marked
   failed (nothing was refunded), and staff may refund again.
Offline payments (check, cash, bank transfer, other): staff record how the money went back
(`method_for_offline`, a reference); it succeeds in one transaction, no gateway.
Payments made from account credit: the refund gives the credit back to the account.
Refunds made outside Paydesk (the Stripe dashboard) arrive through `apply_processor_refund`,
which payments-core's charge.refunded webhook handler calls; it is idempotent by the
processor's refund id.

Where a refund comes from, in this order: the part of the payment that became account credit
(an overpayment) while the account still holds that credit; the part applied to no invoice
(e.g. a Pay Now widget payment); then the invoices it paid, newest allocation first. Each
invoice's amount_refunded grows by its part (refunds never reopen an invoice: see
billing/totals.py), and the payment's amount_refunded by the whole. A payment is "refunded"
when amount_refunded == amount and "partially refunded" in between; its status stays succeeded.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from billing import audit
from billing.errors import (
    BillingError,
    GatewayPermanent,
    GatewayRetryable,
    InvalidTransition,
    NotFound,
    ValidationFailed,
)
from billing.formatting import format_money
from billing.gateways.base import PaymentGateway, RefundResult
from billing.models import (
    Account,
    AccountCredit,
    CreditKind,
    CreditNote,
    Invoice,
    Payment,
    PaymentAllocation,
    PaymentMethod,
    PaymentStatus,
    Refund,
    RefundStatus,
    SettlementStatus,
)
from billing.services import credit, emails

log = logging.getLogger(__name__)

OFFLINE_METHODS = frozenset(
    {PaymentMethod.CHECK, PaymentMethod.CASH, PaymentMethod.BANK_TRANSFER, PaymentMethod.OTHER}
)
METADATA_KEY = "paydesk_refund_id"
MAX_REASON = 500
MAX_REFERENCE = 200
# A pending card refund younger than this may still have its processor call in flight.
RECONCILE_AFTER = timedelta(minutes=2)
PROCESSOR_ACTOR = "processor:stripe"


# --- where a refund comes from -------------------------------------------------------------


@dataclass(frozen=True)
class Placement:
    """How much of an amount comes from each part of a payment."""

    from_credit: int
    unapplied: int
    to_invoices: tuple[tuple[PaymentAllocation, int], ...]

    @property
    def total(self) -> int:
        return self.from_credit + self.unapplied + sum(part for _, part in self.to_invoices)


def _credit_of(session: Session, payment: Payment) -> tuple[int, int]:
    """(credit the payment created, credit already taken back by its refunds)."""
    granted, taken = session.execute(
        select(
            func.coalesce(
                func.sum(AccountCredit.amount_minor).filter(
                    AccountCredit.kind == CreditKind.OVERPAYMENT
                ),
                0,
            ),
            func.coalesce(
                func.sum(AccountCredit.amount_minor).filter(
                    AccountCredit.kind == CreditKind.REFUND_REVERSAL
                ),
                0,
            ),
        ).where(AccountCredit.payment_id == payment.id)
    ).one()
    return int(granted), -int(taken)


def _capacity(session: Session, payment: Payment) -> Placement:
    """Everything of the payment that a refund could still take, part by part."""
    granted, taken = _credit_of(session, payment)
    allocations = list(
        session.scalars(
            _fresh(
                select(PaymentAllocation)
                .where(PaymentAllocation.payment_id == payment.id)
                .order_by(PaymentAllocation.id.desc())
            )
        )
    )
    allocated = sum(a.amount_minor for a in allocations)
    allocated_refunded = sum(a.amount_refunded_minor for a in allocations)
    unapplied_total = payment.amount_minor - allocated - granted
    unapplied_refunded = payment.amount_refunded_minor - allocated_refunded - taken
    if payment.method == PaymentMethod.ACCOUNT_CREDIT:
        credit_left = 0
    else:
        held = credit.balance(session, account_id=payment.account_id, currency=payment.currency)
        credit_left = max(0, min(granted - taken, held))
    return Placement(
        from_credit=credit_left,
        unapplied=max(0, unapplied_total - unapplied_refunded),
        to_invoices=tuple(
            (a, a.amount_minor - a.amount_refunded_minor)
            for a in allocations
            if a.amount_minor > a.amount_refunded_minor
        ),
    )


def _place(capacity: Placement, amount: int) -> Placement:
    """Take `amount` from `capacity` in order: credit, unapplied, invoices (newest first).
    What no part can take is left out (the caller compares totals)."""
    from_credit = min(amount, capacity.from_credit)
    left = amount - from_credit
    unapplied = min(left, capacity.unapplied)
    left -= unapplied
    parts = []
    for allocation, room in capacity.to_invoices:
        if left <= 0:
            break
        part = min(left, room)
        parts.append((allocation, part))
        left -= part
    return Placement(from_credit, unapplied, tuple(parts))


def _pending_total(session: Session, payment_id: int) -> int:
    return int(
        session.scalar(
            select(func.coalesce(func.sum(Refund.amount_minor), 0)).where(
                Refund.payment_id == payment_id, Refund.status == RefundStatus.PENDING
            )
        )
        or 0
    )


def refundable_minor(session: Session, *, payment_id: int) -> int:
    """What a new refund of the payment may be at most right now (0 for a payment that did not
    succeed). Read-only; refund_payment checks it again under the payment's row lock."""
    payment = session.get(Payment, payment_id, populate_existing=True)
    if payment is None:
        raise NotFound(f"payment {payment_id}")
    return _refundable(session, payment)


def _refundable(session: Session, payment: Payment) -> int:
    if payment.status != PaymentStatus.SUCCEEDED:
        return 0
    remainder = payment.amount_minor - payment.amount_refunded_minor
    pending = _pending_total(session, payment.id)
    return max(0, min(remainder, _capacity(session, payment).total) - pending)


# --- locking --------------------------------------------------------------------------------


def _fresh(query):
    """Rows as the database has them now, even when the session holds older copies."""
    return query.execution_options(populate_existing=True)


def _lock_payment(session: Session, payment_id: int) -> Payment:
    payment = session.scalar(
        _fresh(select(Payment).where(Payment.id == payment_id).with_for_update())
    )
    if payment is None:
        raise NotFound(f"payment {payment_id}")
    return payment


def _lock_refund(session: Session, refund_id: int) -> Refund:
    """Lock the refund's payment, then the refund (the order every refund path uses)."""
    payment_id = session.scalar(select(Refund.payment_id).where(Refund.id == refund_id))
    if payment_id is None:
        raise NotFound(f"refund {refund_id}")
    _lock_payment(session, payment_id)
    return session.scalar(_fresh(select(Refund).where(Refund.id == refund_id).with_for_update()))


# --- requesting a refund --------------------------------------------------------------------


def _is_card(payment: Payment) -> bool:
    return payment.method == PaymentMethod.CARD


def _check_request(
    session: Session,
    payment: Payment,
    *,
    amount_minor: int,
    reason: str,
    reference: str,
    method_for_offline: PaymentMethod | None,
) -> PaymentMethod:
    """The method the money goes back by; raises ValidationFailed / InvalidTransition."""
    if payment.status != PaymentStatus.SUCCEEDED:
        raise InvalidTransition(f"A {payment.status} payment cannot be refunded.")
    errors: dict[str, str] = {}
    if _is_card(payment):
        method = PaymentMethod.CARD
        if not payment.processor_payment_id:
            raise InvalidTransition("This card payment has no processor reference to refund.")
    elif payment.method == PaymentMethod.ACCOUNT_CREDIT:
        method = PaymentMethod.ACCOUNT_CREDIT
    else:
        method = method_for_offline  # type: ignore[assignment]
        if method not in OFFLINE_METHODS:
            errors["method"] = (
                "Choose how the money went back: check, cash, bank transfer or other."
            )
    if len(reason) > MAX_REASON:
        errors["reason"] = f"Use at most {MAX_REASON} characters."
    if len(reference) > MAX_REFERENCE:
        errors["reference"] = f"Use at most {MAX_REFERENCE} characters."
    refundable = _refundable(session, payment)
    if not isinstance(amount_minor, int) or amount_minor <= 0:
        errors["amount"] = "Enter an amount greater than zero."
    elif refundable == 0:
        errors["amount"] = "Nothing is left to refund on this payment."
    elif amount_minor > refundable:
        errors["amount"] = (
            f"At most {format_money(refundable, payment.currency)} can be refunded "
            f"(paid {format_money(payment.amount_minor, payment.currency)}, refunded "
            f"{format_money(payment.amount_refunded_minor, payment.currency)}"
            + (
                f", pending {format_money(pending, payment.currency)}"
                if (pending := _pending_total(session, payment.id))
                else ""
            )
            + ")."
        )
    if errors:
        raise ValidationFailed(errors)
    return method


def refund_payment(
    session: Session,
    gateway: PaymentGateway | None,
    *,
    payment_id: int,
    amount_minor: int,
    reason: str,
    method_for_offline: PaymentMethod | None,
    now: datetime,
    actor: str,
    reference: str = "",
) -> Refund:
    """Refund `amount_minor` of a succeeded payment (full or partial) and return the Refund.

    Card payments go back through `gateway` (see the module docstring for the two commits
    around the call); the returned refund is succeeded, failed (its failure_message says why;
    nothing changed) or pending (the processor's answer was lost or is not final yet; the
    sweeper settles it). Offline payments need `method_for_offline` (how the money went back)
    and succeed at once; payments made from account credit go back to the credit.

    Raises ValidationFailed ({field: message}: amount beyond the refundable remainder, missing
    method, too-long text) and InvalidTransition (the payment did not succeed) without writing
    anything; NotFound. Not idempotent: each call is a new refund (the remainder check stops
    repeats from exceeding the payment)."""
    reason = (reason or "").strip()
    reference = (reference or "").strip()
    try:
        payment = _lock_payment(session, payment_id)
        method = _check_request(
            session,
            payment,
            amount_minor=amount_minor,
            reason=reason,
            reference=reference,
            method_for_offline=method_for_offline,
        )
        refund = Refund(
            payment_id=payment.id,
            status=RefundStatus.PENDING,
            amount_minor=amount_minor,
            reason=reason,
            method=method,
            reference=reference,
            created_at=now,
        )
        session.add(refund)
        audit.record(
            session,
            actor=actor,
            action="refund.requested",
            subject=refund,
            now=now,
            account_id=payment.account_id,
            after={
                "payment_id": payment.id,
                "amount_minor": amount_minor,
                "method": str(method),
                "reason": reason,
            },
        )
        if method != PaymentMethod.CARD:
            _succeed(session, payment, refund, now=now, actor=actor)
    except Exception:
        session.rollback()
        raise
    session.commit()
    if method != PaymentMethod.CARD:
        return refund
    return _call_processor(session, gateway, refund.id, now=now, actor=actor)


OVERFLOW_REASON = "Paid more than its invoices still owed (account credit is turned off)."


def refund_overflow(
    session: Session, gateway: PaymentGateway | None, *, payment_id: int, now: datetime, actor: str
) -> Refund | None:
    """Send back to the card what a card payment's invoices could no longer take when it
    settled (Payment.overflow_minor) and what did not become account credit; returns the new
    Refund (succeeded, failed or pending, as refund_payment's), or None with nothing to send.

    Idempotent, so every path that learns of the outcome may call it: under the payment's row
    lock, what is sent is the overflow minus the credit it became, minus what was already
    refunded from the payment's unapplied part, and no more than that part holds after the
    refunds still pending (which are placed on it first). Never touches money an invoice took,
    nor a Pay Now payment's amount for no invoice. Commits (or rolls back with nothing to do)."""
    payment = _lock_payment(session, payment_id)
    amount = 0
    if _is_card(payment) and payment.status == PaymentStatus.SUCCEEDED and payment.overflow_minor:
        granted, taken = _credit_of(session, payment)
        if granted == 0:
            capacity = _capacity(session, payment)
            pending = _pending_total(session, payment.id)
            left_after_pending = capacity.unapplied - max(0, pending - capacity.from_credit)
            refunded_unapplied = _refunded_unapplied(session, payment, credit_taken=taken)
            amount = min(left_after_pending, payment.overflow_minor - refunded_unapplied)
    if amount <= 0:
        session.rollback()
        return None
    return refund_payment(
        session,
        gateway,
        payment_id=payment_id,
        amount_minor=amount,
        reason=OVERFLOW_REASON,
        method_for_offline=None,
        now=now,
        actor=actor,
    )


def _refunded_unapplied(session: Session, payment: Payment, *, credit_taken: int) -> int:
    """What the payment's refunds took from its unapplied part: not from invoices, and not the
    `credit_taken` back from the credit it became (_credit_of)."""
    allocated_refunded = sum(
        a.amount_refunded_minor
        for a in session.scalars(
            _fresh(select(PaymentAllocation).where(PaymentAllocation.payment_id == payment.id))
        )
    )
    return max(0, payment.amount_refunded_minor - allocated_refunded - credit_taken)


def _call_processor(
    session: Session, gateway: PaymentGateway | None, refund_id: int, *, now: datetime, actor: str
) -> Refund:
    refund = session.get(Refund, refund_id)
    payment = session.get(Payment, refund.payment_id)
    try:
        if gateway is None:
            raise GatewayPermanent("Card refunds are not set up: no payment gateway is configured.")
        result = gateway.refund(
            payment_intent_id=payment.processor_payment_id,
            amount_minor=refund.amount_minor,
            currency=payment.currency,
            idempotency_key=f"refund:{refund.id}",
            metadata={METADATA_KEY: str(refund.id)},
        )
    except GatewayRetryable as exc:
        log.warning("refund %s: outcome unknown (%s); the sweeper will reconcile", refund_id, exc)
        return _note_unknown(session, refund_id, str(exc))
    except BillingError as exc:
        return _settle(session, refund_id, None, now=now, actor=actor, failure=str(exc))
    return _settle(session, refund_id, result, now=now, actor=actor)


def _note_unknown(session: Session, refund_id: int, message: str) -> Refund:
    """Keep a refund pending after a lost answer, with a note for staff. Commits."""
    refund = _lock_refund(session, refund_id)
    if refund.status == RefundStatus.PENDING:
        refund.failure_message = (
            f"{message} Paydesk will check with the processor and finish this refund."
        )[:2000]
    session.commit()
    return refund


# --- settling -------------------------------------------------------------------------------


def _settle(
    session: Session,
    refund_id: int,
    result: RefundResult | None,
    *,
    now: datetime,
    actor: str,
    failure: str | None = None,
) -> Refund:
    """Record a processor outcome for a pending refund in one transaction. A refund no longer
    pending is left alone (idempotent). Commits."""
    refund = _lock_refund(session, refund_id)
    if refund.status != RefundStatus.PENDING:
        session.rollback()
        return refund
    payment = session.get(Payment, refund.payment_id)
    if result is not None:
        refund.processor_refund_id = result.refund_id or refund.processor_refund_id
    status = result.status if result is not None else "failed"
    if status == "succeeded":
        refund.failure_message = ""
        _succeed(session, payment, refund, now=now, actor=actor)
    elif status in {"failed", "canceled"}:
        _fail(session, payment, refund, failure or "The processor refused the refund.", now, actor)
    else:  # pending, requires_action: not final at the processor yet
        refund.failure_message = "The processor has not completed this refund yet."
    _settle_credit_note(session, refund, now=now, actor=actor)
    session.commit()
    return refund


def _settle_credit_note(session: Session, refund: Refund, *, now: datetime, actor: str) -> None:
    """The credit note whose outside part `refund` gives back settles with it, in the caller's
    transaction: done when the refund succeeded, failed with its message (staff can try again
    from the credit note) when it failed; a still-pending refund leaves it pending. Idempotent:
    only a pending credit note changes."""
    if refund.status == RefundStatus.PENDING:
        return
    note = session.scalar(
        select(CreditNote).where(CreditNote.refund_id == refund.id).with_for_update()
    )
    if note is None or note.settlement_status != SettlementStatus.PENDING:
        return
    if refund.status == RefundStatus.SUCCEEDED:
        note.settlement_status, note.settled_at, note.settlement_error = (
            SettlementStatus.DONE,
            now,
            "",
        )
    else:
        note.settlement_status = SettlementStatus.FAILED
        note.settlement_error = refund.failure_message or "The refund did not go through."
    audit.record(
        session,
        actor=actor,
        action="credit_note.refund_" + ("made" if note.settled_at else "failed"),
        subject=note,
        now=now,
        account_id=note.account_id,
        before={"settlement_status": str(SettlementStatus.PENDING)},
        after={
            "settlement_status": str(note.settlement_status),
            "refund_id": refund.id,
            "error": note.settlement_error or None,
        },
    )


def _fail(
    session: Session, payment: Payment, refund: Refund, message: str, now: datetime, actor: str
) -> None:
    refund.status = RefundStatus.FAILED
    refund.failure_message = message[:2000]
    audit.record(
        session,
        actor=actor,
        action="refund.failed",
        subject=refund,
        now=now,
        account_id=payment.account_id,
        before={"status": str(RefundStatus.PENDING)},
        after={"status": str(RefundStatus.FAILED), "failure_message": refund.failure_message},
    )


def _succeed(
    session: Session, payment: Payment, refund: Refund, *, now: datetime, actor: str
) -> None:
    """Mark a pending refund succeeded and move every amount it touches, with audit entries and
    the customer's email, in the caller's transaction (payment already locked)."""
    session.flush()
    amount = min(refund.amount_minor, payment.amount_minor - payment.amount_refunded_minor)
    if amount < refund.amount_minor:
        # Only reachable for a processor refund beyond the payment (never through Paydesk).
        log.error("refund %s exceeds payment %s; recording %s", refund.id, payment.id, amount)
        refund.amount_minor = amount
    placement = _place(_capacity(session, payment), amount)
    refund.status = RefundStatus.SUCCEEDED
    refund.succeeded_at = now
    payment_before = payment.amount_refunded_minor
    payment.amount_refunded_minor += amount
    invoices = _refund_invoices(session, payment, placement, now=now, actor=actor)
    if invoices:
        refund.invoice_id = invoices[0].id
    if placement.from_credit:
        credit.add_entry(
            session,
            account_id=payment.account_id,
            currency=payment.currency,
            amount_minor=-placement.from_credit,
            kind=CreditKind.REFUND_REVERSAL,
            reason=f"Overpayment refunded ({payment.receipt_number})",
            now=now,
            actor=actor,
            payment_id=payment.id,
            refund_id=refund.id,
        )
    if refund.method == PaymentMethod.ACCOUNT_CREDIT:
        credit.add_entry(
            session,
            account_id=payment.account_id,
            currency=payment.currency,
            amount_minor=amount,
            kind=CreditKind.RESTORED,
            reason=f"Refund of {payment.receipt_number}, paid from credit",
            now=now,
            actor=actor,
            payment_id=payment.id,
            refund_id=refund.id,
        )
    audit.record(
        session,
        actor=actor,
        action="refund.succeeded",
        subject=refund,
        now=now,
        account_id=payment.account_id,
        before={"status": str(RefundStatus.PENDING)},
        after={
            "status": str(RefundStatus.SUCCEEDED),
            "amount_minor": amount,
            "processor_refund_id": refund.processor_refund_id,
        },
    )
    audit.record(
        session,
        actor=actor,
        action="payment.refunded",
        subject=payment,
        now=now,
        account_id=payment.account_id,
        before={"amount_refunded_minor": payment_before},
        after={"amount_refunded_minor": payment.amount_refunded_minor, "refund_id": refund.id},
    )
    _email_customer(session, payment, refund, invoices, now=now)


def _refund_invoices(
    session: Session, payment: Payment, placement: Placement, *, now: datetime, actor: str
) -> list[Invoice]:
    touched = []
    for allocation, part in placement.to_invoices:
        invoice = session.scalar(
            _fresh(select(Invoice).where(Invoice.id == allocation.invoice_id).with_for_update())
        )
        before = invoice.amount_refunded_minor
        allocation.amount_refunded_minor += part
        invoice.amount_refunded_minor += part
        audit.record(
            session,
            actor=actor,
            action="invoice.refunded",
            subject=invoice,
            now=now,
            account_id=invoice.account_id,
            before={"amount_refunded_minor": before},
            after={
                "amount_refunded_minor": invoice.amount_refunded_minor,
                "payment_id": payment.id,
            },
        )
        touched.append(invoice)
    return touched


def _email_customer(
    session: Session, payment: Payment, refund: Refund, invoices: list[Invoice], *, now: datetime
) -> None:
    account = session.get(Account, payment.account_id)
    emails.queue_email(
        session,
        to=account.billing_email,
        template="refund",
        context={
            "account_name": account.name,
            "locale": account.locale,
            "amount_minor": refund.amount_minor,
            "currency": payment.currency,
            "receipt_number": payment.receipt_number,
            "payment_amount_minor": payment.amount_minor,
            "received_date": payment.received_date,
            "method": str(refund.method),
            "method_label": PaymentMethod(refund.method).label,
            "card": (
                f"{(payment.card_brand or 'card').capitalize()} ending {payment.card_last4}"
                if payment.card_last4
                else ""
            ),
            "reference": refund.reference,
            "reason": refund.reason,
            "invoices": [i.display_number for i in invoices],
            "fully_refunded": payment.amount_refunded_minor >= payment.amount_minor,
        },
        account_id=account.id,
        now=now,
    )


# --- reconciling and refunds made elsewhere ------------------------------------------------


def pending_card_refund_ids(
    session: Session, *, older_than: datetime, limit: int = 200
) -> list[int]:
    """Card refunds still pending since before `older_than` (for the sweeper). Read-only."""
    return list(
        session.scalars(
            select(Refund.id)
            .where(
                Refund.status == RefundStatus.PENDING,
                Refund.method == PaymentMethod.CARD,
                Refund.created_at < older_than,
            )
            .order_by(Refund.id)
            .limit(limit)
        )
    )


def reconcile_refund(
    session: Session, gateway: PaymentGateway, *, refund_id: int, now: datetime
) -> Refund:
    """Settle a pending card refund from what the processor knows (the sweeper's job).

    By the processor refund id when Paydesk has it, else by the PaymentIntent's refund whose
    metadata paydesk_refund_id is this refund's id. Found and succeeded: recorded as succeeded
    (amounts, audit, email). Failed or canceled: failed. Not found: the processor never received
    the request, so nothing was refunded: failed, and staff may refund again. Idempotent: a
    refund that is not pending (or not a card refund) is returned unchanged. Raises
    GatewayRetryable when the processor cannot be reached (the next sweep tries again),
    NotFound for an unknown refund id."""
    refund = session.get(Refund, refund_id, populate_existing=True)
    if refund is None:
        raise NotFound(f"refund {refund_id}")
    if refund.status != RefundStatus.PENDING or refund.method != PaymentMethod.CARD:
        return refund
    payment = session.get(Payment, refund.payment_id)
    if refund.processor_refund_id:
        result = gateway.retrieve_refund(refund.processor_refund_id)
    else:
        result = gateway.find_refund(
            payment_intent_id=payment.processor_payment_id,
            metadata_key=METADATA_KEY,
            metadata_value=str(refund.id),
        )
    session.rollback()  # end the read; _settle locks afresh
    if result is None:
        return _settle(
            session,
            refund_id,
            None,
            now=now,
            actor="system",
            failure="The processor has no record of this refund, so nothing was refunded. "
            "You can refund the payment again.",
        )
    return _settle(session, refund_id, result, now=now, actor="system")


def apply_processor_refund(
    session: Session,
    *,
    processor_payment_id: str,
    processor_refund_id: str,
    amount_minor: int,
    now: datetime,
    metadata: Mapping[str, str] | None = None,
    reason: str = "Refunded at the processor",
) -> Refund | None:
    """Record a refund the processor reports (charge.refunded: e.g. one made in the Stripe
    dashboard, or Paydesk's own whose answer was lost). Idempotent by processor_refund_id: a
    refund already recorded as succeeded is returned unchanged; Paydesk's own pending refund
    (matched by that id or by metadata paydesk_refund_id) is settled as succeeded. Otherwise a
    new succeeded refund is recorded, at most the payment's remainder (the money already went
    back; the processor is the authority on that). Returns None for an unknown payment (not
    ours) or a non-positive amount. Commits."""
    if amount_minor <= 0:
        return None
    payment_id = session.scalar(
        select(Payment.id).where(Payment.processor_payment_id == processor_payment_id)
    )
    if payment_id is None:
        session.rollback()
        return None
    payment = _lock_payment(session, payment_id)
    refund = session.scalar(
        _fresh(
            select(Refund)
            .where(Refund.processor_refund_id == processor_refund_id)
            .with_for_update()
        )
    )
    own_id = (metadata or {}).get(METADATA_KEY, "")
    if refund is None and own_id.isdigit():
        refund = session.scalar(
            _fresh(
                select(Refund)
                .where(Refund.id == int(own_id), Refund.payment_id == payment.id)
                .with_for_update()
            )
        )
    if refund is not None:
        if refund.status != RefundStatus.PENDING:
            session.rollback()
            return refund
        refund.processor_refund_id = processor_refund_id
        _succeed(session, payment, refund, now=now, actor=PROCESSOR_ACTOR)
        session.commit()
        return refund
    remainder = payment.amount_minor - payment.amount_refunded_minor
    if remainder <= 0:
        log.error(
            "processor refund %s on fully refunded payment %s", processor_refund_id, payment.id
        )
        session.rollback()
        return None
    refund = Refund(
        payment_id=payment.id,
        status=RefundStatus.PENDING,
        amount_minor=min(amount_minor, remainder),
        reason=reason[:MAX_REASON],
        method=PaymentMethod.CARD,
        processor_refund_id=processor_refund_id,
        created_at=now,
    )
    session.add(refund)
    _succeed(session, payment, refund, now=now, actor=PROCESSOR_ACTOR)
    session.commit()
    return refund
