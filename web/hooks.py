"""POST /hooks/stripe: the processor's webhooks. No session, no CSRF (the signature on the raw
body is the proof). Verifies, stores the event once, answers 200 at once; a job processes it."""

from __future__ import annotations

from flask import Blueprint, current_app, request

from billing.clock import utcnow
from billing.errors import GatewayPermanent
from billing.services import webhooks
from web.extensions import db

blueprint = Blueprint("hooks", __name__)
SIGNATURE_TOLERANCE = 300  # seconds


@blueprint.post("/hooks/stripe")
def stripe_webhook():
    keys = current_app.extensions["paydesk.keys"]
    try:
        _event_id, new = webhooks.accept_webhook(
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
    return {"received": True, "duplicate": not new}, 200
