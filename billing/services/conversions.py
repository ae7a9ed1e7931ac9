"""Turning an accepted quote or an order into an invoice: the one path both take.

The invoice is made only through billing.services.invoices (add_draft, then finalize_locked when
asked) and emailed through billing.services.sending (send_locked), so its totals, number, audit
entries and email are exactly those of an invoice typed by staff. Lines are copied as they are
(description, quantity, unit price, catalog product, discounts, and each tax as written) with
the document's discount, so the invoice's totals equal the quote's or the order's.

One transaction: the source row is locked (FOR UPDATE on PostgreSQL; SQLite serialises writers),
then the draft is created, linked to the source, finalized and queued for email when asked, and
everything commits together. Any failure rolls all of it back: there is never a half-made
invoice, a quote marked converted without its invoice, nor an email for an invoice that does not
exist. Two converters racing (a staff click and the auto-convert job) wait on the row lock; the
second finds the source linked and returns its invoice. The unique `invoice_id` columns make a
second link impossible regardless.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from billing import audit
from billing.errors import InvalidTransition, NotFound
from billing.models import Account, Invoice, Order, OrderStatus, Quote, QuoteStatus
from billing.services import invoices as invoice_service
from billing.services import pay_links, sending

Source = Quote | Order


@dataclass(frozen=True)
class LinkSettings:
    """What emailed links are built from (PAYDESK_SECRET_KEY, PAYDESK_BASE_URL and
    PAYDESK_PAY_LINK_DAYS)."""

    secret: str
    base_url: str
    pay_link_days: int = pay_links.DEFAULT_DAYS_AFTER_DUE


def lock_source(session: Session, model: type[Source], source_id: int) -> Source:
    """The quote or order FOR UPDATE, read afresh (populate_existing): the session may hold a
    copy from before another transaction linked it. Raises NotFound."""
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


def _link(session: Session, source: Source, invoice: Invoice, now: datetime, actor: str) -> None:
    source.invoice_id = invoice.id
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
    session.flush()


def _new_draft(
    session: Session,
    source: Source,
    *,
    issue_date: date,
    due_date: date | None,
    now: datetime,
    actor: str,
) -> Invoice:
    kind = "quote" if isinstance(source, Quote) else "order"
    if isinstance(source, Quote):
        lines = invoice_service.copied_lines(source.lines)
        discount = {
            "discount_minor": source.discount_fixed_minor,
            "discount_percent": source.discount_percent,
        }
    else:
        lines = [
            invoice_service.DraftLine(
                line.description, line.quantity, line.unit_amount_minor, line.tax_rate
            )
            for line in source.lines
        ]
        discount = {"discount_minor": source.discount_minor}
    return invoice_service.add_draft(
        session,
        account=session.get(Account, source.account_id),
        lines=lines,
        issue_date=issue_date,
        due_date=due_date,
        memo=source.memo,
        currency=source.currency,
        now=now,
        actor=actor,
        action=f"invoice.created_from_{kind}",
        audit_extra=_origin(source),
        **discount,
    )


def convert_locked(
    session: Session,
    *,
    model: type[Source],
    source_id: int,
    issue_date: date,
    due_date: date | None,
    finalize: bool,
    now: datetime,
    actor: str,
    send: bool = False,
    links: LinkSettings | None = None,
) -> Invoice:
    """`convert_to_invoice` in the caller's transaction (the caller commits, or rolls back on
    any error): locks the source, makes and links its draft, finalizes and sends when asked.
    A source that already has its invoice returns it (finalized or sent now if asked and not
    yet). Raises as convert_to_invoice does."""
    if send and (links is None or not finalize):
        raise ValueError("sending needs `links` and `finalize`")
    source = lock_source(session, model, source_id)
    if source.invoice_id is not None:
        invoice = invoice_service.lock_invoice(session, source.invoice_id)
    else:
        _check_convertible(source)
        invoice = _new_draft(
            session, source, issue_date=issue_date, due_date=due_date, now=now, actor=actor
        )
        _link(session, source, invoice, now, actor)
    if finalize:
        invoice_service.finalize_locked(session, invoice, now=now, actor=actor)
    if send and invoice.sent_at is None:
        sending.send_locked(
            session,
            invoice,
            now=now,
            actor=actor,
            secret=links.secret,
            base_url=links.base_url,
            pay_link_days=links.pay_link_days,
        )
    return invoice


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
) -> Invoice:
    """The invoice for an accepted quote or a pending order: made as a draft with the source's
    lines, linked to it, finalized when `finalize` and emailed when `send` (which needs
    `links` and `finalize`). Without `due_date` the customer's payment terms set it. Returns the
    invoice (refreshed).

    Idempotent: a source that already has its invoice returns it (finalizing it if asked).
    Raises InvalidTransition (a quote that is not accepted), ValidationFailed (the invoice
    service refused the lines), NotFound, or a database error; on any of them nothing is
    written. One transaction: commits once."""
    try:
        invoice = convert_locked(
            session,
            model=type(source),
            source_id=source.id,
            issue_date=issue_date,
            due_date=due_date,
            finalize=finalize,
            now=now,
            actor=actor,
            send=send,
            links=links,
        )
    except Exception:
        session.rollback()
        raise
    session.commit()
    session.refresh(invoice)
    return invoice


def _origin(source: Source) -> dict:
    if isinstance(source, Quote):
        return {"quote_id": source.id, "quote_number": source.number}
    return {"order_id": source.id, "reference": source.reference}
