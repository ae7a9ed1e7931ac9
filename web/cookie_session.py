"""Flask's signed-cookie session, with its signing serializer built once instead of on every
request (Flask builds a fresh URLSafeTimedSerializer each time it opens or saves a session:
about 4% of a webhook request, profiled under gunicorn). Same cookies, same keys, same
SECRET_KEY_FALLBACKS rotation: a change of either key list builds a new serializer."""

from __future__ import annotations

from flask import Flask
from flask.sessions import SecureCookieSessionInterface
from itsdangerous import URLSafeTimedSerializer


class CachedSerializerSessionInterface(SecureCookieSessionInterface):
    _cached: tuple[tuple, URLSafeTimedSerializer | None] | None = None

    def get_signing_serializer(self, app: Flask) -> URLSafeTimedSerializer | None:
        keys = (app.secret_key, tuple(app.config.get("SECRET_KEY_FALLBACKS") or ()))
        cached = self._cached
        if cached is None or cached[0] != keys:
            cached = self._cached = (keys, super().get_signing_serializer(app))
        return cached[1]
