"""Queuing and sending email.

`queue_email` renders templates/emails/<template>.{subject,txt,html} into an `emails` row in the
caller's transaction and defers the send job; `send_email` is that job's service. Sending is
at-least-once: a crash between the SMTP server accepting a message and the commit that marks it
sent can send it again, which is the right failure for email (a lost receipt is worse).
"""

from __future__ import annotations

import logging
import smtplib
import ssl
from collections.abc import Callable
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from sqlalchemy import select
from sqlalchemy.orm import Session

from billing import outbox, queries
from billing.formatting import format_day, format_money
from billing.models import Email, EmailStatus

log = logging.getLogger(__name__)

TEMPLATE_DIR = Path(__file__).resolve().parents[2] / "templates" / "emails"
MAX_ATTEMPTS = 8
REDACTED = "(This message held a one-time sign-in link. It was removed after delivery.)"

# kind -> function(session, id) -> (filename, mime type, bytes); registered by the documents
# service so this module does not depend on every kind of document.
ATTACHMENT_RENDERERS: dict[str, Callable[[Session, int], tuple[str, str, bytes]]] = {}


@cache
def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATE_DIR),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["money"] = lambda minor, currency, locale=None: format_money(
        minor, currency, locale
    )
    env.filters["day"] = lambda value, locale=None: format_day(value, locale)
    return env


def render(template: str, context: dict[str, Any]) -> tuple[str, str, str]:
    """(subject, text, html) of an email template with `context`."""
    env = _environment()
    subject = env.get_template(f"{template}.subject").render(context).strip()
    return (
        subject,
        env.get_template(f"{template}.txt").render(context),
        env.get_template(f"{template}.html").render(context),
    )


def queue_email(
    session: Session,
    *,
    to: str,
    template: str,
    context: dict[str, Any],
    now: datetime,
    account_id: int | None = None,
    attachments: list[dict[str, Any]] | None = None,
    sensitive: bool = False,
    cc: list[str] | None = None,
) -> Email:
    """Add an email to the outbox in the caller's transaction; the send job starts on commit.
    `cc` adds copy recipients (a Cc header; the SMTP envelope includes them)."""
    subject, text, html = render(template, context)
    email = Email(
        account_id=account_id,
        to_address=to,
        cc=", ".join(cc or []),
        subject=subject,
        template=template,
        text_body=text,
        html_body=html,
        attachments=attachments or [],
        is_sensitive=sensitive,
        status=EmailStatus.QUEUED,
        created_at=now,
    )
    session.add(email)
    session.flush()
    outbox.defer(session, "send_email", email_id=email.id)
    return email


def send_email(
    session: Session, *, email_id: int, smtp_url: str | None, mail_from: str, now: datetime
) -> EmailStatus | None:
    """Deliver one queued email over SMTP and record the outcome; returns the email's status
    afterwards (None if there is no such email). Commits.

    Idempotent: an email that is no longer queued is left alone. The row stays locked (FOR
    UPDATE on PostgreSQL) while the SMTP server is talking, so a second run of the same job
    waits and then finds it sent instead of sending it again. With no SMTP configured the
    email is marked LOGGED (readable in the admin's email log). Sensitive bodies are replaced
    by REDACTED once the email is sent or has failed for good.

    Raises whatever stopped delivery (an OSError or smtplib.SMTPException, or an error rendering
    an attachment) after recording it on the row (attempts + 1, last_error), so the job is
    retried; from the MAX_ATTEMPTS-th failure on, the email is marked FAILED (still raising).
    """
    email = session.scalar(select(Email).where(Email.id == email_id).with_for_update())
    if email is None or email.status != EmailStatus.QUEUED:
        status = EmailStatus(email.status) if email is not None else None
        session.rollback()
        return status
    if not smtp_url:
        email.status = EmailStatus.LOGGED
        session.commit()
        return EmailStatus.LOGGED
    try:
        _deliver(smtp_url, _build_message(session, email, mail_from, now))
    except Exception as exc:
        _record_failure(session, email_id, exc)
        raise
    email.status = EmailStatus.SENT
    email.sent_at = now
    email.attempts += 1
    email.last_error = ""
    if email.is_sensitive:
        email.text_body = email.html_body = REDACTED
    session.commit()
    return EmailStatus.SENT


def _record_failure(session: Session, email_id: int, exc: Exception) -> None:
    """Note a failed attempt in a fresh transaction (the failed one may be unusable)."""
    session.rollback()
    email = session.scalar(select(Email).where(Email.id == email_id).with_for_update())
    if email is None or email.status != EmailStatus.QUEUED:
        session.rollback()
        return
    email.attempts += 1
    email.last_error = f"{type(exc).__name__}: {exc}"[:2000]
    if email.attempts >= MAX_ATTEMPTS:
        email.status = EmailStatus.FAILED
        if email.is_sensitive:
            email.text_body = email.html_body = REDACTED
    session.commit()
    log.warning("email %s attempt %s failed: %s", email_id, email.attempts, email.last_error)


def sender(session: Session, mail_from: str) -> str:
    """The From header: PAYDESK_MAIL_FROM as it is when it names a sender ("Billing
    <billing@example.com>") or no company is saved yet, else its address under the company's
    name, so customers see who bills them ("Northwind Studio <billing@example.com>"), as
    Stripe's own emails do. Reads the company settings."""
    name, address = parseaddr(mail_from)
    if name or not address:
        return mail_from
    company = queries.company(session)
    if company.id is None or not company.name.strip():
        return mail_from
    return str(Address(display_name=company.name.strip(), addr_spec=address))


def _build_message(session: Session, email: Email, mail_from: str, now: datetime) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender(session, mail_from)
    message["To"] = email.to_address
    if email.cc:
        message["Cc"] = email.cc
    message["Subject"] = email.subject
    message["Date"] = format_datetime(now)
    message["Message-ID"] = make_msgid(idstring=f"paydesk-{email.id}")
    message.set_content(email.text_body)
    message.add_alternative(email.html_body, subtype="html")
    for attachment in email.attachments:
        filename, mime, data = ATTACHMENT_RENDERERS[attachment["kind"]](session, attachment["id"])
        maintype, subtype = mime.split("/", 1)
        message.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)
    return message


def _deliver(smtp_url: str, message: EmailMessage, timeout: float = 20) -> None:
    """Send over smtp://[user:pass@]host[:port][?starttls=1] or smtps://…"""
    url = urlsplit(smtp_url)
    query = parse_qs(url.query)
    host, port = url.hostname or "localhost", url.port
    context = ssl.create_default_context()
    if url.scheme == "smtps":
        client: smtplib.SMTP = smtplib.SMTP_SSL(host, port or 465, timeout=timeout, context=context)
    else:
        client = smtplib.SMTP(host, port or 25, timeout=timeout)
    with client:
        if url.scheme == "smtp" and (query.get("starttls") == ["1"] or port == 587):
            client.starttls(context=context)
        if url.username:
            client.login(unquote(url.username), unquote(url.password or ""))
        client.send_message(message)


def queued_email_ids(session: Session, *, older_than: datetime, limit: int = 500) -> list[int]:
    """Emails still queued since before `older_than` (for the sweeper). Read-only."""
    return list(
        session.scalars(
            select(Email.id)
            .where(Email.status == EmailStatus.QUEUED, Email.created_at < older_than)
            .order_by(Email.id)
            .limit(limit)
        )
    )
