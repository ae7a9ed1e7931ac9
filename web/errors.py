"""Error pages: friendly HTML for people, JSON for /api and /healthz; domain errors map to 4xx."""

from __future__ import annotations

import logging

from flask import Flask, render_template, request
from flask_login import current_user
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, NotFound

from billing.errors import NotFound as DomainNotFound

log = logging.getLogger(__name__)

MESSAGES = {
    400: ("Bad request", "The request could not be understood."),
    403: ("Not allowed", "Your role does not allow this. Ask an owner or administrator."),
    404: ("Not found", "There is nothing here. The link may be mistyped or out of date."),
    405: ("Not allowed", "That action is not available here."),
    413: ("Too large", "That upload is too large."),
    429: ("Slow down", "Too many requests. Please wait a moment and try again."),
    500: ("Something went wrong", "We could not complete that. Nothing was changed; try again."),
}

# JSON error codes for /api/ (api/blueprint.py answers its own errors the same way).
API_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
    429: "rate_limited",
    500: "internal_error",
}


def _render(code: int, detail: str | None = None):
    title, message = MESSAGES.get(code, (str(code), ""))
    if request.path.startswith("/api/"):
        return {"error": {"code": API_CODES.get(code, "error"), "message": detail or message}}, code
    return render_template(
        "error.html", code=code, title=title, message=detail or message, layout=_layout()
    ), code


def _layout() -> str:
    """The signed-in person keeps their navigation on an error page."""
    try:
        realm = current_user.realm if current_user.is_authenticated else None
    except Exception:  # the error may be the database itself
        realm = None
    return {"portal": "portal/_layout.html", "staff": "admin/_layout.html"}.get(realm, "base.html")


def init_app(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def _csrf(error: CSRFError):
        return _render(400, "This form expired or was sent from elsewhere. Reload and try again.")

    @app.errorhandler(HTTPException)
    def _http(error: HTTPException):
        return _render(error.code or 500)

    @app.errorhandler(DomainNotFound)
    def _domain_not_found(error: DomainNotFound):
        return _render(NotFound.code)

    @app.errorhandler(Exception)
    def _unexpected(error: Exception):
        log.exception("unhandled error on %s %s", request.method, request.path)
        return _render(500)
