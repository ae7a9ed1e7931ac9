"""Job dispatchers: RQ when a Redis URL is configured, in-process otherwise (the demo).

A dispatcher starts a task named in workers.jobs.TASKS with keyword ids. The database row behind
the task is the record that work exists; a dispatch is only a notice, so both dispatchers may be
asked to start the same work again (by the outbox sweeper) and the jobs are safe to run twice.

RQ jobs get a deterministic id per (queue, task, ids): dispatching work whose job is still
waiting, scheduled for a retry or running is a no-op, so a sweeper that runs every minute does
not pile duplicate jobs (and burn retry attempts) behind a slow SMTP server. A job that already
ended (finished, failed after its retries, stopped) is replaced, so a row that is still due is
always picked up again.

Coalesced tasks (workers.jobs.COALESCED, e.g. one webhook event to process) are not enqueued one
job each: their dispatch wakes a drain job that finds all such work in the database. A wake is
`SET <queue>:<drain>:queued 1 NX EX 60` and, only when that SET created the marker, an enqueue of
`run_woken(drain)`, which deletes the marker before the drain reads anything. No wake-up is
lost: a SET that finds the marker means a drain is queued that has not yet deleted it, so its
reads come after the dispatching commit. The marker's TTL covers an enqueue that failed after
the SET (the sweepers re-dispatch).

Under load a process needs no Redis round trip at all for most wakes. A woken drain keeps
reading for DRAIN_LINGER seconds after it started: it returns only after a read that began
DRAIN_LINGER after its start found nothing. A wake that began at t either queued a drain or
found one queued, so that drain starts after t and reads after t + DRAIN_LINGER; every commit
before then is covered. A dispatcher therefore skips wakes for WAKE_COVER (half of that, a
margin for the two machines' clocks) after each wake it made.
"""

from __future__ import annotations

import logging
import re
import time
from contextlib import suppress
from importlib import import_module
from typing import Any

from redis import Redis
from rq import Queue, Retry, get_current_job
from rq.exceptions import DuplicateJobError, NoSuchJobError
from rq.job import Job, JobStatus

from config import Settings
from workers.jobs import COALESCED, TASKS

log = logging.getLogger(__name__)

RETRY = Retry(max=5, interval=[10, 30, 60, 300, 900])
JOB_TIMEOUT = 300  # seconds; an SMTP send has a 20 s socket timeout
FAILURE_TTL = 7 * 24 * 3600  # failed jobs stay inspectable for a week
# A job in one of these states will run (again) by itself: dispatching it again is a no-op.
LIVE_STATUSES = frozenset(
    {
        JobStatus.CREATED,
        JobStatus.QUEUED,
        JobStatus.STARTED,
        JobStatus.SCHEDULED,
        JobStatus.DEFERRED,
        JobStatus.RATE_LIMITED,
        JobStatus.READY_TO_ENQUEUE,
    }
)
_UNSAFE_ID_CHARS = re.compile(r"[^A-Za-z0-9_-]")
WAKE_TTL = 60  # seconds a wake marker outlives a failed enqueue
DRAIN_LINGER = 1.0  # seconds a woken drain keeps reading after it started
DRAIN_POLL = 0.1  # seconds between a lingering drain's reads
WAKE_COVER = DRAIN_LINGER / 2  # seconds after a wake in which this process skips new ones


def job_function(task: str):
    """The callable behind `task`; raises KeyError for an unknown task."""
    module, _, name = TASKS[task].rpartition(".")
    return getattr(import_module(module), name)


def job_id(queue_name: str, task: str, ids: dict[str, Any]) -> str:
    """The RQ job id for `task` with `ids` on `queue_name`, e.g. 'paydesk-send_email-42'."""
    parts = [queue_name, task, *(str(ids[key]) for key in sorted(ids))]
    return _UNSAFE_ID_CHARS.sub("_", "-".join(parts))


def wake_key(queue_name: str, drain: str) -> str:
    """The Redis key that says a `drain` job is queued on `queue_name` and has not started."""
    return f"{queue_name}:{drain}:queued"


