"""GET /healthz: JSON with the database and queue status; 200 when healthy, 503 when not."""

from __future__ import annotations

from flask import Blueprint, current_app
from sqlalchemy import text

from web.extensions import db
from workers.dispatch import queue_health

blueprint = Blueprint("health", __name__)


@blueprint.get("/healthz")
def healthz():
    checks = {"database": "ok", "queue": "ok"}
    try:
        db.session.execute(text("SELECT 1"))
    except Exception as exc:
        checks["database"] = f"error: {type(exc).__name__}"
    checks["queue"] = queue_health(current_app.extensions["paydesk.settings"])
    healthy = checks["database"] == "ok" and checks["queue"] in {"ok", "inline"}
    return {"status": "ok" if healthy else "unavailable", **checks}, 200 if healthy else 503
