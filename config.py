"""Paydesk's configuration: one frozen Settings object built from PAYDESK_* environment variables.

Read once at start-up, validated, immutable. Missing or malformed values fail fast with a message
that names the variable. There are no default secrets: PAYDESK_SECRET_KEY must be given.
Business settings (company details, processor keys) live in the database, not here.
"""

from __future__ import annotations

import base64
import binascii
import os
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

DEFAULT_DATABASE_URL = "sqlite:///instance/paydesk.db"


class ConfigError(ValueError):
    """A setting is missing or malformed; the message names the variable."""


@dataclass(frozen=True)
class Settings:
    """Every setting Paydesk reads from its environment (documented in the README)."""

    secret_key: str
    database_url: str = DEFAULT_DATABASE_URL
    redis_url: str | None = None
    smtp_url: str | None = None
    mail_from: str = "billing@paydesk.test"  # sent under the company's name (emails.sender)
    base_url: str = "http://127.0.0.1:5000"
    queue_name: str = "paydesk"
    session_hours: int = 12
    login_max_failures: int = 5
    login_window_minutes: int = 15
    testing: bool = False
    # Payments (Stripe). Keys given here win over the ones saved in Admin → Settings → Payments.
    encryption_keys: tuple[str, ...] = ()  # Fernet keys: the first encrypts, all decrypt
    stripe_secret_key: str | None = None
    stripe_publishable_key: str | None = None
    stripe_webhook_secret: str | None = None
    stripe_api_base: str = "https://api.stripe.com"
    stripe_js_url: str = "https://js.stripe.com/v3/"
    pay_link_days: int = 30  # a pay link expires this many days after the invoice's due date

    @property
    def secure_cookies(self) -> bool:
        """Cookies carry Secure whenever the site is served over HTTPS."""
        return self.base_url.startswith("https://")

    @property
    def jobs_inline(self) -> bool:
        """Without Redis, jobs run in-process right after the commit that created them."""
        return not self.redis_url

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides) -> Settings:
        """Build settings from PAYDESK_* variables; raises ConfigError naming the bad one."""
        env = os.environ if environ is None else environ
        values: dict = {}
        text = {
            "secret_key": "PAYDESK_SECRET_KEY",
            "database_url": "PAYDESK_DATABASE_URL",
            "redis_url": "PAYDESK_REDIS_URL",
            "smtp_url": "PAYDESK_SMTP_URL",
            "mail_from": "PAYDESK_MAIL_FROM",
            "base_url": "PAYDESK_BASE_URL",
            "queue_name": "PAYDESK_QUEUE_NAME",
            "stripe_secret_key": "PAYDESK_STRIPE_SECRET_KEY",
            "stripe_publishable_key": "PAYDESK_STRIPE_PUBLISHABLE_KEY",
            "stripe_webhook_secret": "PAYDESK_STRIPE_WEBHOOK_SECRET",
            "stripe_api_base": "PAYDESK_STRIPE_API_BASE",
            "stripe_js_url": "PAYDESK_STRIPE_JS_URL",
        }
        for field, var in text.items():
            if env.get(var):
                values[field] = env[var].strip()
        for field, var in {
            "session_hours": "PAYDESK_SESSION_HOURS",
            "login_max_failures": "PAYDESK_LOGIN_MAX_FAILURES",
            "login_window_minutes": "PAYDESK_LOGIN_WINDOW_MINUTES",
            "pay_link_days": "PAYDESK_PAY_LINK_DAYS",
        }.items():
            if env.get(var):
                try:
                    values[field] = int(env[var])
                except ValueError:
                    raise ConfigError(f"{var} must be a whole number, got {env[var]!r}") from None
        if env.get("PAYDESK_ENCRYPTION_KEYS"):
            values["encryption_keys"] = tuple(
                key.strip() for key in env["PAYDESK_ENCRYPTION_KEYS"].split(",") if key.strip()
            )
        values.update(overrides)
        if not values.get("secret_key"):
            raise ConfigError(
                "PAYDESK_SECRET_KEY is not set. Generate one with "
                "`python -c 'import secrets; print(secrets.token_urlsafe(48))'`."
            )
        settings = cls(**values)
        settings.validate()
        return settings

    def validate(self) -> None:
        """Raise ConfigError for values that cannot work."""
        if len(self.secret_key) < 32:
            raise ConfigError("PAYDESK_SECRET_KEY must be at least 32 characters long.")
        if urlsplit(self.base_url).scheme not in {"http", "https"}:
            raise ConfigError("PAYDESK_BASE_URL must start with http:// or https://")
        if self.smtp_url and urlsplit(self.smtp_url).scheme not in {"smtp", "smtps"}:
            raise ConfigError("PAYDESK_SMTP_URL must look like smtp://user:pass@host:587")
        if self.redis_url and urlsplit(self.redis_url).scheme not in {"redis", "rediss", "unix"}:
            raise ConfigError("PAYDESK_REDIS_URL must look like redis://host:6379/0")
        if self.session_hours < 1 or self.login_max_failures < 1 or self.login_window_minutes < 1:
            raise ConfigError("Session and sign-in limits must be positive numbers.")
        self._validate_payments()

    def _validate_payments(self) -> None:
        for key in self.encryption_keys:
            if not _is_fernet_key(key):
                raise ConfigError(
                    "PAYDESK_ENCRYPTION_KEYS must be comma-separated Fernet keys (44 characters "
                    "each). Generate one with `python -c 'from cryptography.fernet import Fernet; "
                    "print(Fernet.generate_key().decode())'`."
                )
        for name, url in (
            ("PAYDESK_STRIPE_API_BASE", self.stripe_api_base),
            ("PAYDESK_STRIPE_JS_URL", self.stripe_js_url),
        ):
            parts = urlsplit(url)
            if parts.scheme not in {"http", "https"} or not parts.hostname:
                raise ConfigError(f"{name} must be an http(s) URL, got {url!r}")
        if self.pay_link_days < 1:
            raise ConfigError("PAYDESK_PAY_LINK_DAYS must be a positive number of days.")

    @property
    def stripe_js_origin(self) -> str:
        """scheme://host[:port] of the Stripe.js URL: the one origin the CSP lets in."""
        parts = urlsplit(self.stripe_js_url)
        return f"{parts.scheme}://{parts.netloc}"


def _is_fernet_key(key: str) -> bool:
    try:
        return len(base64.urlsafe_b64decode(key.encode())) == 32
    except (ValueError, binascii.Error):
        return False
