"""Processor webhooks: store each event once, process it in a job, let staff replay failures.

`receive_event` stores a verified event under its processor id (a unique column): a duplicate
delivery finds the row and changes nothing. The processing job is dispatched once the row is
committed (with RQ the dispatcher coalesces these into one `drain_events` run, see
workers/dispatch.py). `process_event` applies it through the same idempotent services the
browser and reconciliation use, so duplicates, replays and out-of-order delivery never move
money twice:

- payment_intent.succeeded: the payment succeeds (a final state, safe to take from the event);
  payment_intent.payment_failed / requires_action: the PaymentIntent is retrieved first and its
  current state applied (an older event must not undo a newer outcome);
- charge.refunded: each refund on the charge goes through billing.services.refunds
  (idempotent by the processor's refund id);
- setup_intent.succeeded: saves the card if the browser never came back to do it;
- payment_method.detached / updated: the saved card is removed / gets its new expiry.

Events about objects Paydesk did not create, and other types, are marked ignored.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import bindparam, select, text
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.orm import Session

from billing import audit, outbox
from billing.db import PrecompiledStatement
from billing.errors import BillingError, GatewayPermanent, GatewayRetryable, NotFound
from billing.gateways.base import PaymentGateway, VerifiedEvent
from billing.models import Account, WebhookEvent, WebhookEventStatus
from billing.queries import Page, _keyset_page
from billing.services import card_payments, cards, refunds

log = logging.getLogger(__name__)

TASK = "process_webhook_event"
DRAIN_BATCH = 100
# Advisory lock namespace (PostgreSQL) under which a drain claims the events it processes.
CLAIM_LOCK_CLASS = 0x7768
_CLAIM_SQL = text(
    "SELECT c.id FROM (SELECT id FROM webhook_events WHERE status = 'received'"
    " ORDER BY id LIMIT :limit) AS c"
    " WHERE pg_try_advisory_xact_lock(:lock_class, (c.id & 2147483647)::int) ORDER BY c.id"
)
HANDLED = frozenset(
    {
        "payment_intent.succeeded",
        "payment_intent.payment_failed",
        "payment_intent.requires_action",
        "charge.refunded",
        "setup_intent.succeeded",
        "payment_method.detached",
        "payment_method.updated",
    }
)
DONE = (WebhookEventStatus.PROCESSED, WebhookEventStatus.IGNORED)


def accept_webhook(
    session: Session,
    gateway: PaymentGateway,
    *,
    payload: bytes,
    signature_header: str,
    secret: str | None,
    now: datetime,
    tolerance: int = 300,
) -> int | None:
    """Verify a webhook's signature on its raw body (`tolerance` seconds of clock skew) and
    store it once (see receive_event: the new row's id, None for a duplicate). Raises
    GatewayPermanent for a missing secret, a bad or stale signature, or a malformed body:
    nothing is stored then."""
    if not secret:
        raise GatewayPermanent("Webhooks are not set up: no signing secret is configured.")
    event = gateway.parse_webhook(
        payload=payload, signature_header=signature_header, secret=secret, tolerance=tolerance
    )
    return receive_event(session, event=event, processor=gateway.name, now=now)


def _intake_statement(dialect: Dialect):
    """INSERT … ON CONFLICT (processor_event_id) DO NOTHING RETURNING id (every column but
    the id and processed_at is a parameter: a precompiled statement runs no Python defaults)."""
    insert = postgresql_insert if dialect.name == "postgresql" else sqlite_insert
    table = WebhookEvent.__table__
    return (
        insert(table)
        .values({name: bindparam(name) for name in _INTAKE_COLUMNS})
        .on_conflict_do_nothing(index_elements=["processor_event_id"])
        .returning(table.c.id)
    )


_INTAKE_COLUMNS = (
    "processor",
    "processor_event_id",
    "type",
    "payload",
    "status",
    "attempts",
    "last_error",
    "note",
    "received_at",
)
_INTAKE = PrecompiledStatement(_intake_statement)


def receive_event(
    session: Session, *, event: VerifiedEvent, processor: str, now: datetime
) -> int | None:
    """Store a verified event once and start its processing; returns the new row's id, or None
    when the event was already stored (a duplicate delivery, even a concurrent one: one
    INSERT … ON CONFLICT DO NOTHING on the unique processor event id changes nothing then).

    The INSERT runs on a pooled connection of its own in autocommit, outside any transaction
    the session holds: durable when it returns, in one round trip (BEGIN/INSERT/COMMIT would
    be three), and precompiled, because this is every webhook delivery's whole cost. The
    processing job is then dispatched with the session's dispatcher (outbox.dispatch_now);
    if the queue is down the sweep finds the row later."""
    rows = _INTAKE.execute_autocommit(
        session.get_bind(),
        {
            "processor": processor,
            "processor_event_id": event.event_id,
            "type": event.type[:100],
            "payload": event.payload,
            "status": WebhookEventStatus.RECEIVED.value,
            "attempts": 0,
            "last_error": "",
            "note": "",
            "received_at": now,
        },
    )
    if not rows:
        return None
    row_id = rows[0][0]
    outbox.dispatch_now(session, TASK, event_id=row_id)
    return row_id


def process_event(
    session: Session, gateway: PaymentGateway, *, event_id: int, now: datetime, base_url: str
) -> WebhookEventStatus:
    """Apply one stored event (the job). Safe to run twice: a processed or ignored event is left
    alone, and every handler is idempotent. A failure is recorded on the row (status failed,
    the error) for staff to replay; GatewayRetryable is raised again after recording so the
    job is retried. Commits."""
    row = session.get(WebhookEvent, event_id)
    if row is None:
        raise NotFound(f"webhook event {event_id}")
    if row.status in DONE:
        status = WebhookEventStatus(row.status)
        session.rollback()
        return status
    payload = dict(row.payload)
    session.rollback()
    try:
        event = gateway.read_event(payload)
        note = _apply(session, gateway, event, now=now, base_url=base_url)
    except GatewayRetryable as exc:
        _finish(session, event_id, WebhookEventStatus.FAILED, now=now, error=str(exc))
        raise
    except BillingError as exc:
        session.rollback()
        return _finish(session, event_id, WebhookEventStatus.FAILED, now=now, error=str(exc))
    except Exception as exc:
        session.rollback()
        log.exception("webhook event %s failed", event_id)
        return _finish(
            session,
            event_id,
            WebhookEventStatus.FAILED,
            now=now,
            error=f"{type(exc).__name__}: {exc}",
        )
    status = (
        WebhookEventStatus.IGNORED if note.startswith("ignored") else WebhookEventStatus.PROCESSED
    )
    return _finish(session, event_id, status, now=now, note=note)


def _finish(
    session: Session,
    event_id: int,
    status: WebhookEventStatus,
    *,
    now: datetime,
    error: str = "",
    note: str = "",
) -> WebhookEventStatus:
    row = session.scalar(select(WebhookEvent).where(WebhookEvent.id == event_id).with_for_update())
    if row.status in DONE:
        session.rollback()
        return WebhookEventStatus(row.status)
    row.status = status
    row.attempts += 1
    row.last_error = error[:2000]
    row.note = note[:500]
    row.processed_at = now
    session.commit()
    return status


def _apply(
    session: Session, gateway: PaymentGateway, event: VerifiedEvent, *, now: datetime, base_url: str
) -> str:
    """Run the event's handler; returns a short note for the admin ("ignored: …" to ignore)."""
    if event.type not in HANDLED:
        return f"ignored: Paydesk does not act on {event.type}"
    if event.type.startswith("payment_intent.") and event.payment is not None:
        return _payment_event(session, gateway, event, now=now, base_url=base_url)
    if event.type == "charge.refunded":
        return _charge_refunded(session, event, now=now)
    if event.type == "setup_intent.succeeded" and event.setup is not None:
        return _setup_succeeded(session, gateway, event, now=now)
    if event.type == "payment_method.detached" and event.card is not None:
        changed = cards.card_detached(
            session, payment_method_id=event.card.payment_method_id, now=now
        )
        return "card removed" if changed else "ignored: no such saved card (or already removed)"
    if event.type == "payment_method.updated" and event.card is not None:
        changed = cards.card_updated(session, card=event.card, now=now)
        return "card updated" if changed else "ignored: no such saved card (or unchanged)"
    return f"ignored: {event.type} without the expected object"


def _payment_event(
    session: Session, gateway: PaymentGateway, event: VerifiedEvent, *, now, base_url
) -> str:
    result = event.payment
    payment_id = card_payments.payment_for_processor_event(session, result)
    session.rollback()
    if payment_id is None:
        return "ignored: not a Paydesk payment"
    if not result.succeeded:
        result = gateway.retrieve_payment(result.payment_intent_id)  # the current state wins
    actor = "processor:stripe"
    payment = card_payments.record_outcome(
        session, payment_id=payment_id, result=result, now=now, actor=actor, base_url=base_url
    )
    status = payment.status
    done = card_payments.follow_up(session, gateway, payment_id=payment_id, now=now, actor=actor)
    return "; ".join([f"payment {payment_id} is {status}", *done])


def _charge_refunded(session: Session, event: VerifiedEvent, *, now: datetime) -> str:
    if not event.charge_payment_intent_id:
        return "ignored: refunded charge without a PaymentIntent"
    applied = []
    for notice in event.refunds:
        if notice.status not in ("succeeded", ""):
            continue
        refund = refunds.apply_processor_refund(
            session,
            processor_payment_id=event.charge_payment_intent_id,
            processor_refund_id=notice.refund_id,
            amount_minor=notice.amount_minor,
            now=now,
            metadata=notice.metadata,
        )
        if refund is not None:
            applied.append(str(refund.id))
    if not applied:
        return "ignored: not a Paydesk payment, or nothing to refund"
    return f"refunds {', '.join(applied)} recorded"


def _setup_succeeded(
    session: Session, gateway: PaymentGateway, event: VerifiedEvent, *, now: datetime
) -> str:
    setup = event.setup
    account_id = setup.metadata.get(cards.ACCOUNT_METADATA, "")
    if not account_id.isdigit() or not setup.payment_method_id or not setup.customer_id:
        return "ignored: not a card saved from the portal"
    account = session.get(Account, int(account_id))
    matches = account is not None and account.processor_customer_id == setup.customer_id
    session.rollback()
    if not matches:
        return "ignored: the customer does not match the account"
    card = gateway.attach_card(
        payment_method_id=setup.payment_method_id, customer_id=setup.customer_id
    )
    saved = cards.save_card(session, account_id=int(account_id), card=card, now=now, actor="system")
    return f"card {saved.id} saved"


def replay_event(session: Session, *, event_id: int, now: datetime, actor: str) -> WebhookEvent:
    """Process a failed event again (staff). Only failed events can be replayed; raises
    NotFound, ValidationFailed-free: anything else is returned unchanged. Commits."""
    row = session.scalar(select(WebhookEvent).where(WebhookEvent.id == event_id).with_for_update())
    if row is None:
        raise NotFound(f"webhook event {event_id}")
    if row.status != WebhookEventStatus.FAILED:
        session.rollback()
        return row
    row.status = WebhookEventStatus.RECEIVED
    audit.record(
        session,
        actor=actor,
        action="webhook_event.replayed",
        subject=row,
        now=now,
        after={"processor_event_id": row.processor_event_id, "type": row.type},
    )
    outbox.defer(session, TASK, event_id=row.id)
    session.commit()
    return row


def drain_events(
    session: Session,
    gateway: PaymentGateway,
    *,
    clock: Callable[[], datetime],
    base_url: str,
    retry: Callable[[int], None],
    batch: int = DRAIN_BATCH,
) -> int:
    """Process every stored, unprocessed (received) event, oldest id first, in batches, until a
    read finds none to claim; returns how many this call processed. Commits.

    Safe to run twice and concurrently. On PostgreSQL each batch is claimed with transaction
    advisory locks (`pg_try_advisory_xact_lock`, held on a connection of its own while the
    batch is processed, so process_event's row locks never wait on them): a concurrent drain
    skips claimed events instead of processing them too. Skipping never strands an event: a
    drain that holds a claim got a non-empty batch, so it reads again after releasing it. On
    SQLite (one process) there is no claim; process_event's idempotency keeps a second run
    harmless either way (a processed event is left alone, the handlers lock and check state).

    An event whose processing raised GatewayRetryable is recorded as failed by process_event
    and handed to `retry(event_id)` (a job with retries of its own); the drain carries on.
    Other errors (the database is gone) propagate: the events stay received for the next run."""
    done = 0
    postgresql = session.get_bind().dialect.name == "postgresql"
    with session.get_bind().connect() as claims:
        while True:
            with claims.begin():
                event_ids = _claim(claims, batch, postgresql=postgresql)
                if not event_ids:
                    return done
                for event_id in event_ids:
                    try:
                        process_event(
                            session, gateway, event_id=event_id, now=clock(), base_url=base_url
                        )
                    except GatewayRetryable:
                        log.warning("webhook event %s will be retried", event_id, exc_info=True)
                        retry(event_id)
                    done += 1


def _claim(claims: Connection, batch: int, *, postgresql: bool) -> list[int]:
    """Up to `batch` received event ids, oldest first; on PostgreSQL only those whose advisory
    lock this transaction obtained (the lock is released when it ends)."""
    if postgresql:
        found = claims.execute(_CLAIM_SQL, {"limit": batch, "lock_class": CLAIM_LOCK_CLASS})
        return list(found.scalars())
    return list(
        claims.scalars(
            select(WebhookEvent.id)
            .where(WebhookEvent.status == WebhookEventStatus.RECEIVED)
            .order_by(WebhookEvent.id)
            .limit(batch)
        )
    )


def event_ids_to_process(session: Session, *, older_than: datetime, limit: int = 200) -> list[int]:
    """Events stored but not processed since before `older_than` (their job was lost; for the
    sweeper). Read-only."""
    return list(
        session.scalars(
            select(WebhookEvent.id)
            .where(
                WebhookEvent.status == WebhookEventStatus.RECEIVED,
                WebhookEvent.received_at < older_than,
            )
            .order_by(WebhookEvent.id)
            .limit(limit)
        )
    )


def event_page(
    session: Session,
    *,
    status: str | None = None,
    older: str | None = None,
    newer: str | None = None,
    limit: int = 50,
) -> Page[WebhookEvent]:
    """Received events newest first, optionally of one status (the admin list). Read-only."""
    query = select(WebhookEvent)
    if status in WebhookEventStatus.__members__.values():
        query = query.where(WebhookEvent.status == status)
    return _keyset_page(
        session,
        query,
        WebhookEvent.received_at,
        WebhookEvent.id,
        kind=datetime,
        older=older,
        newer=newer,
        limit=limit,
        key_of=lambda e: (e.received_at, e.id),
    )
