"""Linking the card processor: the Stripe keys, saved encrypted in the database or given by the
environment (which wins), and the company's rule on partial payments.

- `update_processor_settings` (admin) validates, encrypts secrets with billing.secrets.Cipher,
  keeps a masked hint for display, and audits which fields changed, never their values. A blank
  secret keeps the stored one. One transaction.
- `rotate_secrets` re-encrypts every stored secret with the first encryption key
  (`python manage.py rotate-keys`).
- `KeyStore` is what the gateway and the webhook endpoint read keys through: environment first,
  else the database row (decrypted on demand, cached for a few seconds per process so a saved
  or rotated key takes effect without a restart).
"""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from billing import audit
from billing.errors import ValidationFailed
from billing.models import ProcessorSettings
from billing.secrets import Cipher, SecretsUnavailable, mask

SECRET_PREFIXES = ("sk_", "rk_")
KEY_SHAPE = re.compile(r"^[A-Za-z0-9_]{8,255}$")
CACHE_SECONDS = 5.0


@dataclass(frozen=True)
class EnvKeys:
    """Keys given by PAYDESK_STRIPE_* variables (each optional)."""

    secret_key: str | None = None
    publishable_key: str | None = None
    webhook_secret: str | None = None


@dataclass(frozen=True)
class ProcessorKeys:
    secret_key: str | None
    publishable_key: str | None
    webhook_secret: str | None


@dataclass(frozen=True)
class ProcessorOverview:
    """What the settings page shows: masked hints, where each key comes from, the rules."""

    secret_key_hint: str
    publishable_key: str
    webhook_secret_hint: str
    from_environment: frozenset[str]
    allow_partial_payments: bool
    can_store_secrets: bool
    updated_at: datetime | None

    @property
    def configured(self) -> bool:
        return bool(self.secret_key_hint and self.publishable_key)


def settings_row(session: Session, *, lock: bool = False) -> ProcessorSettings | None:
    query = select(ProcessorSettings).order_by(ProcessorSettings.id).limit(1)
    return session.scalar(query.with_for_update() if lock else query)


def allows_partial_payments(session: Session) -> bool:
    """The company-wide rule (default: partial payments allowed). Read-only."""
    row = settings_row(session)
    return True if row is None else bool(row.allow_partial_payments)


def overview(session: Session, *, env: EnvKeys, cipher: Cipher) -> ProcessorOverview:
    """The settings page's data; decrypts nothing. Read-only."""
    row = settings_row(session)
    from_env = frozenset(
        name
        for name, value in (
            ("secret_key", env.secret_key),
            ("publishable_key", env.publishable_key),
            ("webhook_secret", env.webhook_secret),
        )
        if value
    )
    return ProcessorOverview(
        secret_key_hint=mask(env.secret_key)
        if env.secret_key
        else (row.stripe_secret_key_hint if row else ""),
        publishable_key=env.publishable_key or (row.stripe_publishable_key if row else ""),
        webhook_secret_hint=mask(env.webhook_secret)
        if env.webhook_secret
        else (row.stripe_webhook_secret_hint if row else ""),
        from_environment=from_env,
        allow_partial_payments=True if row is None else bool(row.allow_partial_payments),
        can_store_secrets=cipher.available,
        updated_at=row.updated_at if row else None,
    )


def current_keys(session: Session, *, env: EnvKeys, cipher: Cipher) -> ProcessorKeys:
    """The keys in force: each from the environment if set there, else decrypted from the
    database. Raises SecretsUnavailable when a stored secret cannot be decrypted. Read-only."""
    row = settings_row(session)

    def stored(token: str | None) -> str | None:
        return cipher.decrypt(token) if token else None

    return ProcessorKeys(
        secret_key=env.secret_key or (stored(row.stripe_secret_key_encrypted) if row else None),
        publishable_key=env.publishable_key
        or ((row.stripe_publishable_key or None) if row else None),
        webhook_secret=env.webhook_secret
        or (stored(row.stripe_webhook_secret_encrypted) if row else None),
    )


def _clean(value: str | None) -> str:
    return (value or "").strip()


