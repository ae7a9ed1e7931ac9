"""An email through real Redis and a real RQ worker, sent exactly once.

Runs against a redis-server of the run's own (skipped, with the reason, when the binary is
missing) and, when REDIS_URL is set (CI), also against that server on a queue of its own.
"""

from __future__ import annotations

import pytest
from rq.job import JobStatus
from sqlalchemy import select

from billing.models import Email, EmailStatus
from billing.services import emails
from tests.helpers import post_form
from workers.dispatch import job_id

pytestmark = pytest.mark.redis


@pytest.fixture
def settings_overrides(smtp, rq_target):
    return {"smtp_url": smtp[0], "redis_url": rq_target.url, "queue_name": rq_target.queue_name}


def test_sign_in_link_goes_through_rq_exactly_once(client, make, session, smtp, rq_target):
    _, mailbox = smtp
    user = make.portal_user()

    response = post_form(client, "/login/link", {"email": user.email})

    assert response.status_code == 302
    email = session.scalars(select(Email).where(Email.to_address == user.email)).one()
    assert email.status == EmailStatus.QUEUED
    [job] = rq_target.queue.get_jobs()
    assert job.func_name == "workers.jobs.emails.send_email_job"
    assert job.kwargs == {"email_id": email.id}
    assert job.id == job_id(rq_target.queue_name, "send_email", {"email_id": email.id})
    assert mailbox.messages == []  # the web process sends nothing itself

    assert rq_target.work(forking=True)  # a real forking rq.Worker in burst mode

    [message] = mailbox.to(user.email)
    assert "/login/link/" in message.get_body(preferencelist=("plain",)).get_content()
    session.refresh(email)
    assert (email.status, email.attempts) == (EmailStatus.SENT, 1)
    assert email.text_body == emails.REDACTED
    assert job.get_status() == JobStatus.FINISHED
    assert rq_target.work() is False  # nothing left to do: no second message
    assert len(mailbox.messages) == 1
