"""The periodic jobs (run twice each) and the schedule table that registers them."""

from __future__ import annotations

from datetime import timedelta

import pytest
from redis import Redis
from rq.cron import CronScheduler
from sqlalchemy import func, select

from billing.clock import utcnow
from billing.models import AttemptKind, AuthAttempt, Email, EmailStatus, Realm
from billing.services import emails
from workers import schedule, sweepers
from workers.jobs import TASKS
from workers.jobs.maintenance import forget_old_auth_records_job, sweep_outbox_job

CONTEXT = {"name": "Ada", "link": "http://localhost/x", "minutes": 15, "realm": "portal"}


@pytest.fixture
def settings_overrides(smtp):
    return {"smtp_url": smtp[0]}


def queued(session, *, age: timedelta) -> Email:
    email = emails.queue_email(
        session, to="ada@example.test", template="magic_link", context=CONTEXT,
        now=utcnow() - age,
    )
    session.commit()
    return email


def status_of(session, email) -> str:
    session.expire_all()
    return session.get(Email, email.id).status


def test_sweep_outbox_job_twice_sends_each_stuck_email_once(quiet_session, smtp):
    """Runs twice (in-process dispatcher): the second run finds nothing left to send."""
    _, mailbox = smtp
    stuck = queued(quiet_session, age=timedelta(minutes=5))
    fresh = queued(quiet_session, age=timedelta(seconds=1))  # its own job may still be coming

    assert sweep_outbox_job() == 1
    assert sweep_outbox_job() == 0

    assert len(mailbox.messages) == 1
    assert status_of(quiet_session, stuck) == EmailStatus.SENT
    assert status_of(quiet_session, fresh) == EmailStatus.QUEUED


def test_sweep_outbox_threshold_is_a_parameter(quiet_session, smtp):
    fresh = queued(quiet_session, age=timedelta(seconds=1))
    now = utcnow()

    assert sweepers.sweep_outbox(now=now) == []
    assert sweepers.sweep_outbox(now=now, min_age=timedelta(0)) == [fresh.id]
    assert status_of(quiet_session, fresh) == EmailStatus.SENT


def _attempt(at):
    return AuthAttempt(realm=Realm.PORTAL, kind=AttemptKind.LINK_REQUEST, email="a@example.test",
                       ip="127.0.0.1", at=at, succeeded=False)


def test_forget_old_auth_records_job_twice(session):
    """Runs twice: the first run deletes what is older than a day, the second finds nothing."""
    now = utcnow()
    session.add_all([_attempt(now - timedelta(days=2)), _attempt(now - timedelta(days=3)),
                     _attempt(now - timedelta(hours=1))])
    session.commit()

    assert forget_old_auth_records_job() == 2
    assert forget_old_auth_records_job() == 0
    assert session.scalar(select(func.count()).select_from(AuthAttempt)) == 1


def test_the_schedule_registers_every_periodic_job():
    cron = CronScheduler(connection=Redis(), name="test")  # registering touches no Redis

    jobs = schedule.register_all(cron, "paydesk")

    registered = {job.name: (job.interval, job.cron) for job in cron.get_jobs()}
    # Every entry of the table, as written there (each workstream adds its own sweeps).
    assert registered == {
        entry.name: (entry.when, None) if isinstance(entry.when, int) else (None, entry.when)
        for entry in schedule.SCHEDULE
    }
    assert registered["sweep_outbox"] == (60, None)
    assert registered["forget_old_auth_records"] == (None, "7 * * * *")
    assert jobs == cron.get_jobs()
    for job in jobs:
        assert job.queue_name == "paydesk"
        assert job.func_name == TASKS[job.name]  # the name of the task in workers.jobs
        assert job.job_options["job_timeout"] == 300
    sweep = next(job for job in jobs if job.name == "sweep_outbox")
    assert sweep.job_options["ttl"] == 60  # a stale sweep is dropped, not stacked
    assert sweep.should_run()  # interval jobs run as soon as the scheduler starts
    forget = next(job for job in jobs if job.name == "forget_old_auth_records")
    assert timedelta(0) < forget.next_enqueue_time - utcnow() <= timedelta(hours=1)


def test_every_scheduled_job_is_a_known_task():
    names = {entry.name for entry in schedule.SCHEDULE}
    assert names <= set(TASKS)
    assert len(names) == len(schedule.SCHEDULE)