def update_processor_settings(
    session: Session,
    *,
    unsafe_secret_key: str | None,
    unsafe_publishable_key: str | None,
    unsafe_webhook_secret: str | None,
    allow_partial_payments: bool,
    cipher: Cipher,
    now: datetime,
    actor: str,
) -> ProcessorSettings:
    """Save the Stripe keys and payment rules. A blank secret keeps the stored one; a blank
    publishable key clears it. Raises ValidationFailed (wrong key shapes, or no encryption key
    configured for a new secret) and changes nothing then. Audits the names of the fields that
    changed, never their values. Commits."""
    secret_key = _clean(unsafe_secret_key)
    publishable_key = _clean(unsafe_publishable_key)
    webhook_secret = _clean(unsafe_webhook_secret)
    errors: dict[str, str] = {}
    for name, value in (
        ("secret_key", secret_key),
        ("publishable_key", publishable_key),
        ("webhook_secret", webhook_secret),
    ):
        if value and not KEY_SHAPE.match(value):
            errors[name] = "Paste the key exactly: letters, digits and underscores only."
    if secret_key and (not secret_key.startswith(SECRET_PREFIXES) or len(secret_key) < 8):
        errors["secret_key"] = "A Stripe secret key starts with sk_ (or rk_ for a restricted key)."  # noqa: S105
    if publishable_key and (not publishable_key.startswith("pk_") or len(publishable_key) < 8):
        errors["publishable_key"] = "A Stripe publishable key starts with pk_."
    if webhook_secret and (not webhook_secret.startswith("whsec_") or len(webhook_secret) < 10):
        errors["webhook_secret"] = "A webhook signing secret starts with whsec_."  # noqa: S105
    if (secret_key or webhook_secret) and not cipher.available:
        message = "Set PAYDESK_ENCRYPTION_KEYS on the server before saving secrets."
        errors.setdefault("secret_key" if secret_key else "webhook_secret", message)
    if errors:
        raise ValidationFailed(errors)
    row = settings_row(session, lock=True)
    if row is None:
        row = ProcessorSettings(allow_partial_payments=True)
        session.add(row)
    changed: list[str] = []
    if secret_key:
        row.stripe_secret_key_encrypted = cipher.encrypt(secret_key)
        row.stripe_secret_key_hint = mask(secret_key)
        changed.append("secret_key")
    if webhook_secret:
        row.stripe_webhook_secret_encrypted = cipher.encrypt(webhook_secret)
        row.stripe_webhook_secret_hint = mask(webhook_secret)
        changed.append("webhook_secret")
    if publishable_key != (row.stripe_publishable_key or ""):
        row.stripe_publishable_key = publishable_key
        changed.append("publishable_key")
    if bool(row.allow_partial_payments) != allow_partial_payments:
        row.allow_partial_payments = allow_partial_payments
        changed.append("allow_partial_payments")
    if not changed:
        session.rollback()
        return row
    row.updated_at = now
    audit.record(
        session,
        actor=actor,
        action="processor_settings.updated",
        subject=row,
        now=now,
        after={"changed": changed, "allow_partial_payments": allow_partial_payments},
    )
    session.commit()
    return row


def rotate_secrets(session: Session, *, cipher: Cipher, now: datetime, actor: str) -> int:
    """Re-encrypt every stored secret with the first encryption key; returns how many.
    Idempotent. Raises SecretsUnavailable when a secret cannot be decrypted with any key
    (nothing is changed then). Commits."""
    row = settings_row(session, lock=True)
    if row is None:
        session.rollback()
        return 0
    count = 0
    for column in ("stripe_secret_key_encrypted", "stripe_webhook_secret_encrypted"):
        token = getattr(row, column)
        if token:
            setattr(row, column, cipher.rotate(token))
            count += 1
    if count:
        audit.record(
            session,
            actor=actor,
            action="processor_settings.keys_rotated",
            subject=row,
            now=now,
            after={"secrets": count},
        )
    session.commit()
    return count


class KeyStore:
    """Processor keys for a process: the environment's, else the database's (cached briefly).

    `secret_key()`, `publishable_key()` and `webhook_secret()` never raise for a missing key
    (they return None); an undecryptable stored secret is reported as missing and logged by
    the caller's error path (the message never includes the secret)."""

    def __init__(self, session_factory: sessionmaker, env: EnvKeys, cipher: Cipher) -> None:
        self._factory = session_factory
        self._env = env
        self._cipher = cipher
        self._lock = threading.Lock()
        self._cached: tuple[float, ProcessorKeys] | None = None

    def keys(self) -> ProcessorKeys:
        with self._lock:
            if self._cached and time.monotonic() - self._cached[0] < CACHE_SECONDS:
                return self._cached[1]
        try:
            with self._factory() as session:
                keys = current_keys(session, env=self._env, cipher=self._cipher)
        except SecretsUnavailable:
            keys = ProcessorKeys(
                self._env.secret_key, self._env.publishable_key, self._env.webhook_secret
            )
        with self._lock:
            self._cached = (time.monotonic(), keys)
        return keys

    def forget(self) -> None:
        """Drop the cache (after the settings were saved in this process)."""
        with self._lock:
            self._cached = None

    def secret_key(self) -> str | None:
        return self.keys().secret_key

    def publishable_key(self) -> str | None:
        return self.keys().publishable_key

    def webhook_secret(self) -> str | None:
        return self.keys().webhook_secret
