"""A Redis outage delays email, never loses it: the row is committed, the sweeper re-dispatches
it when Redis is back, and re-dispatching work whose job is alive adds nothing."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from rq import SimpleWorker
from rq.job import JobStatus
from sqlalchemy import select

from billing.models import Email, EmailStatus
from tests.helpers import post_form
from workers import runtime
from workers.dispatch import RQDispatcher
from workers.jobs.maintenance import sweep_outbox_job

pytestmark = pytest.mark.redis


@pytest.fixture
def settings_overrides(smtp, own_redis):
    return {"smtp_url": smtp[0], "redis_url": own_redis.url}


def work(dispatcher: RQDispatcher) -> bool:
    worker = SimpleWorker([dispatcher.queue], connection=dispatcher.connection)
    return worker.work(burst=True, logging_level="WARNING")


def test_outage_then_sweep_sends_the_email_exactly_once(
    client, make, session, smtp, own_redis, caplog
):
    _, mailbox = smtp
    user = make.portal_user()
    own_redis.stop()

    with caplog.at_level(logging.WARNING, logger="billing.outbox"):
        response = post_form(client, "/login/link", {"email": user.email})

    assert response.status_code == 302  # the user never sees the outage
    assert "could not dispatch send_email" in caplog.text
    email = session.scalars(select(Email).where(Email.to_address == user.email)).one()
    assert email.status == EmailStatus.QUEUED  # committed: the row is the record

    own_redis.start()  # back, and empty: the job was never written
    assert own_redis.client().dbsize() == 0
    email.created_at -= timedelta(minutes=5)  # older than the sweeper's threshold
    session.commit()

    dispatcher = runtime.current().dispatcher
    assert sweep_outbox_job() == 1
    assert sweep_outbox_job() == 1  # swept again before a worker ran: still one job
    assert dispatcher.queue.count == 1

    assert work(dispatcher)

    assert len(mailbox.to(user.email)) == 1
    assert len(mailbox.messages) == 1
    session.refresh(email)
    assert email.status == EmailStatus.SENT
    assert sweep_outbox_job() == 0


def test_an_ended_job_is_replaced_when_its_row_is_still_due(own_redis):
    dispatcher = RQDispatcher(own_redis.client(), "paydesk")
    dispatcher.dispatch("send_email", email_id=7)
    [job] = dispatcher.queue.get_jobs()
    dispatcher.dispatch("send_email", email_id=7)
    assert dispatcher.queue.count == 1  # still waiting: left alone

    dispatcher.queue.remove(job)
    job.set_status(JobStatus.FAILED)  # as when RQ gives up after its retries
    dispatcher.dispatch("send_email", email_id=7)

    assert dispatcher.queue.job_ids == [job.id]
    assert job.get_status() == JobStatus.QUEUED
