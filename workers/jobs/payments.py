"""Card payment jobs: charge, reconcile, process a webhook event, drain every stored webhook
event, and the sweep that re-finds payments and events whose job was lost. Ids in, one service
call, safe to run twice."""

from __future__ import annotations

from datetime import timedelta

from billing.clock import utcnow
from billing.errors import PaymentDeclined
from billing.services import card_payments, webhooks
from workers import runtime

# A card payment normally settles within seconds; older in-flight ones are reconciled.
RECONCILE_AFTER = timedelta(minutes=5)
# A stored webhook event is normally processed at once; older unprocessed ones lost their job.
WEBHOOK_AFTER = timedelta(minutes=1)


def charge_payment_job(payment_id: int) -> str:
    """Charge a pending card payment and return its status afterwards.

    Safe to run twice: a payment no longer pending is left alone, and one already sent to the
    processor is looked up there by its metadata instead of being charged again. A decline is
    recorded (the job does not fail); GatewayRetryable is raised so RQ retries, and the
    reconciliation sweep settles the payment regardless."""
    rt = runtime.current()
    with runtime.session() as session:
        try:
            payment, _result = card_payments.charge_payment(
                session,
                rt.gateway,
                payment_id=payment_id,
                now=utcnow(),
                actor="system",
                base_url=rt.settings.base_url,
            )
        except PaymentDeclined:
            return "failed"
        return str(payment.status)


def reconcile_payment_job(payment_id: int) -> str:
    """Settle a card payment left pending or waiting for 3-D Secure from the processor's
    records (never by charging); returns its status. Safe to run twice. Raises
    GatewayRetryable when the processor is unreachable (the next sweep tries again)."""
    rt = runtime.current()
    with runtime.session() as session:
        payment = card_payments.reconcile_payment(
            session,
            rt.gateway,
            payment_id=payment_id,
            now=utcnow(),
            base_url=rt.settings.base_url,
        )
        return str(payment.status)


def process_webhook_event_job(event_id: int) -> str:
    """Apply one stored webhook event; returns its status (processed, ignored, failed).
    Safe to run twice: a processed event is left alone and every handler is idempotent."""
    rt = runtime.current()
    with runtime.session() as session:
        status = webhooks.process_event(
            session, rt.gateway, event_id=event_id, now=utcnow(), base_url=rt.settings.base_url
        )
        return str(status)


def drain_webhook_events_job() -> int:
    """Process every stored webhook event not yet processed; returns how many this run did.

    Woken by the RQ dispatcher (workers.dispatch.run_woken) after a commit that stored or
    replayed an event, and by the sweep. Safe to run twice and on several workers at once (see
    webhooks.drain_events: events are claimed, and processing is idempotent). An event that
    failed with a retryable error is handed to its own retry_webhook_event job. Raises database
    errors (RQ retries; the events stay received)."""
    rt = runtime.current()
    with runtime.session() as session:
        return webhooks.drain_events(
            session,
            rt.gateway,
            clock=utcnow,
            base_url=rt.settings.base_url,
            retry=lambda event_id: rt.dispatcher.dispatch("retry_webhook_event", event_id=event_id),
        )


def sweep_payments_job() -> int:
    """Dispatch reconciliation for card payments in flight for RECONCILE_AFTER and processing
    for webhook events stored WEBHOOK_AFTER ago but never processed (with RQ these dispatches
    wake one drain job; a lost wake or a stuck wake marker is recovered here); returns how many.
    Safe to run twice (the jobs it starts are). Raises the dispatcher's error when the queue
    is down (the next run finds the same rows)."""
    rt = runtime.current()
    now = utcnow()
    with runtime.session() as session:
        payment_ids = card_payments.payments_to_reconcile(session, now=now, min_age=RECONCILE_AFTER)
        event_ids = webhooks.event_ids_to_process(session, older_than=now - WEBHOOK_AFTER)
    for payment_id in payment_ids:
        rt.dispatcher.dispatch("reconcile_payment", payment_id=payment_id)
    for event_id in event_ids:
        rt.dispatcher.dispatch("process_webhook_event", event_id=event_id)
    return len(payment_ids) + len(event_ids)
