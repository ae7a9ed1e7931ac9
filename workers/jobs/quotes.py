"""Quote jobs: the automatic conversion of an accepted quote, and the periodic sweep that
expires quotes past their expiry date and re-finds conversions whose job was lost."""

from __future__ import annotations

from datetime import datetime, timedelta

from billing.clock import utcnow
from billing.outbox import Dispatcher
from billing.services import quotes
from workers import runtime

# An accepted quote is normally converted within seconds of its commit; older ones lost their job.
CONVERSION_MIN_AGE = timedelta(minutes=1)


def convert_quote_job(quote_id: int) -> int | None:
    """Turn a quote accepted under an auto-convert setting into its invoice; returns the invoice
    id (None when there is nothing to do). Safe to run twice: a converted quote is left alone,
    and a second run while the first is at work waits for it (the quote's row lock)."""
    with runtime.session() as session:
        return quotes.convert_accepted_quote(session, quote_id=quote_id, now=utcnow())


def sweep_quotes(*, now: datetime, dispatcher: Dispatcher | None = None) -> tuple[int, int]:
    """Expire sent quotes past their expiry date, and dispatch convert_quote again for accepted
    quotes still waiting for their automatic conversion; returns (expired, dispatched).
    Idempotent (see the two services). Raises the dispatcher's error if the queue is down."""
    rt = runtime.current()
    with rt.session_factory() as session:
        expired = quotes.expire_quotes(session, today=now.date(), now=now)
        waiting = quotes.pending_auto_conversions(session, accepted_before=now - CONVERSION_MIN_AGE)
    dispatcher = dispatcher or rt.dispatcher
    for quote_id in waiting:
        dispatcher.dispatch("convert_quote", quote_id=quote_id)
    return len(expired), len(waiting)


def sweep_quotes_job() -> tuple[int, int]:
    """The periodic sweep (see sweep_quotes). Safe to run twice."""
    return sweep_quotes(now=utcnow())
