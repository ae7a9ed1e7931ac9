"""Periodic jobs run by the worker's cron scheduler (see workers/schedule.py)."""

from __future__ import annotations

from datetime import timedelta

from billing.clock import utcnow
from billing.services import auth
from workers import runtime, sweepers

AUTH_RECORDS_KEPT = timedelta(days=1)


def sweep_outbox_job() -> int:
    """Re-dispatch emails still queued after OUTBOX_MIN_AGE; returns how many were found.

    Safe to run twice: dispatching an email whose job is alive is a no-op, and sending an
    email that is no longer queued does nothing. Raises redis.RedisError if the queue is down
    (the next run finds the same rows)."""
    return len(sweepers.sweep_outbox(now=utcnow()))


def forget_old_auth_records_job() -> int:
    """Delete sign-in attempts, expired sessions and spent tokens older than a day; returns the
    number of rows deleted. Safe to run twice: a second run finds nothing more to delete."""
    with runtime.session() as session:
        return auth.forget_old_attempts(session, now=utcnow(), keep=AUTH_RECORDS_KEPT)
