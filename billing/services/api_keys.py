"""API keys: staff create and revoke them; other systems send them as `Authorization: Bearer
<key>`. A key is returned once, at creation; only its SHA-256 hash is stored. Requests are
counted per key and per minute (a fixed window) so one system cannot flood the desk.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from billing import audit
from billing.errors import AuthenticationFailed, NotFound, RateLimited, ValidationFailed
from billing.models import SCOPES, ApiKey, ApiKeyUsage
from billing.tokens import hash_token

TOKEN_PREFIX = "pdk_"  # noqa: S105 (a label, not a secret)
SHOWN_PREFIX = 12  # characters of the key staff see in the list, e.g. "pdk_3fA9xQ2b"
MAX_NAME = 100
MAX_TOKEN = 200
WINDOW = timedelta(minutes=1)
USAGE_KEPT = timedelta(hours=1)


def create_api_key(
    session: Session, *, unsafe_name: str, scopes: list[str], now: datetime, actor: str
) -> tuple[ApiKey, str]:
    """A new key with `scopes` (a non-empty subset of SCOPES); returns (key, secret token).
    The token is shown once and never stored. Raises ValidationFailed. Commits."""
    name = (unsafe_name or "").strip()
    errors: dict[str, str] = {}
    if not name:
        errors["name"] = "Name the system that will use this key, e.g. “Shop”."
    elif len(name) > MAX_NAME:
        errors["name"] = f"Use at most {MAX_NAME} characters."
    chosen = sorted(set(scopes))
    if not chosen:
        errors["scopes"] = "Choose at least one permission."
    elif any(scope not in SCOPES for scope in chosen):
        errors["scopes"] = "Choose permissions from the list."
    if errors:
        raise ValidationFailed(errors)
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    key = ApiKey(
        name=name,
        prefix=token[:SHOWN_PREFIX],
        token_hash=hash_token(token),
        scopes=" ".join(chosen),
        created_by=actor,
        created_at=now,
    )
    session.add(key)
    audit.record(
        session,
        actor=actor,
        action="api_key.created",
        subject=key,
        now=now,
        after={"name": name, "scopes": key.scopes, "prefix": key.prefix},
    )
    session.commit()
    return key, token


def revoke_api_key(session: Session, *, api_key_id: int, now: datetime, actor: str) -> ApiKey:
    """Stop a key from working, at once. Idempotent. Raises NotFound. Commits."""
    key = None
    if 0 < api_key_id < 2**63:
        key = session.scalar(
            select(ApiKey)
            .where(ApiKey.id == api_key_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    if key is None:
        raise NotFound(f"api key {api_key_id}")
    if key.revoked_at is not None:
        session.rollback()
        return key
    key.revoked_at = now
    audit.record(
        session,
        actor=actor,
        action="api_key.revoked",
        subject=key,
        now=now,
        after={"name": key.name, "prefix": key.prefix},
    )
    session.commit()
    return key


def authenticate(session: Session, *, token: str) -> ApiKey:
    """The live key whose secret is `token`. Raises AuthenticationFailed for a missing,
    unknown or revoked key (the same message for all three). Read-only."""
    key = None
    if token and len(token) <= MAX_TOKEN:
        key = session.scalar(select(ApiKey).where(ApiKey.token_hash == hash_token(token)))
    if key is None or key.revoked_at is not None:
        raise AuthenticationFailed("The API key is missing, unknown or revoked.")
    return key


def count_request(
    session: Session, *, api_key_id: int, now: datetime, limit_per_minute: int
) -> int:
    """Count one request for the key in the current minute; returns the count so far. Raises
    RateLimited (with the seconds left in the minute) past `limit_per_minute`. One atomic
    upsert, so concurrent requests count exactly. Commits."""
    window = now.replace(second=0, microsecond=0)
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    insert = dialect.insert(ApiKeyUsage).values(api_key_id=api_key_id, window_start=window, count=1)
    count = session.scalar(
        insert.on_conflict_do_update(
            index_elements=[ApiKeyUsage.api_key_id, ApiKeyUsage.window_start],
            set_={"count": ApiKeyUsage.count + 1},
        ).returning(ApiKeyUsage.count)
    )
    if count == 1:
        session.execute(
            delete(ApiKeyUsage).where(
                ApiKeyUsage.api_key_id == api_key_id, ApiKeyUsage.window_start < now - USAGE_KEPT
            )
        )
    session.commit()
    if count > limit_per_minute:
        raise RateLimited(max(1, int((window + WINDOW - now).total_seconds())))
    return count


def list_api_keys(session: Session) -> list[ApiKey]:
    """Every key, live ones first, newest first. Read-only."""
    return list(
        session.scalars(select(ApiKey).order_by(ApiKey.revoked_at.is_not(None), ApiKey.id.desc()))
    )
