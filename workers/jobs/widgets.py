"""Pay Now widget upkeep: invoices made for widget payments that then failed are voided."""

from __future__ import annotations

from billing.clock import utcnow
from billing.services import widgets
from workers import runtime


def void_unpaid_widget_invoices_job() -> int:
    """Void the open, unpaid invoices of widget payments that failed or were canceled (3-D
    Secure abandoned, canceled by reconciliation); returns how many. Safe to run twice: a
    voided invoice is not found again, and a paid one is never voided."""
    with runtime.session() as session:
        return widgets.void_unpaid_widget_invoices(session, now=utcnow())
