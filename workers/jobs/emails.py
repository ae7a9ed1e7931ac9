"""Sending queued emails."""

from billing.clock import utcnow
from billing.services import emails
from workers import runtime


def send_email_job(email_id: int) -> str | None:
    """Send one queued email; a no-op when it was already sent (runs twice safely)."""
    settings = runtime.current().settings
    with runtime.session() as session:
        status = emails.send_email(
            session,
            email_id=email_id,
            smtp_url=settings.smtp_url,
            mail_from=settings.mail_from,
            now=utcnow(),
        )
    return status.value if status else None
