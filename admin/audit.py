"""The global audit log: every change to money or status by staff, customers, the API and jobs,
newest first, filtered by actor, action, subject, customer and date range."""

from __future__ import annotations

from flask import render_template, request

from admin.lists import parse_day
from billing import admin_lists
from web.auth import staff_login_required
from web.extensions import db


def _int(name: str) -> int | None:
    text = (request.args.get(name) or "").strip()
    return int(text) if text.isdigit() and len(text) < 15 else None


@staff_login_required
def audit_list():
    args = request.args
    errors: dict[str, str] = {}
    subject_types = admin_lists.audit_subject_types(db.session)
    subject_type = args.get("subject_type") or None
    filters = admin_lists.AuditFilters(
        actor=(args.get("actor") or "").strip()[:64] or None,
        action=(args.get("action") or "").strip()[:64] or None,
        subject_type=subject_type if subject_type in subject_types else None,
        subject_id=_int("subject_id"),
        account_id=_int("customer"),
        date_from=parse_day("from", errors),
        date_to=parse_day("to", errors),
    )
    page = admin_lists.audit_list(
        db.session, filters, older=args.get("older"), newer=args.get("newer")
    )
    query = {
        "actor": filters.actor,
        "action": filters.action,
        "subject_type": filters.subject_type,
        "subject_id": filters.subject_id,
        "customer": filters.account_id,
        "from": args.get("from") if filters.date_from else None,
        "to": args.get("to") if filters.date_to else None,
    }
    return render_template(
        "admin/audit/list.html",
        page=page,
        filters=filters,
        filter_errors=errors,
        subject_types=subject_types,
        args={k: v for k, v in query.items() if v},
    )
