"""API authentication: `Authorization: Bearer <key>`, checked against the stored hashes, scoped,
and rate-limited per key (a fixed window of one minute)."""

from __future__ import annotations

from functools import wraps

from flask import current_app, g, request

from billing.clock import utcnow
from billing.models import ApiKey
from billing.services import api_keys
from web.extensions import db

DEFAULT_REQUESTS_PER_MINUTE = 120
CONFIG_KEY = "PAYDESK_API_REQUESTS_PER_MINUTE"  # tests lower it


class ScopeMissing(Exception):
    """The key is valid but lacks every scope the endpoint accepts (HTTP 403)."""

    def __init__(self, scopes: tuple[str, ...]):
        self.scopes = scopes
        super().__init__(f"This API key needs the {' or '.join(scopes)} scope.")


def _bearer_token() -> str:
    scheme, _, token = (request.headers.get("Authorization") or "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def require_scope(*scopes: str):
    """Let the view run for a live key holding any of `scopes`; the key is `current_key()`.
    Raises AuthenticationFailed (401), RateLimited (429) or ScopeMissing (403)."""

    def decorator(view):
        @wraps(view)
        def wrapped(*args, **kwargs):
            key = api_keys.authenticate(db.session, token=_bearer_token())
            api_keys.count_request(
                db.session,
                api_key_id=key.id,
                now=utcnow(),
                limit_per_minute=current_app.config.get(CONFIG_KEY, DEFAULT_REQUESTS_PER_MINUTE),
            )
            if not key.scope_set.intersection(scopes):
                raise ScopeMissing(scopes)
            g.api_key = key
            return view(*args, **kwargs)

        return wrapped

    return decorator


def current_key() -> ApiKey:
    return g.api_key
