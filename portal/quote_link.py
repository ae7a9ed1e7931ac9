"""The public quote pages at /quote/<token>: no sign-in, one quote only.

GET shows the quote and changes nothing (mail scanners open links too); accepting and declining
are POSTs. Unknown tokens answer 410 and count toward the per-IP limit (429 past it). The page
never links into the account.
"""

from __future__ import annotations

from flask import flash, redirect, render_template, url_for

from billing import quote_queries
from billing.clock import utcnow
from billing.errors import InvalidTransition, RateLimited, TokenInvalid, ValidationFailed
from billing.services import documents, quote_links, quotes
from portal.quote_forms import QuoteAcceptForm, QuoteDeclineForm, show_errors
from portal.quotes import ACCEPTED, DECLINED
from web.auth import client_ip, limits
from web.extensions import db
from web.responses import pdf_response

LINK_ERRORS = (TokenInvalid, RateLimited)


def _invalid(exc: Exception):
    status = 429 if isinstance(exc, RateLimited) else 410
    return render_template("quote_link/invalid.html", message=str(exc)), status


def _quote(token: str):
    return quote_links.quote_for_token(
        db.session, token=token, ip=client_ip(), now=utcnow(), limits=limits()
    )


def _show(token: str, quote, accept=None, decline=None, status: int = 200):
    return render_template(
        "quote_link/show.html",
        detail=quote_queries.customer_quote(db.session, quote=quote),
        quote=quote,
        accept_form=accept or QuoteAcceptForm(),
        decline_form=decline or QuoteDeclineForm(),
        can_answer=True,
        accept_url=url_for("portal.quote_link_accept", token=token),
        decline_url=url_for("portal.quote_link_decline", token=token),
        pdf_url=url_for("portal.quote_link_pdf", token=token),
    ), status


def quote_link_show(token: str):
    try:
        quote = _quote(token)
    except LINK_ERRORS as exc:
        return _invalid(exc)
    return _show(token, quote)


def quote_link_pdf(token: str):
    try:
        quote = _quote(token)
    except LINK_ERRORS as exc:
        return _invalid(exc)
    filename, data = documents.quote_pdf(db.session, quote_id=quote.id, account_id=None)
    return pdf_response(filename, data)


def _answer(token: str, form, answer, message: str, *, accepting: bool):
    try:
        quote = _quote(token)
    except LINK_ERRORS as exc:
        return _invalid(exc)
    forms = {"accept": form} if accepting else {"decline": form}
    if not form.validate_on_submit():
        return _show(token, quote, status=422, **forms)
    try:
        answered = answer(quote)
    except ValidationFailed as exc:
        show_errors(form, exc.errors)
        return _show(token, quote, status=422, **forms)
    except InvalidTransition as exc:
        flash(str(exc), "error")
        return redirect(url_for("portal.quote_link_show", token=token))
    flash(message.format(number=answered.number), "success")
    return redirect(url_for("portal.quote_link_show", token=token))


def quote_link_accept(token: str):
    form = QuoteAcceptForm()
    return _answer(
        token,
        form,
        lambda quote: quotes.accept_quote(
            db.session,
            quote_id=quote.id,
            account_id=None,
            unsafe_name=form.name.data,
            ip=client_ip(),
            now=utcnow(),
            actor=f"quote_link:{quote.id}",
        ),
        ACCEPTED,
        accepting=True,
    )


def quote_link_decline(token: str):
    form = QuoteDeclineForm()
    return _answer(
        token,
        form,
        lambda quote: quotes.decline_quote(
            db.session,
            quote_id=quote.id,
            account_id=None,
            unsafe_reason=form.reason.data,
            ip=client_ip(),
            now=utcnow(),
            actor=f"quote_link:{quote.id}",
        ),
        DECLINED,
        accepting=False,
    )
