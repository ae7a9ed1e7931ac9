"""send_email over a real SMTP server (aiosmtpd), and the send job run twice."""

from __future__ import annotations

import smtplib
from datetime import timedelta

import pytest
from sqlalchemy import select

from billing.clock import utcnow
from billing.models import CompanySettings, Email, EmailStatus
from billing.services import emails
from tests.conftest import free_port
from tests.factories import NOW
from tests.helpers import post_form
from workers.jobs.emails import send_email_job

MAIL_FROM = "Paydesk <billing@paydesk.test>"
CONTEXT = {"name": "Ada", "link": "http://localhost/login/link/tok123", "minutes": 15,
           "realm": "portal"}


@pytest.fixture
def settings_overrides(smtp):
    return {"smtp_url": smtp[0]}


def queued(session, **values) -> Email:
    """A committed, queued email whose send job was never started."""
    email = emails.queue_email(
        session,
        **{"to": "ada@example.test", "template": "magic_link", "context": CONTEXT, "now": NOW}
        | values,
    )
    session.commit()
    return email


def send(session, email, smtp_url):
    return emails.send_email(
        session, email_id=email.id, smtp_url=smtp_url, mail_from=MAIL_FROM, now=NOW
    )


def reload(session, email) -> Email:
    session.expire_all()
    return session.get(Email, email.id)


def test_message_has_both_parts_and_right_headers(quiet_session, smtp):
    smtp_url, mailbox = smtp
    email = queued(quiet_session)

    assert send(quiet_session, email, smtp_url) == EmailStatus.SENT

    [message] = mailbox.messages
    assert message["Subject"] == "Your sign-in link"
    assert message["To"] == "ada@example.test"
    assert message["From"] == MAIL_FROM
    assert message["Date"] and message["Message-ID"]
    plain = message.get_body(preferencelist=("plain",))
    html = message.get_body(preferencelist=("html",))
    assert plain.get_content_type() == "text/plain"
    assert html.get_content_type() == "text/html"
    assert "http://localhost/login/link/tok123" in plain.get_content()
    assert 'href="http://localhost/login/link/tok123"' in html.get_content()
    row = reload(quiet_session, email)
    assert (row.status, row.attempts, row.sent_at, row.last_error) == (
        EmailStatus.SENT, 1, NOW, ""
    )


def test_a_bare_address_is_sent_under_the_company_name(quiet_session, smtp):
    """PAYDESK_MAIL_FROM without a name: customers see the business that bills them (quoted
    and encoded as RFC 5322 wants it); before any company is saved, the bare address."""
    smtp_url, mailbox = smtp
    email = queued(quiet_session)
    emails.send_email(quiet_session, email_id=email.id, smtp_url=smtp_url,
                      mail_from="billing@paydesk.test", now=NOW)  # fmt: skip
    quiet_session.add(CompanySettings(id=1, name="Müller & Söhne, GmbH", default_currency="EUR"))
    quiet_session.commit()
    email = queued(quiet_session)
    emails.send_email(quiet_session, email_id=email.id, smtp_url=smtp_url,
                      mail_from="billing@paydesk.test", now=NOW)  # fmt: skip
    first, second = mailbox.messages
    assert first["From"] == "billing@paydesk.test"
    assert second["From"].addresses[0].display_name == "Müller & Söhne, GmbH"
    assert second["From"].addresses[0].addr_spec == "billing@paydesk.test"
    assert emails.sender(quiet_session, MAIL_FROM) == MAIL_FROM  # a name of its own is kept


def test_invoice_pdf_attachment_arrives(quiet_session, make, smtp):
    smtp_url, mailbox = smtp
    invoice = make.invoice()
    email = queued(quiet_session, attachments=[{"kind": "invoice_pdf", "id": invoice.id}])

    send(quiet_session, email, smtp_url)

    [message] = mailbox.messages
    [attachment] = list(message.iter_attachments())
    assert attachment.get_content_type() == "application/pdf"
    assert attachment.get_filename().endswith(".pdf")
    assert attachment.get_content().startswith(b"%PDF-")
    # The text and HTML alternatives are still there next to the attachment.
    assert message.get_body(preferencelist=("plain",)) is not None
    assert message.get_body(preferencelist=("html",)) is not None


def test_sensitive_bodies_are_redacted_after_sending(quiet_session, smtp):
    smtp_url, mailbox = smtp
    email = queued(quiet_session, sensitive=True)

    send(quiet_session, email, smtp_url)

    assert "tok123" in mailbox.messages[0].get_body(preferencelist=("plain",)).get_content()
    row = reload(quiet_session, email)
    assert row.text_body == row.html_body == emails.REDACTED
    assert "tok123" not in row.text_body


