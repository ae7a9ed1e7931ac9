"""Refund jobs: settle a card refund whose processor answer was lost or not final, and the sweep
that finds such refunds. Ids in, one service call, safe to run twice."""

from __future__ import annotations

from billing.clock import utcnow
from billing.services import refunds
from workers import runtime


def reconcile_refund_job(refund_id: int) -> str:
    """Settle a pending card refund from the processor's records and return its status
    (succeeded, failed, or still pending while the processor has not finished it).

    Safe to run twice: a refund that is no longer pending is left alone, and reconciling only
    looks refunds up, it never refunds again. Raises GatewayRetryable when the processor cannot
    be reached (RQ retries; the sweep finds the refund again)."""
    rt = runtime.current()
    with runtime.session() as session:
        refund = refunds.reconcile_refund(session, rt.gateway, refund_id=refund_id, now=utcnow())
        return str(refund.status)


def sweep_refunds_job() -> int:
    """Dispatch reconcile_refund for every card refund pending for longer than
    refunds.RECONCILE_AFTER (its processor call has long ended); returns how many.

    Safe to run twice: the RQ dispatcher skips a refund whose job is still alive, and the job
    leaves settled refunds alone. Raises the dispatcher's error when the queue is down (the
    next run finds the same refunds)."""
    rt = runtime.current()
    with runtime.session() as session:
        ids = refunds.pending_card_refund_ids(
            session, older_than=utcnow() - refunds.RECONCILE_AFTER
        )
    for refund_id in ids:
        rt.dispatcher.dispatch("reconcile_refund", refund_id=refund_id)
    return len(ids)
