"""SMTP down under RQ: the job is scheduled for a retry, and the sweeper does not add another."""

from __future__ import annotations

from datetime import timedelta

import pytest
from rq import SimpleWorker
from rq.registry import ScheduledJobRegistry

from billing.clock import utcnow
from billing.models import Email, EmailStatus
from billing.services import emails
from tests.conftest import free_port
from workers import runtime
from workers.dispatch import job_id
from workers.jobs.maintenance import sweep_outbox_job

pytestmark = pytest.mark.redis


@pytest.fixture
def settings_overrides(own_redis):
    return {"smtp_url": f"smtp://127.0.0.1:{free_port()}", "redis_url": own_redis.url}


def test_sweeping_a_retrying_email_adds_no_job_and_burns_no_attempt(quiet_session, own_redis):
    email = emails.queue_email(
        quiet_session, to="ada@example.test", template="magic_link",
        context={"name": "", "link": "http://localhost/x", "minutes": 15, "realm": "portal"},
        now=utcnow() - timedelta(minutes=5),
    )
    quiet_session.commit()
    dispatcher = runtime.current().dispatcher
    dispatcher.dispatch("send_email", email_id=email.id)

    SimpleWorker([dispatcher.queue], connection=dispatcher.connection).work(
        burst=True, logging_level="CRITICAL"
    )

    quiet_session.expire_all()
    row = quiet_session.get(Email, email.id)
    assert (row.status, row.attempts) == (EmailStatus.QUEUED, 1)
    assert row.last_error.startswith("ConnectionRefusedError")
    scheduled = ScheduledJobRegistry(queue=dispatcher.queue)
    the_job = job_id(dispatcher.queue.name, "send_email", {"email_id": email.id})
    assert scheduled.get_job_ids() == [the_job]  # RQ will retry it (Retry interval)

    assert sweep_outbox_job() == 1  # still queued in the database...
    assert dispatcher.queue.count == 0  # ...but its job waits for its retry: no duplicate
    assert scheduled.get_job_ids() == [the_job]
    quiet_session.expire_all()
    assert quiet_session.get(Email, email.id).attempts == 1
