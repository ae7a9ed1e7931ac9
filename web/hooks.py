"""POST /hooks/stripe: the processor's webhooks, served by a small Flask app of its own.

The signature on the raw body is the proof (no session, no CSRF). The view verifies it, stores
the event once and answers 200 at once; a job processes it. A webhook carries no cookie and
renders no page, so the main app's per-request machinery (the cookie session, sign-in, CSRF,
HTML error pages, the browser's security headers) would only cost time, and the intake is
measured against a bare endpoint (bench/webhooks.py). `mount` puts this app in front of the
main one for every path under PREFIX; it shares the main app's extensions (settings, gateway,
keys, database).
"""

from __future__ import annotations

import logging

from flask import Blueprint, Flask, Response, current_app, request
from werkzeug.exceptions import HTTPException
from werkzeug.middleware.dispatcher import DispatcherMiddleware

from billing.clock import utcnow
from billing.errors import GatewayPermanent
from billing.services import webhooks
from web.extensions import db

log = logging.getLogger(__name__)

PREFIX = "/hooks"
STRIPE_PATH = PREFIX + "/stripe"
SIGNATURE_TOLERANCE = 300  # seconds
# What a JSON answer to a server needs (OWASP's REST security headers): nothing to sniff,
# frame or cache.
HEADERS = (
    ("X-Content-Type-Options", "nosniff"),
    ("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'"),
    ("Cache-Control", "no-store"),
)

blueprint = Blueprint("hooks", __name__)


@blueprint.post(STRIPE_PATH.removeprefix(PREFIX))
def stripe_webhook():
    keys = current_app.extensions["paydesk.keys"]
    try:
        event_id = webhooks.accept_webhook(
            db.session,
            current_app.extensions["paydesk.gateway"],
            payload=request.get_data(cache=False),
            signature_header=request.headers.get("Stripe-Signature", ""),
            secret=keys.webhook_secret(),
            now=utcnow(),
            tolerance=SIGNATURE_TOLERANCE,
        )
    except GatewayPermanent as exc:
        return {"error": str(exc)}, 400
    return {"received": True, "duplicate": event_id is None}, 200


def create_hooks_app(main: Flask) -> Flask:
    """The webhook app, sharing `main`'s extensions and limits. Errors answer JSON."""
    hooks = Flask(__name__)
    hooks.config.update(
        TESTING=main.config["TESTING"], MAX_CONTENT_LENGTH=main.config["MAX_CONTENT_LENGTH"]
    )
    hooks.extensions = main.extensions
    hooks.register_blueprint(blueprint)
    hooks.teardown_appcontext(db.close_request_session)

    @hooks.after_request
    def _headers(response: Response) -> Response:
        response.headers.extend(HEADERS)
        return response

    @hooks.errorhandler(HTTPException)
    def _http(error: HTTPException):
        return {"error": error.description}, error.code or 500

    @hooks.errorhandler(Exception)
    def _unexpected(error: Exception):
        log.exception("unhandled error on %s %s", request.method, request.full_path)
        return {"error": "The event could not be stored; please send it again."}, 500

    return hooks


def mount(main: Flask, wsgi_app):
    """`wsgi_app` (the main app's) with every request under PREFIX sent to the webhook app."""
    return DispatcherMiddleware(wsgi_app, {PREFIX: create_hooks_app(main).wsgi_app})