def run_woken(drain: str, queue_name: str) -> int:
    """The RQ job behind a wake: delete the wake marker, then run the drain job (so any commit
    whose wake found the marker is visible to the drain's reads), again every DRAIN_POLL
    seconds until a run that began DRAIN_LINGER after the start (the promise the skipped wakes
    rely on, see the module's docstring). Returns the sum of the drain's results (how many it
    processed); raises what it raises (RQ retries it; a retry deletes the marker again,
    harmlessly, and lingers again)."""
    job = get_current_job()
    if job is not None:
        job.connection.delete(wake_key(queue_name, drain))
    function = job_function(drain)
    started = time.monotonic()
    done = 0
    while True:
        run_started = time.monotonic()
        done += function()
        if run_started - started >= DRAIN_LINGER:
            return done
        time.sleep(DRAIN_POLL)


class InlineDispatcher:
    """Runs the job right away in this process (after the commit that deferred it).

    Never raises: a failing job is logged and its row stays due for the sweeper."""

    def dispatch(self, task: str, **ids: Any) -> None:
        try:
            job_function(task)(**ids)
        except Exception:
            log.exception("in-process job %s %s failed; its row stays for the sweeper", task, ids)


class RQDispatcher:
    """Enqueues the job on RQ with retries, unless a live job for the same work exists.

    Raises redis.RedisError if Redis is unreachable (the outbox logs it; the sweeper
    re-dispatches when Redis is back)."""

    def __init__(self, connection: Redis, queue_name: str) -> None:
        self.connection = connection
        self.queue = Queue(queue_name, connection=connection)
        self._covered_until: dict[str, float] = {}  # drain -> monotonic time

    def dispatch(self, task: str, **ids: Any) -> None:
        if task in COALESCED:
            self.wake(COALESCED[task])
            return
        function = TASKS[task]
        id_ = job_id(self.queue.name, task, ids)
        status = self.connection.hget(Job.key_for(id_), "status")
        if status is not None:
            if status.decode() in LIVE_STATUSES:
                log.debug("job %s is already %s", id_, status.decode())
                return
            # Ended (finished, failed, stopped, canceled) while its row is still due: replace it.
            with suppress(NoSuchJobError):
                Job.fetch(id_, connection=self.connection).delete()
        try:
            self.queue.enqueue(
                function,
                kwargs=ids,
                job_id=id_,
                unique=True,
                retry=RETRY,
                job_timeout=JOB_TIMEOUT,
                failure_ttl=FAILURE_TTL,
            )
        except DuplicateJobError:
            log.debug("job %s was enqueued concurrently", id_)

    def wake(self, drain: str) -> bool:
        """Make sure a `drain` job will read the database after now; True if this call enqueued
        it. Nothing to do within WAKE_COVER of this dispatcher's last wake, one SET NX when a
        drain is already queued. Raises redis.RedisError (after removing the marker it set, if
        it can) when Redis fails, so the next dispatch or the sweeper tries again."""
        started = time.monotonic()
        if started < self._covered_until.get(drain, 0.0):
            return False
        key = wake_key(self.queue.name, drain)
        if not self.connection.set(key, b"1", nx=True, ex=WAKE_TTL):
            self._covered_until[drain] = started + WAKE_COVER
            return False
        try:
            self.queue.enqueue(
                run_woken,
                kwargs={"drain": drain, "queue_name": self.queue.name},
                retry=RETRY,
                job_timeout=JOB_TIMEOUT,
                failure_ttl=FAILURE_TTL,
            )
        except Exception:
            with suppress(Exception):
                self.connection.delete(key)
            raise
        self._covered_until[drain] = started + WAKE_COVER
        return True


def redis_connection(settings: Settings, **options: Any) -> Redis:
    """A client for settings.redis_url that fails fast (web requests must not hang on Redis)."""
    kwargs: dict[str, Any] = {"socket_connect_timeout": 2, "socket_timeout": 5}
    kwargs.update(options)
    return Redis.from_url(settings.redis_url, **kwargs)


def make_dispatcher(settings: Settings) -> InlineDispatcher | RQDispatcher:
    """RQ when settings.redis_url is set, in-process otherwise. Connects to nothing yet."""
    if settings.jobs_inline:
        return InlineDispatcher()
    return RQDispatcher(redis_connection(settings), settings.queue_name)


def queue_health(settings: Settings) -> str:
    """'inline' without Redis, 'ok' when Redis answers, else an error description."""
    if settings.jobs_inline:
        return "inline"
    try:
        redis_connection(settings).ping()
    except Exception as exc:
        return f"error: {type(exc).__name__}"
    return "ok"
