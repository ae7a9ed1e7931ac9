"""`python -m workers`: the RQ worker for Paydesk's queue, with RQ's scheduler and the cron table.

One command runs everything the queue needs:

- an RQ worker on settings.queue_name (a forked work-horse per job) started with RQ's scheduler,
  which moves jobs waiting for a `Retry` interval back onto the queue;
- rq.cron.CronScheduler in a thread of this process, enqueuing the periodic jobs of
  workers/schedule.py. When several workers share a queue, one of them holds a Redis lease
  and schedules; the others stand by and take over within LEADER_LEASE seconds if it stops.

SIGTERM or SIGINT stops it cleanly: the worker finishes the job in hand (a second signal kills
it), the cron thread deregisters and gives up its lease, and the process exits 0. If Redis goes
away the RQ worker quits; this command then keeps trying to start it again every few seconds,
so a Redis restart needs no worker restart (the outbox sweeper re-finds lost jobs).

Options: `--burst` processes what is queued (and any retries that are due) and exits, with no
cron; `--log-level`. Settings come from PAYDESK_* environment variables (config.py); a
PAYDESK_REDIS_URL is required. Exit codes: 0 done, 1 Redis unreachable in burst mode,
2 bad configuration. Logging is configured here, never at import.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from contextlib import suppress
from types import FrameType

from redis import Redis, RedisError
from rq import Queue, Worker
from rq.cron import CronScheduler

from billing.outbox import install_dispatcher
from config import ConfigError, Settings
from workers import runtime, schedule
from workers.dispatch import job_function, redis_connection
from workers.jobs import TASKS

log = logging.getLogger("workers")

# The worker settings measured in TESTING.md: a killed worker's job is re-queued in ~76 s.
WORKER_TTL = 40
JOB_MONITORING_INTERVAL = 5
MAINTENANCE_INTERVAL = 15
RESTART_DELAY = 5  # seconds between attempts to (re)start the worker while Redis is down
CRON_TICK = 5  # the cron thread wakes at least this often (to stop promptly, renew its lease)
LEADER_LEASE = 30  # seconds a cron leader's lease lasts without renewal


class PaydeskWorker(Worker):
    """rq.Worker that also tells the cron thread and the restart loop when a stop is asked."""

    stopping: threading.Event

    def request_stop(self, signum: int, frame: FrameType | None) -> None:
        self.stopping.set()
        super().request_stop(signum, frame)


class CronThread(threading.Thread):
    """Runs an rq CronScheduler with the schedule table until `stopping` is set.

    Only the holder of the lease key (per queue) enqueues; the lease is renewed every tick
    and released on stop. Redis errors are logged and retried after RESTART_DELAY, so an
    outage pauses the schedule instead of ending it."""

    def __init__(self, connection: Redis, queue_name: str, stopping: threading.Event) -> None:
        super().__init__(name="paydesk-cron", daemon=True)
        self.connection = connection
        self.queue_name = queue_name
        self.stopping = stopping
        self.lease_key = f"paydesk:cron-leader:{queue_name}"
        self.scheduler: CronScheduler | None = None

    def run(self) -> None:
        while not self.stopping.is_set():
            try:
                self._run_scheduler()
            except RedisError as exc:
                log.warning("cron: Redis error (%s); trying again in %s s", exc, RESTART_DELAY)
                self.stopping.wait(RESTART_DELAY)
            except Exception:
                log.exception("cron: unexpected error; trying again in %s s", RESTART_DELAY)
                self.stopping.wait(RESTART_DELAY)

    def _run_scheduler(self) -> None:
        # A fresh scheduler after an error: its interval jobs run at once (they are idempotent),
        # so the first sweep after an outage comes right away.
        scheduler = CronScheduler(connection=self.connection)
        schedule.register_all(scheduler, self.queue_name)
        self.scheduler = scheduler
        scheduler.register_birth()
        try:
            while not self.stopping.is_set():
                if self.is_leader() and scheduler.enqueue_jobs():
                    scheduler.save()
                scheduler.heartbeat()
                self.stopping.wait(min(scheduler.calculate_sleep_interval(), CRON_TICK))
        finally:
            with suppress(RedisError):
                self.release_lease()
                scheduler.register_death()

    def is_leader(self) -> bool:
        """Take the lease if it is free, renew it if it is ours; False while another holds it."""
        name = self.scheduler.name if self.scheduler else ""
        if self.connection.set(self.lease_key, name, nx=True, ex=LEADER_LEASE):
            log.info("cron: %s schedules periodic jobs for queue %s", name, self.queue_name)
            return True
        holder = self.connection.get(self.lease_key)
        if holder is not None and holder.decode() == name:
            self.connection.expire(self.lease_key, LEADER_LEASE)
            return True
        return False

    def release_lease(self) -> None:
        name = self.scheduler.name if self.scheduler else ""
        holder = self.connection.get(self.lease_key)
        if holder is not None and holder.decode() == name:
            self.connection.delete(self.lease_key)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m workers", description=__doc__.split("\n")[0])
    parser.add_argument(
        "--burst", action="store_true", help="process what is queued and exit (no cron)"
    )
    parser.add_argument(
        "--log-level",
        default="INFO",
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        type=str.upper,
        help="logging level (default INFO)",
    )
    return parser.parse_args(argv)


def configure_logging(level: str) -> None:
    logging.basicConfig(
        level=level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )


def configure_runtime(settings: Settings) -> runtime.Runtime:
    """Jobs in this process (and its work-horses) use these settings, sessions and dispatcher;
    work they defer is dispatched after their commits, as in the web app."""
    rt = runtime.configure(settings)
    install_dispatcher(rt.session_factory, rt.dispatcher)
    return rt


def preload_jobs() -> None:
    """Import every job's module now, in the main thread. The cron thread imports job modules
    too; if the worker forked a work-horse while that thread held Python's import lock, the
    work-horse would wait on the lock until RQ killed the job (seen with the payment jobs)."""
    for task in TASKS:
        job_function(task)


def worker_connection(settings: Settings) -> Redis:
    # No socket_timeout: the worker blocks on BLPOP and sets its own timeout above it.
    return redis_connection(settings, socket_timeout=None, health_check_interval=30)


def run_worker(
    settings: Settings, *, burst: bool, log_level: str, stopping: threading.Event
) -> int:
    """Run the RQ worker until a stop is requested (or the queue is empty with `burst`)."""
    while True:
        try:
            connection = worker_connection(settings)
            worker = PaydeskWorker(
                [Queue(settings.queue_name, connection=connection)],
                connection=connection,
                worker_ttl=WORKER_TTL,
                job_monitoring_interval=JOB_MONITORING_INTERVAL,
                maintenance_interval=MAINTENANCE_INTERVAL,
            )
            worker.stopping = stopping
            worker.work(burst=burst, with_scheduler=True, logging_level=log_level)
        except RedisError as exc:
            if burst:
                log.error("Redis is unreachable: %s", exc)
                return 1
            log.warning("worker: Redis error (%s)", exc)
        if burst or stopping.is_set():
            return 0
        log.warning("worker stopped without a stop request; starting again in %s s", RESTART_DELAY)
        _stop_on_signals(stopping)
        if stopping.wait(RESTART_DELAY):
            return 0


def _stop_on_signals(stopping: threading.Event) -> None:
    def handler(_signum: int, _frame: FrameType | None) -> None:
        stopping.set()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    configure_logging(args.log_level)
    try:
        settings = Settings.from_env()
    except ConfigError as exc:
        log.error("%s", exc)
        return 2
    if not settings.redis_url:
        log.error(
            "PAYDESK_REDIS_URL is not set. Without Redis the web app runs jobs in-process and "
            "there is no queue for a worker to serve."
        )
        return 2
    configure_runtime(settings)
    preload_jobs()
    stopping = threading.Event()
    _stop_on_signals(stopping)  # until the worker installs its own handlers
    cron = None
    if not args.burst:
        cron = CronThread(redis_connection(settings), settings.queue_name, stopping)
        cron.start()
    try:
        return run_worker(settings, burst=args.burst, log_level=args.log_level, stopping=stopping)
    finally:
        stopping.set()
        if cron is not None:
            cron.join(timeout=CRON_TICK + 10)
        log.info("stopped")


if __name__ == "__main__":
    sys.exit(main())