def test_without_smtp_the_email_is_logged(quiet_session, smtp):
    _, mailbox = smtp
    email = queued(quiet_session, sensitive=True)

    assert send(quiet_session, email, None) == EmailStatus.LOGGED

    row = reload(quiet_session, email)
    assert row.status == EmailStatus.LOGGED
    assert "tok123" in row.text_body  # readable in the admin's email log: that is the point
    assert mailbox.messages == []


def test_smtp_down_records_the_attempt_and_raises(quiet_session):
    email = queued(quiet_session)
    closed = f"smtp://127.0.0.1:{free_port()}"

    with pytest.raises(OSError):
        send(quiet_session, email, closed)
    with pytest.raises(OSError):
        send(quiet_session, email, closed)

    row = reload(quiet_session, email)
    assert row.status == EmailStatus.QUEUED
    assert row.attempts == 2
    assert row.last_error.startswith("ConnectionRefusedError")


class _RejectRecipients:
    async def handle_RCPT(self, server, session, envelope, address, options):
        return "550 5.1.1 mailbox unavailable"


@pytest.fixture
def rejecting_smtp():
    """A real SMTP server that refuses every recipient."""
    from aiosmtpd.controller import Controller

    port = free_port()
    controller = Controller(_RejectRecipients(), hostname="127.0.0.1", port=port)
    controller.start()
    yield f"smtp://127.0.0.1:{port}"
    controller.stop()


def test_smtp_rejection_is_recorded_too(quiet_session, rejecting_smtp):
    email = queued(quiet_session)

    with pytest.raises(smtplib.SMTPRecipientsRefused):
        send(quiet_session, email, rejecting_smtp)

    row = reload(quiet_session, email)
    assert (row.status, row.attempts) == (EmailStatus.QUEUED, 1)
    assert row.last_error.startswith("SMTPRecipientsRefused")


def test_after_max_attempts_the_email_fails(quiet_session):
    email = queued(quiet_session, sensitive=True)
    email.attempts = emails.MAX_ATTEMPTS - 1
    quiet_session.commit()

    with pytest.raises(OSError):
        send(quiet_session, email, f"smtp://127.0.0.1:{free_port()}")

    row = reload(quiet_session, email)
    assert (row.status, row.attempts) == (EmailStatus.FAILED, emails.MAX_ATTEMPTS)
    assert row.text_body == emails.REDACTED  # a link that will never be delivered is not kept
    # A failed email is not retried by a later run of the job.
    assert send(quiet_session, email, f"smtp://127.0.0.1:{free_port()}") == EmailStatus.FAILED


def test_a_missing_attachment_renderer_counts_as_an_attempt(quiet_session, smtp):
    smtp_url, mailbox = smtp
    email = queued(quiet_session, attachments=[{"kind": "no_such_kind", "id": 1}])

    with pytest.raises(KeyError):
        send(quiet_session, email, smtp_url)

    row = reload(quiet_session, email)
    assert (row.status, row.attempts) == (EmailStatus.QUEUED, 1)
    assert row.last_error.startswith("KeyError")
    assert mailbox.messages == []


def test_unknown_email_id_is_none(quiet_session, smtp):
    assert emails.send_email(
        quiet_session, email_id=999_999, smtp_url=smtp[0], mail_from=MAIL_FROM, now=NOW
    ) is None


def test_send_email_job_twice_sends_one_message(quiet_session, smtp):
    """Runs twice: the second run finds the email sent and leaves it alone."""
    _, mailbox = smtp
    email = queued(quiet_session)

    assert send_email_job(email.id) == "sent"
    assert send_email_job(email.id) == "sent"

    assert len(mailbox.messages) == 1
    assert reload(quiet_session, email).attempts == 1


def test_sign_in_link_is_sent_in_process_without_redis(client, make, session, smtp):
    """No Redis: the send job runs in the web process right after the commit."""
    _, mailbox = smtp
    user = make.portal_user()

    response = post_form(client, "/login/link", {"email": user.email})

    assert response.status_code == 302
    [message] = mailbox.to(user.email)
    assert "/login/link/" in message.get_body(preferencelist=("plain",)).get_content()
    row = session.scalars(select(Email).where(Email.to_address == user.email)).one()
    session.refresh(row)
    assert row.status == EmailStatus.SENT
    assert row.is_sensitive and row.text_body == emails.REDACTED
    assert row.created_at > utcnow() - timedelta(minutes=5)
