"""The one table of periodic jobs, run by the cron scheduler inside `python -m workers`.

Each entry is (name, job, when): the job is a dotted path (or a callable) of a function in
workers.jobs, and `when` is an interval in seconds or a cron string (minute hour day month
weekday, in the worker's local time). Every periodic job is safe to run twice, so a restart
that runs one early, or two worker hosts that both run the table, costs nothing but a query.

Interval jobs run once when the scheduler starts and then every interval; cron jobs wait for
their next matching minute. A periodic job that waited in the queue longer than its period is
dropped (its next run is coming), so a backlog never stacks copies of the same sweep.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from importlib import import_module

from rq.cron import CronJob, CronScheduler

from workers.jobs import TASKS


@dataclass(frozen=True)
class Periodic:
    name: str
    job: str | Callable[[], object]
    when: int | str  # seconds between runs, or a cron string
    timeout: int = 300  # seconds a run may take before RQ kills it

    @property
    def function(self) -> Callable[[], object]:
        """The job's callable; raises ImportError/AttributeError for a wrong dotted path."""
        if callable(self.job):
            return self.job
        module, _, name = self.job.rpartition(".")
        return getattr(import_module(module), name)

    @property
    def queue_ttl(self) -> int:
        """Seconds a run may wait in the queue before RQ discards it."""
        return self.when if isinstance(self.when, int) else 3600


SCHEDULE: tuple[Periodic, ...] = (
    # Emails whose send job was lost (Redis outage, worker killed) are dispatched again.
    Periodic("sweep_outbox", TASKS["sweep_outbox"], 60),
    # Sign-in attempts, expired sessions and spent tokens are kept for a day.
    Periodic("forget_old_auth_records", TASKS["forget_old_auth_records"], "7 * * * *"),
    # Card payments left pending or in 3-D Secure, and webhook events whose job was lost, are
    # settled from the processor's records (never by charging again).
    Periodic("sweep_payments", TASKS["sweep_payments"], 120),
    # Card refunds whose processor answer was lost are settled from the processor's records.
    Periodic("sweep_refunds", TASKS["sweep_refunds"], 300),
    # Invoices made for Pay Now widget payments that failed later are voided.
    Periodic("void_unpaid_widget_invoices", TASKS["void_unpaid_widget_invoices"], 600),
    # Quotes past their expiry date expire; accepted quotes whose auto-conversion job was lost
    # are converted.
    Periodic("sweep_quotes", TASKS["sweep_quotes"], 300),
)


def register_all(cron_scheduler: CronScheduler, queue_name: str) -> list[CronJob]:
    """Register every SCHEDULE entry on `cron_scheduler` for `queue_name`; returns the CronJobs.

    Touches no Redis (registration is in memory). Raises ImportError/AttributeError if an
    entry names a function that does not exist, ValueError for an invalid `when`."""
    registered = []
    for entry in SCHEDULE:
        timing = {"interval": entry.when} if isinstance(entry.when, int) else {"cron": entry.when}
        registered.append(
            cron_scheduler.register(
                entry.function,
                queue_name,
                name=entry.name,
                job_timeout=entry.timeout,
                ttl=entry.queue_ttl,
                failure_ttl=24 * 3600,
                **timing,
            )
        )
    return registered
