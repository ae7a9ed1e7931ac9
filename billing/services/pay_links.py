"""One-click pay links: `/pay/<token>` opens one invoice's public page without signing in.

- The token is derived, not stored: HMAC-SHA256(secret, "pay_link:<id>:<nonce>"). Only its
  SHA-256 hash is in the database (a leaked table opens nothing) while the server, which holds
  the secret, can show staff the same link again to copy.
- A link expires `days_after_due` days after the invoice's due date (30 by default), can be
  revoked, and is replaced by regenerating (new nonce). It never grants access to anything but
  its invoice, and `payable_invoice` stops taking money once the invoice is paid or void.
- Unknown tokens count toward a per-IP limit like sign-in links (RateLimited).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from datetime import UTC, datetime, time, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from billing import audit
from billing.errors import InvalidTransition, RateLimited, TokenInvalid
from billing.models import AttemptKind, AuthAttempt, Invoice, InvoiceStatus, PayLink, Realm
from billing.services.auth import Limits
from billing.tokens import hash_token

DEFAULT_DAYS_AFTER_DUE = 30
PATH = "/pay/"
PAYABLE = frozenset({InvoiceStatus.OPEN, InvoiceStatus.UNCOLLECTIBLE})


def _token(secret: str, link: PayLink) -> str:
    digest = hmac.new(
        secret.encode(), f"pay_link:{link.id}:{link.nonce}".encode(), hashlib.sha256
    ).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def _expiry(invoice: Invoice, days_after_due: int) -> datetime:
    return datetime.combine(invoice.due_date + timedelta(days=days_after_due), time(), UTC)


def _new_link(
    session: Session, invoice: Invoice, *, secret: str, now: datetime, days_after_due: int
) -> tuple[PayLink, str]:
    link = PayLink(
        invoice_id=invoice.id,
        nonce=secrets.token_hex(16),
        token_hash=secrets.token_hex(32),  # replaced below, once the id is known
        created_at=now,
        expires_at=_expiry(invoice, days_after_due),
    )
    session.add(link)
    session.flush()  # the id is part of the token
    token = _token(secret, link)
    link.token_hash = hash_token(token)
    return link, token


def _live_link(session: Session, invoice_id: int, now: datetime) -> PayLink | None:
    return session.scalars(
        select(PayLink)
        .where(PayLink.invoice_id == invoice_id, PayLink.revoked_at.is_(None))
        .order_by(PayLink.id.desc())
    ).first()


def pay_link_url(
    session: Session,
    *,
    invoice: Invoice,
    secret: str,
    base_url: str,
    now: datetime,
    days_after_due: int = DEFAULT_DAYS_AFTER_DUE,
) -> str:
    """The invoice's current pay link URL, creating one in the caller's transaction if it has
    none (the caller commits, e.g. together with the email that carries the link). A link
    that has expired is replaced. Raises InvalidTransition for a draft."""
    if invoice.status == InvoiceStatus.DRAFT:
        raise InvalidTransition("A draft has no pay link; finalize it first.")
    link = _live_link(session, invoice.id, now)
    if link is None or not link.is_live(now):
        if link is not None:
            link.revoked_at = now
        link, token = _new_link(
            session, invoice, secret=secret, now=now, days_after_due=days_after_due
        )
    else:
        token = _token(secret, link)
    return base_url.rstrip("/") + PATH + token


def regenerate_pay_link(
    session: Session,
    *,
    invoice_id: int,
    secret: str,
    base_url: str,
    now: datetime,
    actor: str,
    days_after_due: int = DEFAULT_DAYS_AFTER_DUE,
) -> str:
    """Revoke the invoice's link and issue a new one (staff). Commits; returns the new URL."""
    invoice = session.get(Invoice, invoice_id)
    if invoice is None or invoice.status == InvoiceStatus.DRAFT:
        raise InvalidTransition("Only a finalized invoice has a pay link.")
    old = _live_link(session, invoice_id, now)
    if old is not None:
        old.revoked_at = now
    link, token = _new_link(session, invoice, secret=secret, now=now, days_after_due=days_after_due)
    audit.record(
        session,
        actor=actor,
        action="pay_link.regenerated",
        subject=link,
        now=now,
        account_id=invoice.account_id,
        after={"invoice_id": invoice_id},
    )
    session.commit()
    return base_url.rstrip("/") + PATH + token


def revoke_pay_link(session: Session, *, invoice_id: int, now: datetime, actor: str) -> None:
    """Stop the invoice's current link from working (staff). Idempotent. Commits."""
    link = _live_link(session, invoice_id, now)
    if link is None:
        session.rollback()
        return
    link.revoked_at = now
    audit.record(
        session,
        actor=actor,
        action="pay_link.revoked",
        subject=link,
        now=now,
        account_id=link.invoice.account_id,
        after={"invoice_id": invoice_id},
    )
    session.commit()


def invoice_for_token(
    session: Session, *, token: str, ip: str, now: datetime, limits: Limits
) -> Invoice:
    """The invoice a live pay link opens (for showing it). Raises TokenInvalid for an unknown,
    revoked or expired link (counted per IP, committed) and RateLimited past the limit."""
    since = now - limits.window
    failures = session.scalar(
        select(AuthAttempt.id)
        .where(
            AuthAttempt.ip == ip,
            AuthAttempt.kind == AttemptKind.PAY_LINK,
            AuthAttempt.succeeded.is_(False),
            AuthAttempt.at > since,
        )
        .order_by(AuthAttempt.at)
        .offset(limits.max_failures - 1)
        .limit(1)
    )
    if failures is not None:
        raise RateLimited(int(limits.window.total_seconds()))
    link = session.scalar(select(PayLink).where(PayLink.token_hash == hash_token(token)))
    if link is None or not link.is_live(now):
        session.add(
            AuthAttempt(
                realm=Realm.PORTAL,
                kind=AttemptKind.PAY_LINK,
                email="",
                ip=ip,
                at=now,
                succeeded=False,
            )
        )
        session.commit()
        raise TokenInvalid("This payment link is invalid, was replaced, or has expired.")
    return link.invoice


def is_payable(invoice: Invoice) -> bool:
    """Whether a pay link may still take money for this invoice."""
    return invoice.status in PAYABLE and invoice.amount_due_minor > 0


def current_pay_link_url(
    session: Session, *, invoice: Invoice, secret: str, base_url: str, now: datetime
) -> str | None:
    """The invoice's live pay link URL, or None when it has none (never creates one, so a
    page can show it on GET). Read-only."""
    link = _live_link(session, invoice.id, now)
    if link is None or not link.is_live(now):
        return None
    return base_url.rstrip("/") + PATH + _token(secret, link)


def live_link_for_token(session: Session, *, token: str, now: datetime) -> PayLink | None:
    """The live link a token opens, without counting anything (callers that already passed
    invoice_for_token use it to name the link in audit entries). Read-only."""
    link = session.scalar(select(PayLink).where(PayLink.token_hash == hash_token(token)))
    return link if link is not None and link.is_live(now) else None
