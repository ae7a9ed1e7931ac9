"""The quote lifecycle: staff create a draft and send it; the customer accepts or declines it
(in the portal or through the emailed link); a job expires quotes past their expiry date; an
accepted quote becomes an invoice (staff click, or at once per the company's setting).

Each public function is one transaction (conversion excepted: see billing/services/conversions)
and audits every status change. Status moves go through `_move`, which allows only
QUOTE_TRANSITIONS and treats a move to the current status as a no-op. Rows are locked
(FOR UPDATE on PostgreSQL) before they change, so a quote accepted twice at once is accepted once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from billing import audit, outbox
from billing.errors import InvalidTransition, NotFound, ValidationFailed
from billing.formatting import format_day
from billing.models import (
    QUOTE_TRANSITIONS,
    Account,
    CompanySettings,
    Invoice,
    Quote,
    QuoteConversion,
    QuoteLine,
    QuoteLineTax,
    QuoteStatus,
)
from billing.services import conversions, emails, quote_links
from billing.services.invoices import (
    CheckedDocument,
    DraftLine,
    build_lines,
    check_document,
    next_number,
)

SERIES = "Q"
MAX_NAME = 200
MAX_REASON = 2000
SYSTEM = "system"
LinkSettings = conversions.LinkSettings


def _snapshot(quote: Quote) -> dict[str, Any]:
    return {"status": str(quote.status), "total_minor": quote.total_minor}


def _move(quote: Quote, to: QuoteStatus) -> bool:
    """Apply a status move; False when already there; InvalidTransition when not allowed."""
    if quote.status == to:
        return False
    if to not in QUOTE_TRANSITIONS[QuoteStatus(quote.status)]:
        raise InvalidTransition(f"A {quote.status} quote cannot become {to}.")
    quote.status = to
    return True


def _lock(session: Session, quote_id: int, account_id: int | None = None) -> Quote:
    """The quote FOR UPDATE. With `account_id` (a customer), drafts and other accounts' quotes
    are NotFound."""
    quote = None
    if 0 < quote_id < 2**63:
        quote = session.scalar(
            select(Quote)
            .where(Quote.id == quote_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    if quote is None or (
        account_id is not None
        and (quote.account_id != account_id or quote.status == QuoteStatus.DRAFT)
    ):
        session.rollback()
        raise NotFound(f"quote {quote_id}")
    return quote


def _clean(text: str | None) -> str:
    return str(text or "").replace("\r\n", "\n").replace("\r", "\n").strip()


@dataclass(frozen=True)
class QuoteTerms:
    """What staff type for a quote: the customer, lines (from the catalog or free-form, each
    with its taxes and discount, as on an invoice), dates, the quote discount (an amount or a
    percent), notes and currency."""

    account_id: int
    lines: list[DraftLine]
    issue_date: date
    expiry_date: date
    discount_minor: int = 0
    memo: str = ""
    currency: str | None = None
    discount_percent: Decimal | None = None


def _check(session: Session, terms: QuoteTerms) -> tuple[Account, str, CheckedDocument]:
    """(customer, memo, checked lines and totals) of valid terms, by the rules invoices follow
    (billing.services.invoices.check_document), so that accepting a quote never yields an
    invoice the invoice service would refuse. Raises NotFound (no such customer) or
    ValidationFailed with every problem ({field: message}, lines as `lines-2-quantity`)."""
    account = session.get(Account, terms.account_id) if 0 < terms.account_id < 2**63 else None
    if account is None:
        raise NotFound(f"account {terms.account_id}")
    memo = _clean(terms.memo)
    errors = {}
    if terms.expiry_date < terms.issue_date:
        errors["expiry_date"] = "The quote cannot expire before it is issued."
    checked = check_document(
        session,
        account=account,
        lines=terms.lines,
        currency=terms.currency,
        discount_minor=terms.discount_minor,
        discount_percent=terms.discount_percent,
        memo=memo,
        errors=errors,
        kind="quote",
    )
    return account, memo, checked


def _apply(quote: Quote, terms: QuoteTerms, memo: str, checked: CheckedDocument) -> None:
    totals = checked.totals
    quote.account_id = terms.account_id
    quote.currency = checked.currency
    quote.issue_date = terms.issue_date
    quote.expiry_date = terms.expiry_date
    quote.subtotal_minor = totals.subtotal_minor
    quote.discount_minor = totals.discount_minor
    quote.tax_minor = totals.tax_minor
    quote.tax_inclusive_minor = totals.tax_inclusive_minor
    quote.total_minor = totals.total_minor
    quote.discount_percent = terms.discount_percent
    quote.discount_fixed_minor = terms.discount_minor
    quote.memo = memo
    quote.lines = build_lines(terms.lines, checked, QuoteLine, QuoteLineTax)


def create_quote(session: Session, *, terms: QuoteTerms, now: datetime, actor: str) -> Quote:
    """A draft quote with totals computed by billing.totals (the same rules as invoices).

    Raises NotFound (no such customer) and ValidationFailed ({field: message}, lines as
    `lines[i].quantity`), writing nothing. Commits."""
    account, memo, checked = _check(session, terms)
    quote = Quote(status=QuoteStatus.DRAFT, created_at=now)
    _apply(quote, terms, memo, checked)
    session.add(quote)
    audit.record(
        session,
        actor=actor,
        action="quote.created",
        subject=quote,
        now=now,
        account_id=account.id,
        after=_snapshot(quote),
    )
    session.commit()
    return quote


def update_quote(
    session: Session, *, quote_id: int, terms: QuoteTerms, now: datetime, actor: str
) -> Quote:
    """Replace a draft's customer, lines and terms (totals recomputed). Raises InvalidTransition
    once it was sent (what the customer saw stays as it was), ValidationFailed, NotFound.
    Commits with an audit entry."""
    account, memo, checked = _check(session, terms)
    quote = _lock(session, quote_id)
    if quote.status != QuoteStatus.DRAFT:
        session.rollback()
        raise InvalidTransition("Only a draft quote can be changed; this one was sent.")
    before = _snapshot(quote) | {"lines": len(quote.lines), "account_id": quote.account_id}
    quote.lines.clear()
    session.flush()  # the old lines go before the new ones take their positions
    _apply(quote, terms, memo, checked)
    audit.record(
        session,
        actor=actor,
        action="quote.updated",
        subject=quote,
        now=now,
        account_id=account.id,
        before=before,
        after=_snapshot(quote) | {"lines": len(terms.lines), "account_id": account.id},
    )
    session.commit()
    return quote


def send_quote(
    session: Session, *, quote_id: int, links: LinkSettings, now: datetime, actor: str
) -> Quote:
    """Email the quote to the customer with its PDF and its link. A draft is numbered
    (Q-2026-0001) and becomes sent; a sent quote is emailed again (a reminder). Raises
    InvalidTransition for a quote the customer already answered, ValidationFailed when its
    expiry date has passed, NotFound. Commits (the email is dispatched after the commit)."""
    quote = _lock(session, quote_id)
    if quote.status not in (QuoteStatus.DRAFT, QuoteStatus.SENT):
        session.rollback()
        raise InvalidTransition(f"A {quote.status} quote cannot be sent again.")
    if quote.is_past_expiry(now.date()):
        session.rollback()
        raise ValidationFailed(
            {"expiry_date": "This quote's expiry date has passed; it can no longer be sent."}
        )
    before = _snapshot(quote)
    first = quote.status == QuoteStatus.DRAFT
    if first:
        quote.number = next_number(session, SERIES, quote.issue_date.year)
        _move(quote, QuoteStatus.SENT)
        quote.sent_at = now
        quote_links.issue_link(quote, secret=links.secret)
    account = session.get(Account, quote.account_id)
    company = session.scalar(select(CompanySettings).order_by(CompanySettings.id).limit(1))
    emails.queue_email(
        session,
        to=account.billing_email,
        cc=account.cc_addresses,
        template="quote",
        context={
            "quote": quote,
            "account": account,
            "company_name": company.name if company else "",
            "total": quote.total_minor,
            "expiry": format_day(quote.expiry_date, account.locale),
            "link": quote_links.link_url(quote, secret=links.secret, base_url=links.base_url),
            "locale": account.locale,
        },
        now=now,
        account_id=account.id,
        attachments=[{"kind": "quote_pdf", "id": quote.id}],
    )
    audit.record(
        session,
        actor=actor,
        action="quote.sent" if first else "quote.resent",
        subject=quote,
        now=now,
        account_id=quote.account_id,
        before=before if first else None,
        after=_snapshot(quote) | {"number": quote.number, "to": account.billing_email},
    )
    session.commit()
    return quote


def _check_answerable(quote: Quote, today: date) -> None:
    """Raise InvalidTransition with a message for the customer unless the quote awaits them."""
    if quote.status in (QuoteStatus.ACCEPTED, QuoteStatus.CONVERTED):
        when = format_day(quote.responded_at.date()) if quote.responded_at else "earlier"
        raise InvalidTransition(f"This quote was already accepted ({when}).")
    if quote.status == QuoteStatus.DECLINED:
        raise InvalidTransition("This quote was declined and can no longer be answered.")
    if quote.status == QuoteStatus.EXPIRED or quote.is_past_expiry(today):
        raise InvalidTransition(
            f"This quote expired on {format_day(quote.expiry_date)} and can no longer be "
            "accepted. Please ask us for a new one."
        )


def accept_quote(
    session: Session,
    *,
    quote_id: int,
    account_id: int | None,
    unsafe_name: str,
    ip: str,
    now: datetime,
    actor: str,
) -> Quote:
    """The customer accepts: their typed name, the time and their IP are recorded. `account_id`
    scopes the look-up to the signed-in customer (None for the emailed link, which already
    proved access). Per the company's setting, the accepted quote is then turned into a draft
    or finalized invoice by the convert_quote job (after commit).

    Raises ValidationFailed ({"name": …}) without a name, InvalidTransition when the quote was
    already answered or has expired (a second acceptance is refused), NotFound. Commits."""
    name = _clean(unsafe_name)
    quote = _lock(session, quote_id, account_id)
    try:
        _check_answerable(quote, now.date())
        if not name:
            raise ValidationFailed({"name": "Type your full name to accept the quote."})
        if len(name) > MAX_NAME:
            raise ValidationFailed({"name": f"Use at most {MAX_NAME} characters."})
    except (InvalidTransition, ValidationFailed):
        session.rollback()
        raise
    before = _snapshot(quote)
    _move(quote, QuoteStatus.ACCEPTED)
    quote.accepted_name = name
    quote.responded_ip = ip[:45]
    quote.responded_at = now
    company = session.scalar(select(CompanySettings).order_by(CompanySettings.id).limit(1))
    setting = QuoteConversion(company.quote_auto_convert) if company else QuoteConversion.OFF
    quote.auto_convert = None if setting == QuoteConversion.OFF else setting
    audit.record(
        session,
        actor=actor,
        action="quote.accepted",
        subject=quote,
        now=now,
        account_id=quote.account_id,
        before=before,
        after=_snapshot(quote) | {"accepted_name": name, "ip": quote.responded_ip},
    )
    if quote.auto_convert is not None:
        outbox.defer(session, "convert_quote", quote_id=quote.id)
    session.commit()
    return quote


def decline_quote(
    session: Session,
    *,
    quote_id: int,
    account_id: int | None,
    unsafe_reason: str,
    ip: str,
    now: datetime,
    actor: str,
) -> Quote:
    """The customer declines, saying why. Raises ValidationFailed ({"reason": …}) without a
    reason, InvalidTransition when the quote was already answered or has expired, NotFound.
    Commits."""
    reason = _clean(unsafe_reason)
    quote = _lock(session, quote_id, account_id)
    try:
        _check_answerable(quote, now.date())
        if not reason:
            raise ValidationFailed({"reason": "Tell us why, so we can make a better offer."})
        if len(reason) > MAX_REASON:
            raise ValidationFailed({"reason": f"Use at most {MAX_REASON:,} characters."})
    except (InvalidTransition, ValidationFailed):
        session.rollback()
        raise
    before = _snapshot(quote)
    _move(quote, QuoteStatus.DECLINED)
    quote.decline_reason = reason
    quote.responded_ip = ip[:45]
    quote.responded_at = now
    audit.record(
        session,
        actor=actor,
        action="quote.declined",
        subject=quote,
        now=now,
        account_id=quote.account_id,
        before=before,
        after=_snapshot(quote) | {"reason": reason, "ip": quote.responded_ip},
    )
    session.commit()
    return quote


def expire_quotes(session: Session, *, today: date, now: datetime, limit: int = 500) -> list[int]:
    """Move sent quotes whose expiry date is before `today` to expired (actor "system"); returns
    their ids. Idempotent: an expired quote is not sent any more, so a second run finds
    nothing. Commits."""
    due = list(
        session.scalars(
            select(Quote.id)
            .where(Quote.status == QuoteStatus.SENT, Quote.expiry_date < today)
            .order_by(Quote.id)
            .limit(limit)
        )
    )
    expired = []
    for quote_id in due:
        quote = session.scalar(
            select(Quote)
            .where(Quote.id == quote_id)
            .with_for_update(skip_locked=True)
            .execution_options(populate_existing=True)
        )
        if quote is None or quote.status != QuoteStatus.SENT or not quote.is_past_expiry(today):
            continue
        before = _snapshot(quote)
        _move(quote, QuoteStatus.EXPIRED)
        quote.expired_at = now
        audit.record(
            session,
            actor=SYSTEM,
            action="quote.expired",
            subject=quote,
            now=now,
            account_id=quote.account_id,
            before=before,
            after=_snapshot(quote),
        )
        expired.append(quote_id)
    session.commit()
    return expired


def convert_quote(
    session: Session,
    *,
    quote_id: int,
    mode: QuoteConversion,
    now: datetime,
    actor: str,
) -> Invoice:
    """Turn an accepted quote into a draft (mode DRAFT) or finalized (mode FINALIZE) invoice,
    lines copied and both documents linked; the invoice is issued today and falls due per
    the customer's payment terms. Idempotent: a converted quote returns its invoice.
    Raises InvalidTransition (not accepted), NotFound, ValidationFailed (the invoice service
    refused it); nothing is written then. One transaction (billing/services/conversions)."""
    if mode == QuoteConversion.OFF:
        raise ValidationFailed({"mode": "Choose a draft or a finalized invoice."})
    quote = session.get(Quote, quote_id)
    if quote is None:
        raise NotFound(f"quote {quote_id}")
    today = now.date()
    return conversions.convert_to_invoice(
        session,
        source=quote,
        issue_date=today,
        due_date=None,
        finalize=mode == QuoteConversion.FINALIZE,
        now=now,
        actor=actor,
    )


def convert_accepted_quote(session: Session, *, quote_id: int, now: datetime) -> int | None:
    """The auto-convert job's service: convert a quote accepted while the company setting asked
    for it, as "system"; returns the invoice id (None when there is nothing to do).

    Safe to run twice: a converted quote is left alone, and a run racing another waits for it
    on the quote's row lock, then finds the quote converted."""
    quote = session.get(Quote, quote_id)
    if quote is None or quote.auto_convert is None:
        session.rollback()
        return None
    if quote.status == QuoteStatus.CONVERTED:
        invoice_id = quote.invoice_id
        session.rollback()
        return invoice_id
    if quote.status != QuoteStatus.ACCEPTED:
        session.rollback()
        return None
    invoice = convert_quote(
        session,
        quote_id=quote_id,
        mode=QuoteConversion(quote.auto_convert),
        now=now,
        actor=SYSTEM,
    )
    return invoice.id


def pending_auto_conversions(
    session: Session, *, accepted_before: datetime, limit: int = 500
) -> list[int]:
    """Quotes accepted before `accepted_before` and still waiting for their automatic
    conversion (for the sweeper). Read-only."""
    return list(
        session.scalars(
            select(Quote.id)
            .where(
                Quote.status == QuoteStatus.ACCEPTED,
                Quote.auto_convert.is_not(None),
                Quote.responded_at < accepted_before,
            )
            .order_by(Quote.id)
            .limit(limit)
        )
    )
