"""`python -m workers` as a real process: burst mode, the cron thread, a clean stop on SIGTERM,
and the cron lease that keeps several workers from all scheduling the same jobs."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from datetime import timedelta

import pytest
from rq.cron import CronScheduler
from rq.job import Job
from rq.registry import FinishedJobRegistry

from billing.clock import utcnow
from billing.models import Email, EmailStatus
from billing.services import emails
from tests.conftest import ROOT
from workers.__main__ import CronThread

pytestmark = pytest.mark.redis

CONTEXT = {"name": "Ada", "link": "http://localhost/x", "minutes": 15, "realm": "portal"}


@pytest.fixture
def settings_overrides(smtp, own_redis):
    return {"smtp_url": smtp[0], "redis_url": own_redis.url}


def run_workers(env, *args, timeout=60) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "workers", *args],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout,
    )


def wait_for(condition, timeout: float = 30, message: str = "condition"):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {message}")
        time.sleep(0.05)


def test_burst_with_an_empty_queue_exits_0(worker_env):
    result = run_workers(worker_env, "--burst")
    assert result.returncode == 0, result.stderr


def test_burst_sends_what_is_queued(worker_env, quiet_session, smtp, own_redis, app):
    from workers import runtime

    _, mailbox = smtp
    email = emails.queue_email(quiet_session, to="ada@example.test", template="magic_link",
                               context=CONTEXT, now=utcnow())
    quiet_session.commit()
    runtime.current().dispatcher.dispatch("send_email", email_id=email.id)

    result = run_workers(worker_env, "--burst")

    assert result.returncode == 0, result.stderr
    assert len(mailbox.to("ada@example.test")) == 1
    quiet_session.expire_all()
    assert quiet_session.get(Email, email.id).status == EmailStatus.SENT


def test_without_redis_it_refuses_to_start(worker_env):
    env = {k: v for k, v in worker_env.items() if k != "PAYDESK_REDIS_URL"}
    result = run_workers(env)
    assert result.returncode == 2
    assert "PAYDESK_REDIS_URL is not set" in result.stderr


def test_bad_configuration_exits_2(worker_env):
    result = run_workers(worker_env | {"PAYDESK_SECRET_KEY": "short"})
    assert result.returncode == 2
    assert "PAYDESK_SECRET_KEY" in result.stderr


def test_cron_sweeps_a_stuck_email_and_sigterm_stops_cleanly(
    worker_env, quiet_session, smtp, own_redis
):
    _, mailbox = smtp
    stuck = emails.queue_email(quiet_session, to="stuck@example.test", template="magic_link",
                               context=CONTEXT, now=utcnow() - timedelta(minutes=10))
    quiet_session.commit()  # its job never existed (as after a Redis outage)
    redis = own_redis.client()
    process = subprocess.Popen(
        [sys.executable, "-m", "workers", "--log-level", "INFO"],
        cwd=ROOT, env=worker_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        # The cron thread enqueues sweep_outbox at start; the sweep dispatches send_email.
        wait_for(lambda: mailbox.to("stuck@example.test"), message="the swept email")
        wait_for(lambda: any(
            job.func_name == "workers.jobs.maintenance.sweep_outbox_job"
            for job in Job.fetch_many(
                FinishedJobRegistry("paydesk", connection=redis).get_job_ids(), connection=redis
            )
            if job is not None
        ), message="the finished sweep job")
        assert redis.get("paydesk:cron-leader:paydesk") is not None
        assert len(CronScheduler.all(redis)) == 1

        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()

    assert process.returncode == 0, output
    assert len(mailbox.messages) == 1
    quiet_session.expire_all()
    assert quiet_session.get(Email, stuck.id).status == EmailStatus.SENT
    assert redis.get("paydesk:cron-leader:paydesk") is None  # lease released
    assert CronScheduler.all(redis) == []  # deregistered
    assert "Traceback" not in output


def test_one_cron_leader_per_queue(own_redis):
    redis = own_redis.client()
    first = CronThread(redis, "paydesk", threading.Event())
    second = CronThread(redis, "paydesk", threading.Event())
    other_queue = CronThread(redis, "other", threading.Event())
    for thread, name in ((first, "a"), (second, "b"), (other_queue, "c")):
        thread.scheduler = CronScheduler(connection=redis, name=name)

    assert first.is_leader()
    assert not second.is_leader()
    assert first.is_leader()  # renews its own lease
    assert other_queue.is_leader()

    second.release_lease()  # not its lease: nothing happens
    assert not second.is_leader()
    first.release_lease()
    assert second.is_leader()
