"""Card payments: one payment over one or more invoices, never charged twice, applied once.

The life of a card payment:

1. `start_card_payment` locks the invoices (FOR UPDATE, in id order), checks each amount
   against what is still due minus what other in-flight card payments already reserve, and
   commits a `pending` Payment with its allocations. Nothing has touched the processor yet.
2. `charge_payment` commits `processor_requested_at`, then asks the gateway to charge with
   Idempotency-Key `payment:<id>` and metadata {"paydesk_payment_id": id}. If it is run again
   for a payment that was already requested (a killed worker, a lost answer), it first looks
   the PaymentIntent up by that metadata and settles from it instead of charging again.
3. `record_outcome` applies a processor answer under the payment's row lock: succeeded ->
   invoices are locked in id order, each allocation is applied (never more than is due:
   anything left over becomes account credit, or stays unapplied for a refund when credit is
   off), a receipt email with the PDF is queued;
   requires_action -> the browser finishes 3-D Secure and `confirm_card_payment` retrieves the
   result; declined -> failed with the reason. A payment that already succeeded is never
   applied again, so the synchronous answer, the webhook and reconciliation can all arrive, in
   any order, and the money moves once.
4. `reconcile_payment` (the sweeper's job) settles payments left pending or waiting for 3-D
   Secure: from the PaymentIntent it knows, or found by metadata; one never sent to the
   processor is canceled after NOT_SENT_AFTER; 3-D Secure abandoned for ACTION_TIMEOUT is
   canceled at the processor.

Invoice amounts and statuses change only in step 3. Every public function commits its own
transactions and audits each change of money or status.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from billing import audit
from billing.errors import (
    AuthenticationRequired,
    BillingError,
    GatewayPermanent,
    GatewayRetryable,
    NotFound,
    PaymentDeclined,
    ValidationFailed,
)
from billing.formatting import format_money
from billing.gateways.base import CardDetails, PaymentGateway, PaymentResult
from billing.gateways.declines import explain
from billing.models import (
    Account,
    CreditKind,
    Invoice,
    Payment,
    PaymentAllocation,
    PaymentMethod,
    PaymentStatus,
    PortalUser,
    SavedCard,
)
from billing.money import Money, exponent
from billing.services import cards as card_service
from billing.services import credit, emails, refunds
from billing.services.invoices import apply_payment
from billing.services.pay_links import PAYABLE
from billing.services.processor_settings import allows_partial_payments

log = logging.getLogger(__name__)

METADATA_KEY = "paydesk_payment_id"
IN_FLIGHT = (PaymentStatus.PENDING, PaymentStatus.REQUIRES_ACTION)
FINAL = (PaymentStatus.SUCCEEDED, PaymentStatus.FAILED, PaymentStatus.CANCELED)
GAVE_UP = (PaymentStatus.FAILED, PaymentStatus.CANCELED)
NOT_SENT_AFTER = timedelta(minutes=10)  # pending and unknown to the processor: never charged
ACTION_TIMEOUT = timedelta(minutes=30)  # 3-D Secure not finished by then is canceled
MAX_INVOICES = 50


@dataclass(frozen=True)
class Share:
    """How much of one payment goes to one invoice."""

    invoice_id: int
    amount_minor: int


def idempotency_key(payment_id: int) -> str:
    return f"payment:{payment_id}"


def minimum_partial_minor(currency: str) -> int:
    """The smallest partial payment: one whole unit of the currency (1.00 USD, ¥1, 1.000 KWD)."""
    return 10 ** exponent(currency)


def reserved_minor(session: Session, invoice_ids: Sequence[int]) -> dict[int, int]:
    """Per invoice, the amounts held by card payments still in flight. Read-only."""
    rows = session.execute(
        select(PaymentAllocation.invoice_id, func.sum(PaymentAllocation.amount_minor))
        .join(Payment, Payment.id == PaymentAllocation.payment_id)
        .where(PaymentAllocation.invoice_id.in_(invoice_ids), Payment.status.in_(IN_FLIGHT))
        .group_by(PaymentAllocation.invoice_id)
    )
    return {invoice_id: int(total or 0) for invoice_id, total in rows}


def _lock_invoices(session: Session, invoice_ids: Sequence[int]) -> list[Invoice]:
    """Lock invoices FOR UPDATE in id order, so two payments never deadlock on them."""
    return list(
        session.scalars(
            select(Invoice)
            .where(Invoice.id.in_(sorted(set(invoice_ids))))
            .order_by(Invoice.id)
            .with_for_update()
        )
    )


def _check_shares(
    session: Session,
    invoices: dict[int, Invoice],
    shares: Sequence[Share],
    *,
    account_id: int,
    allow_partial: bool,
) -> str:
    """Validate the shares against the locked invoices; returns the common currency."""
    errors: dict[str, str] = {}
    currencies = {inv.currency for inv in invoices.values()}
    reserved = reserved_minor(session, list(invoices))
    for share in shares:
        invoice = invoices.get(share.invoice_id)
        field = f"amount_{share.invoice_id}"
        if invoice is None or invoice.account_id != account_id:
            raise NotFound(f"invoice {share.invoice_id}")
        if invoice.status not in PAYABLE or invoice.amount_due_minor <= 0:
            errors[field] = f"Invoice {invoice.display_number} is not open for payment."
            continue
        available = invoice.amount_due_minor - reserved.get(invoice.id, 0)
        minimum = minimum_partial_minor(invoice.currency)
        number = invoice.display_number
        if available <= 0:
            errors[field] = (
                f"A payment for invoice {number} is already in progress. "
                "Wait a few minutes for it to finish."
            )
        elif share.amount_minor <= 0:
            errors[field] = "Enter an amount to pay."
        elif share.amount_minor > available:
            errors[field] = (
                f"Invoice {number} has {format_money(available, invoice.currency)} left to pay."
            )
        elif share.amount_minor < invoice.amount_due_minor and not allow_partial:
            errors[field] = f"Invoice {number} must be paid in full."
        elif share.amount_minor < min(available, minimum):
            errors[field] = (
                f"Pay at least {format_money(minimum, invoice.currency)}, or the full amount due."
            )
    if len(currencies) > 1:
        errors["invoices"] = "Invoices in different currencies are paid separately."
    if errors:
        raise ValidationFailed(errors)
    return currencies.pop()


def start_card_payment(
    session: Session,
    *,
    account_id: int,
    shares: Sequence[Share],
    card: CardDetails,
    allow_partial: bool,
    processor: str,
    now: datetime,
    actor: str,
    new_card: bool = False,
) -> Payment:
    """Commit a pending card payment over `shares` (nothing is charged yet). `new_card`: the
    card was entered for this payment and saved with it (see forget_new_card).

    Locks the invoices in id order and checks each share against the amount due minus what
    other in-flight payments reserve, so two payments racing for one invoice cannot overpay
    it. Raises ValidationFailed (per-invoice messages; nothing is written), NotFound (an
    invoice of another account). Commits."""
    if not shares:
        raise ValidationFailed({"invoices": "Choose at least one invoice to pay."})
    if len(shares) > MAX_INVOICES or len({s.invoice_id for s in shares}) != len(shares):
        raise ValidationFailed({"invoices": "Choose each invoice once (at most 50)."})
    locked = {inv.id: inv for inv in _lock_invoices(session, [s.invoice_id for s in shares])}
    try:
        currency = _check_shares(
            session, locked, shares, account_id=account_id, allow_partial=allow_partial
        )
    except Exception:
        session.rollback()
        raise
    payment = Payment(
        account_id=account_id,
        method=PaymentMethod.CARD,
        status=PaymentStatus.PENDING,
        currency=currency,
        amount_minor=sum(s.amount_minor for s in shares),
        received_date=now.date(),
        processor=processor,
        processor_payment_method_id=card.payment_method_id,
        card_brand=card.brand,
        card_last4=card.last4,
        new_card=new_card,
        created_at=now,
        allocations=[
            PaymentAllocation(invoice_id=s.invoice_id, amount_minor=s.amount_minor)
            for s in sorted(shares, key=lambda s: s.invoice_id)
        ],
    )
    session.add(payment)
    audit.record(
        session,
        actor=actor,
        action="payment.started",
        subject=payment,
        now=now,
        account_id=account_id,
        after={
            "amount_minor": payment.amount_minor,
            "currency": currency,
            "invoices": {str(s.invoice_id): s.amount_minor for s in shares},
            "card_last4": card.last4,
        },
    )
    session.commit()
    return payment


def _lock_payment(session: Session, payment_id: int) -> Payment:
    payment = session.scalar(
        select(Payment)
        .where(Payment.id == payment_id)
        .options(selectinload(Payment.allocations))
        .with_for_update()
    )
    if payment is None:
        raise NotFound(f"payment {payment_id}")
    return payment


def _customer_for(session: Session, payment: Payment) -> str | None:
    """The processor customer the card is saved to, or None for a one-time card (pay links)."""
    saved = session.scalar(
        select(SavedCard.id).where(
            SavedCard.processor_payment_method_id == payment.processor_payment_method_id
        )
    )
    if saved is None:
        return None
    return session.scalar(
        select(Account.processor_customer_id).where(Account.id == payment.account_id)
    )


def charge_payment(
    session: Session,
    gateway: PaymentGateway,
    *,
    payment_id: int,
    now: datetime,
    actor: str,
    base_url: str,
) -> tuple[Payment, PaymentResult | None]:
    """Charge a pending payment once; returns (payment, the processor's answer or None).

    Safe to run twice: a payment that is no longer pending is left alone, and one whose
    charge was already requested is looked up at the processor by its metadata first (and
    charged only if the processor has never seen it, with the same idempotency key).
    Every recorded outcome is followed up (follow_up: a failed payment's new card removed, an
    overflow refunded). Raises PaymentDeclined (after recording the failure), GatewayRetryable
    (the outcome is unknown; the payment stays pending for reconciliation), GatewayPermanent
    (recorded as a failure). Commits."""
    payment = _lock_payment(session, payment_id)
    if payment.status != PaymentStatus.PENDING:
        session.rollback()
        return payment, None
    customer_id = _customer_for(session, payment)
    if payment.processor_requested_at is not None:
        session.rollback()
        found = gateway.find_payment(
            customer_id=customer_id, metadata_key=METADATA_KEY, metadata_value=str(payment_id)
        )
        if found is not None:
            record_outcome(
                session,
                payment_id=payment_id,
                result=found,
                now=now,
                actor=actor,
                base_url=base_url,
            )
            follow_up(session, gateway, payment_id=payment_id, now=now, actor=actor)
            return session.get(Payment, payment_id), found
        payment = _lock_payment(session, payment_id)
        if payment.status != PaymentStatus.PENDING:
            session.rollback()
            return payment, None
    payment.processor_requested_at = payment.processor_requested_at or now
    request = {
        "customer_id": customer_id,
        "payment_method_id": payment.processor_payment_method_id,
        "amount_minor": payment.amount_minor,
        "currency": payment.currency,
        "idempotency_key": idempotency_key(payment_id),
        "metadata": {METADATA_KEY: str(payment_id), "paydesk_account_id": str(payment.account_id)},
    }
    session.commit()
    try:
        result = gateway.charge(**request)
    except PaymentDeclined as declined:
        _record_failure(
            session,
            payment_id,
            f"{declined.reason} {declined.advice}",
            now=now,
            actor=actor,
            processor_payment_id=declined.payment_intent_id,
        )
        follow_up(session, gateway, payment_id=payment_id, now=now, actor=actor)
        raise
    except GatewayPermanent as exc:
        _record_failure(session, payment_id, str(exc), now=now, actor=actor)
        follow_up(session, gateway, payment_id=payment_id, now=now, actor=actor)
        raise
    record_outcome(
        session, payment_id=payment_id, result=result, now=now, actor=actor, base_url=base_url
    )
    follow_up(session, gateway, payment_id=payment_id, now=now, actor=actor)
    return session.get(Payment, payment_id), result


def _record_failure(
    session: Session,
    payment_id: int,
    message: str,
    *,
    now: datetime,
    actor: str,
    processor_payment_id: str | None = None,
) -> None:
    payment = _lock_payment(session, payment_id)
    if payment.status not in IN_FLIGHT:
        session.rollback()
        return
    before = str(payment.status)
    payment.status = PaymentStatus.FAILED
    payment.failure_message = message[:2000]
    if processor_payment_id and not payment.processor_payment_id:
        payment.processor_payment_id = processor_payment_id
    audit.record(
        session,
        actor=actor,
        action="payment.failed",
        subject=payment,
        now=now,
        account_id=payment.account_id,
        before={"status": before},
        after={"status": str(payment.status), "reason": payment.failure_message},
    )
    session.commit()


def _belongs(payment: Payment, result: PaymentResult) -> bool:
    """Whether a processor answer is about this payment (by id or by our metadata)."""
    if payment.processor_payment_id:
        return payment.processor_payment_id == result.payment_intent_id
    return result.metadata.get(METADATA_KEY) in (None, str(payment.id))


def record_outcome(
    session: Session,
    *,
    payment_id: int,
    result: PaymentResult,
    now: datetime,
    actor: str,
    base_url: str,
) -> Payment:
    """Apply what the processor says about a payment, exactly once. Commits.

    succeeded: the payment succeeds and its allocations are applied to the (locked)
    invoices, never beyond what is due, and a receipt is emailed. requires_action: waits for
    the browser. requires_payment_method / canceled with an error: failed / canceled.
    processing: stays pending. A payment already succeeded is left alone; one we had given up
    on (failed, canceled) that the processor says succeeded is applied after all (the money
    was taken). Raises GatewayPermanent for an answer about another PaymentIntent or another
    amount."""
    payment = _lock_payment(session, payment_id)
    if payment.status == PaymentStatus.SUCCEEDED or not (
        payment.status in IN_FLIGHT or result.succeeded
    ):
        session.rollback()
        return payment
    if not _belongs(payment, result) or (
        result.amount_minor != payment.amount_minor or result.currency != payment.currency
    ):
        session.rollback()
        raise GatewayPermanent(
            f"The processor's answer ({result.payment_intent_id}) does not match payment "
            f"{payment.id}."
        )
    before = str(payment.status)
    payment.processor_payment_id = payment.processor_payment_id or result.payment_intent_id
    payment.processor_charge_id = result.charge_id or payment.processor_charge_id
    payment.card_brand = result.card_brand or payment.card_brand
    payment.card_last4 = result.card_last4 or payment.card_last4
    if result.succeeded:
        _settle(session, payment, now=now, actor=actor, base_url=base_url, before=before)
    elif result.needs_action:
        if payment.status == PaymentStatus.REQUIRES_ACTION:
            session.commit()
            return payment
        payment.status = PaymentStatus.REQUIRES_ACTION
        _audit_status(session, payment, before, actor=actor, now=now)
    elif result.status == "canceled" or result.failed:
        payment.status = (
            PaymentStatus.CANCELED if result.status == "canceled" else PaymentStatus.FAILED
        )
        payment.failure_message = (result.failure_message or "The payment was not completed.")[
            :2000
        ]
        _audit_status(session, payment, before, actor=actor, now=now)
    session.commit()
    return payment


def _audit_status(session: Session, payment: Payment, before: str, *, actor: str, now) -> None:
    audit.record(
        session,
        actor=actor,
        action=f"payment.{payment.status}",
        subject=payment,
        now=now,
        account_id=payment.account_id,
        before={"status": before},
        after={"status": str(payment.status), "processor_payment_id": payment.processor_payment_id},
    )


def _settle(
    session: Session, payment: Payment, *, now: datetime, actor: str, base_url: str, before: str
) -> None:
    """Succeed the (locked) payment and apply its allocations to the invoices, locked in id
    order. An invoice that no longer owes the whole share (paid offline or voided while the
    card payment was in flight) takes what it owes; the rest (Payment.overflow_minor) becomes
    account credit, as an offline overpayment does, or, when credit is turned off in Settings,
    stays unapplied until follow_up sends it back to the card. Both are in the audit and the
    receipt."""
    locked = _lock_invoices(session, [a.invoice_id for a in payment.allocations])
    invoices = {inv.id: inv for inv in locked}
    unapplied = 0
    applied: list[tuple[Invoice, int]] = []
    for allocation in sorted(payment.allocations, key=lambda a: a.invoice_id):
        invoice = invoices[allocation.invoice_id]
        fits = invoice.amount_due_minor if invoice.status in PAYABLE else 0
        amount = min(allocation.amount_minor, fits)
        unapplied += allocation.amount_minor - amount
        if amount <= 0:
            payment.allocations.remove(allocation)
            continue
        allocation.amount_minor = amount
        snapshot = {"amount_paid_minor": invoice.amount_paid_minor, "status": str(invoice.status)}
        apply_payment(invoice, amount, now)
        applied.append((invoice, amount))
        audit.record(
            session,
            actor=actor,
            action="invoice.payment_applied",
            subject=invoice,
            now=now,
            account_id=invoice.account_id,
            before=snapshot,
            after={
                "amount_paid_minor": invoice.amount_paid_minor,
                "status": str(invoice.status),
                "payment_id": payment.id,
            },
        )
    payment.status = PaymentStatus.SUCCEEDED
    payment.succeeded_at = now
    payment.received_date = now.date()
    payment.failure_message = ""
    payment.overflow_minor = unapplied
    credited = _credit_overflow(session, payment, unapplied, now=now, actor=actor)
    audit.record(
        session,
        actor=actor,
        action="payment.succeeded",
        subject=payment,
        now=now,
        account_id=payment.account_id,
        before={"status": before},
        after={
            "status": "succeeded",
            "amount_minor": payment.amount_minor,
            "unapplied_minor": unapplied - credited,
            "credited_minor": credited,
            "processor_payment_id": payment.processor_payment_id,
        },
    )
    _queue_receipt(
        session, payment, applied, unapplied - credited, credited, now=now, base_url=base_url
    )


def _credit_overflow(
    session: Session, payment: Payment, overflow: int, *, now: datetime, actor: str
) -> int:
    """Turn the part of a settling payment that no invoice took into account credit, when the
    company allows credit; returns the amount credited (0 when there is none or credit is
    off). Writes in the caller's transaction."""
    if overflow <= 0 or not credit.credit_allowed(session):
        return 0
    credit.add_entry(
        session,
        account_id=payment.account_id,
        currency=payment.currency,
        amount_minor=overflow,
        kind=CreditKind.OVERPAYMENT,
        reason=f"Card payment {payment.receipt_number}: more than its invoices still owed",
        now=now,
        actor=actor,
        payment_id=payment.id,
    )
    return overflow


def _queue_receipt(
    session: Session,
    payment: Payment,
    applied: list[tuple[Invoice, int]],
    unapplied: int,
    credited: int,
    *,
    now: datetime,
    base_url: str,
) -> None:
    account = session.get(Account, payment.account_id)
    emails.queue_email(
        session,
        to=account.billing_email,
        template="receipt",
        context={
            "account_name": account.name,
            "locale": account.locale,
            "receipt_number": payment.receipt_number,
            "amount_minor": payment.amount_minor,
            "currency": payment.currency,
            "paid_on": payment.received_date,
            "card": f"{(payment.card_brand or 'card').title()} ending {payment.card_last4}"
            if payment.card_last4
            else "Card",
            "applied": [
                {
                    "number": inv.display_number,
                    "amount_minor": amount,
                    "paid": inv.amount_due_minor == 0,
                }
                for inv, amount in applied
            ],
            "unapplied_minor": unapplied,
            "credited_minor": credited,
            "description": "" if applied else payment.reference,
            "link": f"{base_url.rstrip('/')}/payments/{payment.id}"
            if _can_sign_in(session, account.id)
            else "",
        },
        account_id=account.id,
        attachments=[{"kind": "receipt_pdf", "id": payment.id}],
        now=now,
    )


def _can_sign_in(session: Session, account_id: int) -> bool:
    """Whether someone of the account can open the portal (a first-time Pay Now or pay-link
    payer cannot: their receipt then carries no portal link, only the PDF)."""
    return (
        session.scalar(
            select(PortalUser.id)
            .where(PortalUser.account_id == account_id, PortalUser.is_active.is_(True))
            .limit(1)
        )
        is not None
    )


def pay_with_card(
    session: Session,
    gateway: PaymentGateway,
    *,
    account_id: int,
    shares: Sequence[Share],
    card_id: int | None,
    setup_intent_id: str | None,
    allow_partial: bool,
    now: datetime,
    actor: str,
    base_url: str,
) -> Payment:
    """A customer pays invoices in the portal with a saved card (`card_id`) or a new one
    (`setup_intent_id` of a SetupIntent the browser confirmed; the card is saved first, and
    removed again when the bank declines this first payment, as Stripe Checkout keeps no card
    from a failed payment).

    Returns the succeeded payment. Raises AuthenticationRequired (3-D Secure: the browser
    finishes it, then `confirm_card_payment`), PaymentDeclined (recorded), ValidationFailed,
    NotFound, Gateway* (GatewayRetryable leaves the payment pending: reconciliation settles
    it and the invoice is never charged twice). Commits several times, once per step."""
    if setup_intent_id:
        saved = card_service.finish_card_setup(
            session,
            gateway,
            account_id=account_id,
            setup_intent_id=setup_intent_id,
            now=now,
            actor=actor,
        )
    elif card_id:
        saved = card_service.get_card(session, account_id=account_id, card_id=card_id)
    else:
        raise ValidationFailed({"card": "Choose a saved card or enter a new one."})
    card = CardDetails(
        saved.processor_payment_method_id,
        saved.brand,
        saved.last4,
        saved.exp_month,
        saved.exp_year,
    )
    payment = start_card_payment(
        session,
        account_id=account_id,
        shares=shares,
        card=card,
        allow_partial=allow_partial,
        processor=gateway.name,
        now=now,
        actor=actor,
        new_card=bool(setup_intent_id),
    )
    return _charge_now(session, gateway, payment.id, now=now, actor=actor, base_url=base_url)


def follow_up(
    session: Session, gateway: PaymentGateway, *, payment_id: int, now: datetime, actor: str
) -> list[str]:
    """What follows a card payment's outcome, whichever path learned of it (the charge, the
    browser's return from 3-D Secure, the webhook, the reconcile sweep): a failed payment's
    new card is removed (forget_new_card); a succeeded payment's overflow that did not become
    account credit goes back to the card (refunds.refund_overflow). Each step is idempotent,
    so every path calls it; a step that cannot finish now is logged and left to the next path
    (the webhook follows every charge). Returns what was done, for the webhook log. Commits.

    Costs no query when the session still holds the payment as the outcome left it (the usual
    case: every webhook delivery comes through here), and locks only when there is work."""
    began = not session.in_transaction()
    payment = session.get(Payment, payment_id)
    if payment is None:
        raise NotFound(f"payment {payment_id}")
    forget = payment.new_card and payment.status in GAVE_UP
    overflow = payment.status == PaymentStatus.SUCCEEDED and payment.overflow_minor > 0
    if began and session.in_transaction():
        session.rollback()  # ends the read this began; nothing was written
    done = []
    if forget and forget_new_card(session, gateway, payment_id=payment_id, now=now, actor=actor):
        done.append("the card entered for it was removed")
    if overflow:
        try:
            refund = refunds.refund_overflow(
                session, gateway, payment_id=payment_id, now=now, actor=actor
            )
        except BillingError:
            session.rollback()
            log.warning("payment %s: its overflow was not refunded now", payment_id, exc_info=True)
            refund = None
        if refund is not None:
            done.append(f"refund {refund.id} of its overflow is {refund.status}")
    return done


def forget_new_card(
    session: Session, gateway: PaymentGateway, *, payment_id: int, now: datetime, actor: str
) -> bool:
    """Remove the card saved for a payment that then failed or was canceled (declined at once,
    after 3-D Secure, or abandoned), as Stripe Checkout keeps no card from a failed payment.
    Returns whether a card was removed (detached at the processor, audited card.removed).

    Only a card entered for this payment (Payment.new_card) and not used by any other payment
    that succeeded or is still in flight; a card saved on the Cards page stays. Idempotent:
    every path that learns of the failure (the page, the webhook, the reconcile sweep) calls
    it. If the processor cannot detach the card now, it stays saved (logged): the failure is
    what the customer must see. Commits."""
    payment = session.get(Payment, payment_id)
    if payment is None or not payment.new_card or payment.status not in GAVE_UP:
        session.rollback()
        return False
    used_elsewhere = (
        select(Payment.id)
        .where(
            Payment.processor_payment_method_id == payment.processor_payment_method_id,
            Payment.id != payment.id,
            Payment.status.in_([PaymentStatus.SUCCEEDED, *IN_FLIGHT]),
        )
        .exists()
    )
    card_id = session.scalar(
        select(SavedCard.id).where(
            SavedCard.account_id == payment.account_id,
            SavedCard.processor_payment_method_id == payment.processor_payment_method_id,
            SavedCard.removed_at.is_(None),
            ~used_elsewhere,
        )
    )
    session.rollback()
    if card_id is None:
        return False
    try:
        card_service.remove_card(
            session, gateway, account_id=payment.account_id, card_id=card_id, now=now, actor=actor
        )
    except (GatewayRetryable, GatewayPermanent, NotFound):
        session.rollback()
        log.warning(
            "could not remove card %s of failed payment %s", card_id, payment_id, exc_info=True
        )
        return False
    return True


def _charge_now(
    session: Session, gateway: PaymentGateway, payment_id: int, *, now, actor, base_url
) -> Payment:
    payment, result = charge_payment(
        session, gateway, payment_id=payment_id, now=now, actor=actor, base_url=base_url
    )
    if payment.status == PaymentStatus.REQUIRES_ACTION and result is not None:
        raise AuthenticationRequired(result.client_secret, result.payment_intent_id, payment.id)
    return payment


def pay_one_time(
    session: Session,
    gateway: PaymentGateway,
    *,
    invoice: Invoice,
    amount_minor: int,
    setup_intent_id: str,
    setup_metadata: tuple[str, str],
    allow_partial: bool,
    now: datetime,
    actor: str,
    base_url: str,
) -> Payment:
    """Pay one invoice with a card entered for this payment only (pay links): the SetupIntent
    must carry `setup_metadata` (key, value) that the caller put on it, so a card set up
    elsewhere cannot be charged here. Same outcomes and errors as `pay_with_card`."""
    key, value = setup_metadata
    setup = gateway.retrieve_setup_intent(setup_intent_id) if setup_intent_id else None
    if (
        setup is None
        or setup.metadata.get(key) != value
        or setup.status != "succeeded"
        or not setup.payment_method_id
    ):
        raise ValidationFailed({"card": "The card was not confirmed. Enter it again."})
    card = gateway.retrieve_card(setup.payment_method_id)
    payment = start_card_payment(
        session,
        account_id=invoice.account_id,
        shares=[Share(invoice.id, amount_minor)],
        card=card,
        allow_partial=allow_partial,
        processor=gateway.name,
        now=now,
        actor=actor,
    )
    return _charge_now(session, gateway, payment.id, now=now, actor=actor, base_url=base_url)


def confirm_card_payment(
    session: Session,
    gateway: PaymentGateway,
    *,
    payment_id: int,
    account_id: int | None,
    invoice_id: int | None = None,
    now: datetime,
    actor: str,
    base_url: str,
) -> Payment:
    """After the browser finished 3-D Secure: settle the payment from the processor's current
    state. Scoped to `account_id` (portal) or to a payment of `invoice_id` (pay link); another's
    payment is NotFound. Idempotent. Raises PaymentDeclined when authentication failed or
    the card was declined, AuthenticationRequired when it still waits. Commits."""
    payment = session.scalar(
        select(Payment).where(Payment.id == payment_id).options(selectinload(Payment.allocations))
    )
    if (
        payment is None
        or payment.method != PaymentMethod.CARD
        or (account_id is not None and payment.account_id != account_id)
        or (invoice_id is not None and invoice_id not in _invoice_ids(payment))
    ):
        raise NotFound(f"payment {payment_id}")
    session.rollback()
    if payment.status in IN_FLIGHT and payment.processor_payment_id:
        result = gateway.retrieve_payment(payment.processor_payment_id)
        payment = record_outcome(
            session, payment_id=payment_id, result=result, now=now, actor=actor, base_url=base_url
        )
        if payment.status == PaymentStatus.REQUIRES_ACTION:
            raise AuthenticationRequired(result.client_secret, result.payment_intent_id, payment.id)
    follow_up(session, gateway, payment_id=payment_id, now=now, actor=actor)
    payment = session.get(Payment, payment_id)
    if payment.status in GAVE_UP:
        reason, advice = explain(
            "payment_intent_authentication_failure"
            if "authentication" in (payment.failure_message or "").lower()
            else "card_declined"
        )
        raise PaymentDeclined(reason, advice)
    return payment


def shares_of(session: Session, *, payment_id: int, account_id: int) -> list[Share]:
    """What a card payment of the account was for, invoice by invoice (to offer the same choice
    again after it failed); another account's payment has none. Read-only."""
    rows = session.execute(
        select(PaymentAllocation.invoice_id, PaymentAllocation.amount_minor)
        .join(Payment, Payment.id == PaymentAllocation.payment_id)
        .where(Payment.id == payment_id, Payment.account_id == account_id)
        .order_by(PaymentAllocation.invoice_id)
    )
    return [Share(invoice_id, amount) for invoice_id, amount in rows]


def _invoice_ids(payment: Payment) -> set[int]:
    return {a.invoice_id for a in payment.allocations}


def client_secret_for(
    session: Session,
    gateway: PaymentGateway,
    *,
    payment_id: int,
    account_id: int | None,
    invoice_id: int | None = None,
) -> str | None:
    """The client secret the browser needs to finish 3-D Secure for a payment waiting for it
    (None when it no longer waits). Scoped like confirm_card_payment. Read-only."""
    payment = session.scalar(
        select(Payment).where(Payment.id == payment_id).options(selectinload(Payment.allocations))
    )
    if (
        payment is None
        or (account_id is not None and payment.account_id != account_id)
        or (invoice_id is not None and invoice_id not in _invoice_ids(payment))
    ):
        raise NotFound(f"payment {payment_id}")
    if payment.status != PaymentStatus.REQUIRES_ACTION or not payment.processor_payment_id:
        return None
    return gateway.retrieve_payment(payment.processor_payment_id).client_secret or None


def reconcile_payment(
    session: Session,
    gateway: PaymentGateway,
    *,
    payment_id: int,
    now: datetime,
    base_url: str,
    actor: str = "system",
) -> Payment:
    """Settle a card payment left pending or waiting for 3-D Secure from the processor's
    records, never by charging. Safe to run twice (and concurrently with the webhook).
    Raises GatewayRetryable when the processor cannot be reached (the next sweep retries).
    Commits."""
    payment = session.get(Payment, payment_id)
    if payment is None:
        raise NotFound(f"payment {payment_id}")
    if payment.status not in IN_FLIGHT or payment.method != PaymentMethod.CARD:
        session.rollback()
        return payment
    if payment.processor_payment_id:
        result = gateway.retrieve_payment(payment.processor_payment_id)
    else:
        result = gateway.find_payment(
            customer_id=_customer_for(session, payment),
            metadata_key=METADATA_KEY,
            metadata_value=str(payment_id),
        )
    started = payment.processor_requested_at or payment.created_at
    session.rollback()
    if result is None:
        if now - started >= NOT_SENT_AFTER:
            _give_up_unsent(session, payment_id, now=now, actor=actor)
            follow_up(session, gateway, payment_id=payment_id, now=now, actor=actor)
        return session.get(Payment, payment_id)
    if result.needs_action and now - payment.created_at >= ACTION_TIMEOUT:
        result = gateway.cancel_payment(result.payment_intent_id)
    record_outcome(
        session, payment_id=payment_id, result=result, now=now, actor=actor, base_url=base_url
    )
    follow_up(session, gateway, payment_id=payment_id, now=now, actor=actor)
    return session.get(Payment, payment_id)


def _give_up_unsent(session: Session, payment_id: int, *, now: datetime, actor: str) -> None:
    payment = _lock_payment(session, payment_id)
    if payment.status != PaymentStatus.PENDING or payment.processor_payment_id:
        session.rollback()
        return
    payment.status = PaymentStatus.CANCELED
    payment.failure_message = "The card processor never received this payment; nothing was charged."
    _audit_status(session, payment, "pending", actor=actor, now=now)
    session.commit()


def payments_to_reconcile(
    session: Session, *, now: datetime, min_age: timedelta, limit: int = 200
) -> list[int]:
    """Card payments still pending or waiting for 3-D Secure since before now - min_age
    (for the sweeper). Read-only."""
    return list(
        session.scalars(
            select(Payment.id)
            .where(
                Payment.status.in_(IN_FLIGHT),
                Payment.method == PaymentMethod.CARD,
                Payment.created_at < now - min_age,
            )
            .order_by(Payment.id)
            .limit(limit)
        )
    )


def payment_for_processor_event(session: Session, result: PaymentResult) -> int | None:
    """The id of our payment a PaymentIntent is about (by its id, else our metadata).
    Read-only."""
    payment_id = session.scalar(
        select(Payment.id).where(Payment.processor_payment_id == result.payment_intent_id)
    )
    if payment_id is not None:
        return payment_id
    value = result.metadata.get(METADATA_KEY, "")
    if value.isdigit():
        return session.scalar(select(Payment.id).where(Payment.id == int(value)))
    return None


@dataclass(frozen=True)
class PayPage:
    """What the portal's pay page offers: open invoices (oldest due first) with what each can
    still take, the saved cards, and whether partial payments are allowed."""

    invoices: list[Invoice]
    available: dict[int, int]
    cards: list[SavedCard]
    allow_partial: bool


def pay_page(session: Session, *, account_id: int) -> PayPage:
    """The pay page's data for one account. Read-only."""
    invoices = list(
        session.scalars(
            select(Invoice)
            .where(
                Invoice.account_id == account_id,
                Invoice.status.in_(PAYABLE),
                Invoice.amount_due_minor > 0,
            )
            .order_by(Invoice.due_date, Invoice.id)
            .limit(MAX_INVOICES)
        )
    )
    reserved = reserved_minor(session, [inv.id for inv in invoices])
    return PayPage(
        invoices=invoices,
        available={inv.id: inv.amount_due_minor - reserved.get(inv.id, 0) for inv in invoices},
        cards=card_service.active_cards(session, account_id=account_id),
        allow_partial=allows_partial_payments(session),
    )


def parse_shares(
    invoices: Sequence[Invoice], selected: Sequence[str], unsafe_amounts: dict[str, str]
) -> list[Share]:
    """Shares from a pay form: `selected` invoice ids (as text) and each one's amount text
    ("123.45", in the invoice's currency; blank means the full amount due). Raises
    ValidationFailed with per-field messages ("amount_<id>", "invoices")."""
    by_id = {str(inv.id): inv for inv in invoices}
    chosen = [by_id[i] for i in dict.fromkeys(selected) if i in by_id]
    if not chosen:
        raise ValidationFailed({"invoices": "Choose at least one invoice to pay."})
    errors: dict[str, str] = {}
    shares = []
    for invoice in chosen:
        text = (unsafe_amounts.get(str(invoice.id)) or "").strip()
        if not text:
            shares.append(Share(invoice.id, invoice.amount_due_minor))
            continue
        try:
            amount = Money.parse(text, invoice.currency).amount_minor
        except ValueError as exc:
            errors[f"amount_{invoice.id}"] = str(exc)
            continue
        shares.append(Share(invoice.id, amount))
    if errors:
        raise ValidationFailed(errors)
    return shares
