"""Turning an accepted quote or an order into an invoice: the one path both take.

The invoice is made only through billing.services.invoices (create_draft, then finalize_invoice
when asked), so its totals, number and audit entries are exactly those of an invoice typed by
staff. Lines are copied as they are (description, quantity, unit price, tax rate) with the
document's discount, so the invoice's totals equal the quote's.

Those services commit, so a conversion is several transactions. What keeps it exactly once:
1. claim: lock the quote or order; if it already names its invoice, that is the answer
   (idempotent); if another conversion claimed it less than CLAIM_TIMEOUT ago, raise Conflict;
   else note the claim and commit. Two converters racing (a staff click and the auto-convert
   job) serialise on the row lock, and the second one stands back.
2. create the draft invoice (commits).
3. link: lock the source again, point it at the invoice (a quote becomes converted; the invoice's
   quote_id is set), release the claim, audit both sides, commit. The unique invoice_id columns
   make a second link impossible.
4. finalize (idempotent) when asked; email it (billing.services.sending) when asked, unless it
   was already sent (a resumed conversion does not email twice).
A crash between 2 and 3 leaves an unlinked draft and a claim that lapses after CLAIM_TIMEOUT;
the retry then makes a new draft (staff can delete the stray one). That window is two commits
wide; closing it needs create_draft to write the link in its own transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from billing import audit
from billing.errors import BillingError, Conflict, InvalidTransition, NotFound
from billing.models import Account, Invoice, Order, OrderStatus, Quote, QuoteStatus
from billing.services import invoices as invoice_service
from billing.services import pay_links, sending

CLAIM_TIMEOUT = timedelta(minutes=5)

Source = Quote | Order


@dataclass(frozen=True)
class LinkSettings:
    """What emailed links are built from (PAYDESK_SECRET_KEY, PAYDESK_BASE_URL and
    PAYDESK_PAY_LINK_DAYS)."""

    secret: str
    base_url: str
    pay_link_days: int = pay_links.DEFAULT_DAYS_AFTER_DUE


def _lock(session: Session, model: type[Source], source_id: int) -> Source:
    """The source FOR UPDATE, read afresh (populate_existing): the session may hold a copy
    from before another process claimed or linked it."""
    source = session.scalar(
        select(model)
        .where(model.id == source_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if source is None:
        raise NotFound(f"{model.__tablename__} {source_id}")
    return source


def _check_convertible(source: Source) -> None:
    if isinstance(source, Quote) and source.status != QuoteStatus.ACCEPTED:
        raise InvalidTransition(
            f"Only an accepted quote becomes an invoice; this one is {source.status}."
        )
    if isinstance(source, Order) and source.status != OrderStatus.PENDING:
        raise InvalidTransition("This order already has its invoice.")


def _claim(session: Session, model: type[Source], source_id: int, now: datetime) -> Source:
    source = _lock(session, model, source_id)
    if source.invoice_id is not None:
        session.rollback()
        return source
    try:
        _check_convertible(source)
    except InvalidTransition:
        session.rollback()
        raise
    started = source.conversion_started_at
    if started is not None and now - started < CLAIM_TIMEOUT:
        session.rollback()
        raise Conflict("This is being turned into an invoice right now. Reload in a moment.")
    source.conversion_started_at = now
    session.commit()
    return source


def _release(session: Session, model: type[Source], source_id: int) -> None:
    session.rollback()
    source = _lock(session, model, source_id)
    source.conversion_started_at = None
    session.commit()


def _link(
    session: Session,
    model: type[Source],
    source_id: int,
    invoice: Invoice,
    now: datetime,
    actor: str,
) -> None:
    source = _lock(session, model, source_id)
    source.invoice_id = invoice.id
    source.conversion_started_at = None
    if isinstance(source, Quote):
        source.status = QuoteStatus.CONVERTED
        source.converted_at = now
        invoice.quote_id = source.id
        audit.record(
            session,
            actor=actor,
            action="quote.converted",
            subject=source,
            now=now,
            account_id=source.account_id,
            before={"status": str(QuoteStatus.ACCEPTED)},
            after={"status": str(QuoteStatus.CONVERTED), "invoice_id": invoice.id},
        )
    else:
        audit.record(
            session,
            actor=actor,
            action="order.invoiced",
            subject=source,
            now=now,
            account_id=source.account_id,
            after={"invoice_id": invoice.id},
        )
    session.commit()


def convert_to_invoice(
    session: Session,
    *,
    source: Source,
    issue_date: date,
    due_date: date | None,
    finalize: bool,
    now: datetime,
    actor: str,
    send: bool = False,
    links: LinkSettings | None = None,
    claimed: bool = False,
) -> Invoice:
    """The invoice for an accepted quote or a pending order: made as a draft with the source's
    lines, linked to it, finalized when `finalize` and emailed when `send` (which needs
    `links` and `finalize`). Without `due_date` the customer's payment terms set it. Returns the
    invoice (refreshed).

    `claimed`: the caller wrote the source with its claim already taken (a new order), so
    the claim step is skipped. Idempotent: a source that already has its invoice returns it
    (finalizing it if asked).
    Raises InvalidTransition (a quote that is not accepted), Conflict (another conversion of
    the same source is under way), ValidationFailed from create_draft (nothing is kept and the
    claim is released), NotFound. Commits (several times; see the module docstring)."""
    model, source_id = type(source), source.id
    kind = "quote" if isinstance(source, Quote) else "order"
    claimed = source if claimed else _claim(session, model, source_id, now)
    if claimed.invoice_id is not None:
        invoice = session.get(Invoice, claimed.invoice_id)
    else:
        account = session.get(Account, claimed.account_id)
        lines = [
            invoice_service.DraftLine(
                line.description, line.quantity, line.unit_amount_minor, line.tax_rate
            )
            for line in claimed.lines
        ]
        try:
            invoice = invoice_service.create_draft(
                session,
                account=account,
                lines=lines,
                issue_date=issue_date,
                due_date=due_date,
                discount_minor=claimed.discount_minor,
                memo=claimed.memo,
                currency=claimed.currency,
                now=now,
                actor=actor,
                action=f"invoice.created_from_{kind}",
                audit_extra=_origin(claimed),
            )
        except BillingError:
            _release(session, model, source_id)
            raise
        _link(session, model, source_id, invoice, now, actor)
    if finalize:
        invoice = invoice_service.finalize_invoice(
            session, invoice_id=invoice.id, now=now, actor=actor
        )
    if send and invoice.sent_at is None:
        sending.send_invoice(
            session,
            invoice_id=invoice.id,
            now=now,
            actor=actor,
            secret=links.secret,
            base_url=links.base_url,
            pay_link_days=links.pay_link_days,
        )
    session.refresh(invoice)
    return invoice


def _origin(source: Source) -> dict:
    if isinstance(source, Quote):
        return {"quote_id": source.id, "quote_number": source.number}
    return {"order_id": source.id, "reference": source.reference}
