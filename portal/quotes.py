"""A customer's quotes in the portal: list, one quote, accept (typing their name) or decline
(saying why). Other accounts' quotes and drafts are 404. Viewers can read but not answer."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user

from billing import quote_queries
from billing.audit import actor_of
from billing.clock import utcnow
from billing.errors import InvalidTransition, ValidationFailed
from billing.models import QuoteStatus
from billing.services import documents, quotes
from portal.quote_forms import QuoteAcceptForm, QuoteDeclineForm, show_errors
from web.auth import CAN_PAY, client_ip, portal_login_required, portal_role_required
from web.extensions import db
from web.responses import pdf_response

PORTAL_STATUSES = [s for s in QuoteStatus if s != QuoteStatus.DRAFT]
ACCEPTED = "Thank you — you accepted quote {number}. We will take it from here."
DECLINED = "You declined quote {number}. Thank you for letting us know."


@portal_login_required
def quote_list():
    unsafe_status = request.args.get("status") or None
    status = unsafe_status if unsafe_status in PORTAL_STATUSES else None
    page = quote_queries.quote_page(
        db.session,
        account_id=current_user.account_id,
        status=status,
        older=request.args.get("older"),
        newer=request.args.get("newer"),
    )
    return render_template(
        "portal/quotes/list.html", page=page, status=status, statuses=PORTAL_STATUSES
    )


def _show(quote_id: int, accept=None, decline=None, status: int = 200):
    detail = quote_queries.portal_quote(
        db.session, quote_id=quote_id, account_id=current_user.account_id
    )
    return render_template(
        "portal/quotes/show.html",
        detail=detail,
        quote=detail.quote,
        accept_form=accept or QuoteAcceptForm(),
        decline_form=decline or QuoteDeclineForm(),
        can_answer=current_user.role in CAN_PAY,
        portal_links=True,
        pdf_url=url_for("portal.quote_pdf", quote_id=quote_id),
        accept_url=url_for("portal.quote_accept", quote_id=quote_id),
        decline_url=url_for("portal.quote_decline", quote_id=quote_id),
    ), status


@portal_login_required
def quote_show(quote_id: int):
    return _show(quote_id)


@portal_role_required(*CAN_PAY)
def quote_accept(quote_id: int):
    form = QuoteAcceptForm()
    if not form.validate_on_submit():
        return _show(quote_id, accept=form, status=422)
    try:
        quote = quotes.accept_quote(
            db.session,
            quote_id=quote_id,
            account_id=current_user.account_id,
            unsafe_name=form.name.data,
            ip=client_ip(),
            now=utcnow(),
            actor=actor_of(current_user),
        )
    except ValidationFailed as exc:
        show_errors(form, exc.errors)
        return _show(quote_id, accept=form, status=422)
    except InvalidTransition as exc:
        flash(str(exc), "error")
        return redirect(url_for("portal.quote_show", quote_id=quote_id))
    flash(ACCEPTED.format(number=quote.number), "success")
    return redirect(url_for("portal.quote_show", quote_id=quote_id))


@portal_role_required(*CAN_PAY)
def quote_decline(quote_id: int):
    form = QuoteDeclineForm()
    if not form.validate_on_submit():
        return _show(quote_id, decline=form, status=422)
    try:
        quote = quotes.decline_quote(
            db.session,
            quote_id=quote_id,
            account_id=current_user.account_id,
            unsafe_reason=form.reason.data,
            ip=client_ip(),
            now=utcnow(),
            actor=actor_of(current_user),
        )
    except ValidationFailed as exc:
        show_errors(form, exc.errors)
        return _show(quote_id, decline=form, status=422)
    except InvalidTransition as exc:
        flash(str(exc), "error")
        return redirect(url_for("portal.quote_show", quote_id=quote_id))
    flash(DECLINED.format(number=quote.number), "success")
    return redirect(url_for("portal.quote_show", quote_id=quote_id))


@portal_login_required
def quote_pdf(quote_id: int):
    filename, data = documents.quote_pdf(
        db.session, quote_id=quote_id, account_id=current_user.account_id
    )
    return pdf_response(filename, data)
