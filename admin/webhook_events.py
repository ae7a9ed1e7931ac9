"""Processor webhook events as received: type, status, when, error; replay a failed one."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user

from billing.audit import actor_of
from billing.clock import utcnow
from billing.models import StaffRole, WebhookEventStatus
from billing.services import webhooks
from web.auth import staff_login_required, staff_role_required
from web.extensions import db
from web.forms import ConfirmForm
from web.processor import webhook_url

STATUSES = list(WebhookEventStatus)


@staff_login_required
def webhook_event_list():
    unsafe_status = request.args.get("status") or None
    status = unsafe_status if unsafe_status in STATUSES else None
    page = webhooks.event_page(
        db.session, status=status, older=request.args.get("older"), newer=request.args.get("newer")
    )
    return render_template(
        "admin/webhook_events/list.html",
        page=page,
        status=status,
        statuses=STATUSES,
        form=ConfirmForm(),
        can_replay=current_user.role in (StaffRole.ADMIN, StaffRole.ACCOUNTANT),
        webhook_url=webhook_url(),
    )


@staff_role_required(StaffRole.ADMIN, StaffRole.ACCOUNTANT)
def webhook_event_replay(event_id: int):
    if ConfirmForm().validate_on_submit():
        event = webhooks.replay_event(
            db.session, event_id=event_id, now=utcnow(), actor=actor_of(current_user)
        )
        flash(f"Event {event.processor_event_id} is {event.status} after the replay.", "info")
    return redirect(url_for("admin.webhook_event_list", status=request.args.get("status")))
