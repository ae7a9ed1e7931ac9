"""The emailed quote link: `/quote/<token>` shows one quote without signing in, and lets the
customer accept or decline it (POST only; mail scanners fetch links with GET).

Like pay links, the token is derived, not stored: HMAC-SHA256(secret, "quote_link:<id>:<nonce>").
Only its SHA-256 hash is in the database, so a copy of the database opens nothing, while the
server (which holds the secret) can show staff the same link again. Unknown tokens count toward
a per-IP limit (RateLimited), as sign-in links and pay links do.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from billing.errors import RateLimited, TokenInvalid
from billing.models import AttemptKind, AuthAttempt, Quote, QuoteStatus, Realm
from billing.services.auth import Limits
from billing.tokens import hash_token

PATH = "/quote/"


def _token(secret: str, quote_id: int, nonce: str) -> str:
    digest = hmac.new(
        secret.encode(), f"quote_link:{quote_id}:{nonce}".encode(), hashlib.sha256
    ).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def issue_link(quote: Quote, *, secret: str) -> None:
    """Give a quote (already flushed, so it has an id) a link if it has none. The caller
    commits. Idempotent: an existing link is kept."""
    if quote.link_nonce:
        return
    quote.link_nonce = secrets.token_hex(16)
    quote.link_token_hash = hash_token(_token(secret, quote.id, quote.link_nonce))


def link_url(quote: Quote, *, secret: str, base_url: str) -> str | None:
    """The quote's link for people (staff copy it; the email carries it); None before sending."""
    if not quote.link_nonce:
        return None
    return base_url.rstrip("/") + PATH + _token(secret, quote.id, quote.link_nonce)


def quote_for_token(
    session: Session, *, token: str, ip: str, now: datetime, limits: Limits
) -> Quote:
    """The quote a link opens, with its lines and customer loaded. Raises RateLimited once
    this IP used up its failures, TokenInvalid for an unknown token or a quote still in draft
    (the failure is counted and committed)."""
    since = now - limits.window
    failures = session.scalar(
        select(AuthAttempt.id)
        .where(
            AuthAttempt.ip == ip,
            AuthAttempt.kind == AttemptKind.QUOTE_LINK,
            AuthAttempt.succeeded.is_(False),
            AuthAttempt.at > since,
        )
        .order_by(AuthAttempt.at)
        .offset(limits.max_failures - 1)
        .limit(1)
    )
    if failures is not None:
        raise RateLimited(int(limits.window.total_seconds()))
    quote = None
    if 20 <= len(token) <= 100:
        quote = session.scalar(
            select(Quote)
            .where(Quote.link_token_hash == hash_token(token))
            .options(selectinload(Quote.lines), selectinload(Quote.account))
        )
    if quote is None or quote.status == QuoteStatus.DRAFT:
        session.add(
            AuthAttempt(
                realm=Realm.PORTAL,
                kind=AttemptKind.QUOTE_LINK,
                email="",
                ip=ip,
                at=now,
                succeeded=False,
            )
        )
        session.commit()
        raise TokenInvalid("This quote link is invalid or was replaced. Ask us for a new one.")
    return quote
