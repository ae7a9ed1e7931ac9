"""Sweepers re-find work whose notice was lost.

The database is the record that work exists; an RQ job is only a notice. A Redis outage (or a
Redis that restarted without persistence, or a worker killed at the wrong moment) can lose the
notice, never the row. A sweeper looks for rows that should have moved on by now and dispatches
their job again, which is safe because every job is safe to run twice.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from billing.outbox import Dispatcher
from billing.services import emails
from workers import runtime

# An email normally leaves the queue within seconds of its commit; older ones lost their job.
OUTBOX_MIN_AGE = timedelta(seconds=30)


def sweep_outbox(
    *, now: datetime, min_age: timedelta = OUTBOX_MIN_AGE, dispatcher: Dispatcher | None = None
) -> list[int]:
    """Dispatch send_email again for every email queued since before `now - min_age`; returns
    their ids (at most 500 per run: the next run takes the rest).

    Uses the runtime's dispatcher unless one is given. Idempotent: the RQ dispatcher skips an
    email whose job is still waiting, retrying or running, and the send job leaves an email
    that is no longer queued alone. Raises the dispatcher's error (redis.RedisError when Redis
    is down) at the first email it cannot dispatch; nothing is lost, the next run retries."""
    rt = runtime.current()
    with rt.session_factory() as session:
        ids = emails.queued_email_ids(session, older_than=now - min_age)
    dispatcher = dispatcher or rt.dispatcher
    for email_id in ids:
        dispatcher.dispatch("send_email", email_id=email_id)
    return ids
