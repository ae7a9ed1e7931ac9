"""Every API error is JSON: {"error": {"code": "...", "message": "...", "fields": {...}}}.
Domain errors map to 4xx here; anything unexpected is logged and answered 500 (never HTML)."""

from __future__ import annotations

import logging

from flask import Blueprint, request
from werkzeug.exceptions import HTTPException

from api.auth import ScopeMissing
from billing import errors
from web.errors import API_CODES

log = logging.getLogger(__name__)


class ApiError(Exception):
    """An error the API answers as is."""

    def __init__(self, status: int, code: str, message: str, fields: dict | None = None):
        self.status, self.code, self.message, self.fields = status, code, message, fields
        super().__init__(message)


def error_body(code: str, message: str, fields: dict | None = None) -> dict:
    body = {"code": code, "message": message}
    if fields:
        body["fields"] = fields
    return {"error": body}


def _answer(error: ApiError, headers: dict | None = None):
    return error_body(error.code, error.message, error.fields), error.status, headers or {}


def _translate(exc: Exception) -> tuple[ApiError, dict]:
    """The HTTP answer for an exception raised while serving an API request."""
    if isinstance(exc, ApiError):
        return exc, {}
    if isinstance(exc, errors.ValidationFailed):
        return ApiError(
            422, "validation_failed", "Some fields are invalid; see error.fields.", exc.errors
        ), {}
    if isinstance(exc, errors.AuthenticationFailed):
        return ApiError(401, "unauthorized", str(exc)), {"WWW-Authenticate": "Bearer"}
    if isinstance(exc, ScopeMissing):
        return ApiError(403, "insufficient_scope", str(exc)), {}
    if isinstance(exc, errors.RateLimited):
        return ApiError(429, "rate_limited", "Too many requests for this API key."), {
            "Retry-After": str(exc.retry_after_seconds)
        }
    if isinstance(exc, errors.IdempotencyKeyReused):
        return ApiError(422, "idempotency_key_reused", str(exc)), {}
    if isinstance(exc, errors.Conflict):
        return ApiError(409, "request_in_progress", str(exc)), {"Retry-After": "1"}
    if isinstance(exc, errors.InvalidTransition):
        return ApiError(409, "invalid_state", str(exc)), {}
    if isinstance(exc, errors.NotFound):
        return ApiError(404, "not_found", "There is no such record for this API key."), {}
    if isinstance(exc, HTTPException):
        status = exc.code or 500
        return ApiError(status, API_CODES.get(status, "error"), exc.description or ""), {}
    log.exception("unhandled API error on %s %s", request.method, request.path)
    message = "Something went wrong on our side. Retrying with the same Idempotency-Key is safe."
    return ApiError(500, "internal_error", message), {}


def register(blueprint: Blueprint) -> None:
    @blueprint.errorhandler(Exception)
    def _any(exc: Exception):
        error, headers = _translate(exc)
        return _answer(error, headers)
