"""Sending queued emails."""

from billing.clock import utcnow
from billing.services import documents, emails
from workers import runtime

# Imported for its side effect: it registers the PDF attachment renderers send_email uses.
_RENDERERS = documents


def send_email_job(email_id: int) -> str | None:
    """Send one queued email and return its new status ('sent', 'logged', 'failed'; None when
    there is no such email).

    Safe to run twice: an email that is no longer queued is left alone, and the row lock taken
    by send_email makes a concurrent second run wait and then find it sent. Raises the SMTP or
    network error when delivery fails (after recording the attempt), so RQ retries the job."""
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
