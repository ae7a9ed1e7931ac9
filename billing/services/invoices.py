"""Invoice lifecycle: create, edit, duplicate and delete drafts (totals computed by
billing/totals.py), finalize (gap-free numbering), void, mark uncollectible, and the rules for
which action each status allows. Each public function is one transaction and writes an audit
entry.

Status moves go through `_move`, which allows only TRANSITIONS and treats a move to the current
status as a no-op; callers hold the row lock (`lock_invoice`). Financial fields are computed only
while the invoice is a draft: `update_draft` refuses anything else (InvalidTransition), so a
finalized invoice's amounts change only through payments, refunds and credit notes.

Input limits keep every amount far inside the database's BIGINT range and refuse what no real
invoice holds (a quantity of ten million, a thousand lines, a megabyte of memo). Errors name
the field the way the admin form does (`lines-2-quantity`), so they show beside it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from billing import audit
from billing.errors import InvalidTransition, NotFound, ValidationFailed
from billing.models import (
    TRANSITIONS,
    Account,
    CreditNote,
    Invoice,
    InvoiceLine,
    InvoiceLineTax,
    InvoiceStatus,
    NumberSequence,
    Product,
    TaxRate,
)
from billing.money import check_currency
from billing.services import credit as credit_service
from billing.totals import InvoiceTotals, LineInput, TaxInput, compute_totals

MAX_LINES = 200
MAX_TAXES_PER_LINE = 5
MAX_DESCRIPTION = 500
MAX_MEMO = 5000
MAX_FOOTER = 2000
MAX_QUANTITY = Decimal(1_000_000)
MAX_UNIT_MINOR = 10**10  # a hundred million in a two-decimal currency, per unit
MAX_TOTAL_MINOR = 10**15
MAX_NET_DAYS = 3650
QUANTITY_PLACES = 4  # NUMERIC(18, 4)
PERCENT_PLACES = 4  # NUMERIC(7, 4)
LEGACY_TAX_NAME = "Tax"

# The actions staff can take on an invoice, by status (see `allowed_actions`).
EDIT, FINALIZE, DELETE, DUPLICATE, SEND, VOID, UNCOLLECTIBLE, CREDIT = (
    "edit",
    "finalize",
    "delete",
    "duplicate",
    "send",
    "void",
    "uncollectible",
    "credit",
)


@dataclass(frozen=True)
class DraftTax:
    """A tax given by name and percentage rather than looked up in the catalog: typed in, or
    copied from another document (which keeps its catalog rate's id as a link)."""

    name: str
    percentage: Decimal
    inclusive: bool = False
    tax_rate_id: int | None = None


@dataclass(frozen=True)
class DraftLine:
    """One line of a draft. Only the first three fields are required; the rest are optional.

    `tax_rate` is one exclusive tax in percent (named "Tax"); `tax_rate_ids` pick tax rates from
    the catalog (each inclusive or exclusive as defined there); `taxes` gives more by name. A line
    discount is a percent OR an amount (`discount_amount_minor`). `product_id` links the catalog
    product the line was picked from (for reports); the line keeps its own description and price.
    """

    description: str
    quantity: Decimal
    unit_amount_minor: int
    tax_rate: Decimal = Decimal(0)
    product_id: int | None = None
    tax_rate_ids: tuple[int, ...] = ()
    taxes: tuple[DraftTax, ...] = field(default=())
    discount_percent: Decimal | None = None
    discount_amount_minor: int = 0


@dataclass(frozen=True)
class _Tax:
    tax_rate_id: int | None
    name: str
    percentage: Decimal
    inclusive: bool


def _snapshot(invoice: Invoice) -> dict:
    return {
        "status": str(invoice.status),
        "total_minor": invoice.total_minor,
        "amount_paid_minor": invoice.amount_paid_minor,
        "amount_due_minor": invoice.amount_due_minor,
    }


def _draft_snapshot(invoice: Invoice) -> dict:
    """What staff can change on a draft, for the audit trail's before/after."""
    return {
        "currency": invoice.currency,
        "issue_date": invoice.issue_date.isoformat(),
        "due_date": invoice.due_date.isoformat(),
        "net_days": invoice.net_days,
        "lines": len(invoice.lines),
        "subtotal_minor": invoice.subtotal_minor,
        "discount_minor": invoice.discount_minor,
        "tax_minor": invoice.tax_minor,
        "total_minor": invoice.total_minor,
        "memo": (invoice.memo or "")[:200],
        "footer": (invoice.footer or "")[:200],
    }


def lock_invoice(session: Session, invoice_id: int) -> Invoice:
    """Load an invoice FOR UPDATE (PostgreSQL; SQLite serialises writers anyway). The row is
    read afresh even if the session already holds the invoice (populate_existing): a copy
    loaded before the lock may be stale, and writing from it would lose another's update."""
    invoice = session.scalar(
        select(Invoice)
        .where(Invoice.id == invoice_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if invoice is None:
        raise NotFound(f"invoice {invoice_id}")
    return invoice


def _places(value: Decimal) -> int:
    exponent = value.normalize().as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


def _check_percent(value: Decimal | None) -> str | None:
    if value is None:
        return None
    if not value.is_finite() or not 0 <= value <= 100:
        return "A percentage must be between 0 and 100."
    if _places(value) > PERCENT_PLACES:
        return f"Use at most {PERCENT_PLACES} decimal places."
    return None


def line_problems(line: DraftLine) -> dict[str, str]:
    """{field: message} for each problem of one line of an invoice, quote or order, the fields
    named as DraftLine's: description, quantity, unit_amount_minor, discount, tax_rate (which
    covers all of the line's taxes). Pure."""
    problems: dict[str, str] = {}
    description = (line.description or "").strip()
    if not description:
        problems["description"] = "Describe what this line is for."
    elif len(description) > MAX_DESCRIPTION:
        problems["description"] = f"Use at most {MAX_DESCRIPTION} characters."
    quantity = line.quantity
    if not isinstance(quantity, Decimal) or not quantity.is_finite() or quantity <= 0:
        problems["quantity"] = "The quantity must be more than zero."
    elif quantity > MAX_QUANTITY:
        problems["quantity"] = f"The quantity can be at most {MAX_QUANTITY:,}."
    elif _places(quantity) > QUANTITY_PLACES:
        problems["quantity"] = f"Use at most {QUANTITY_PLACES} decimal places."
    if line.unit_amount_minor < 0:
        problems["unit_amount_minor"] = "The unit price cannot be negative."
    elif line.unit_amount_minor > MAX_UNIT_MINOR:
        problems["unit_amount_minor"] = "The unit price is too large."
    if line.discount_percent is not None and line.discount_amount_minor:
        problems["discount"] = "Give the discount as a percent or as an amount, not both."
    elif message := _check_percent(line.discount_percent):
        problems["discount"] = message
    elif line.discount_amount_minor < 0:
        problems["discount"] = "A discount cannot be negative."
    taxes = len(line.tax_rate_ids) + len(line.taxes) + (1 if line.tax_rate else 0)
    if taxes > MAX_TAXES_PER_LINE:
        problems["tax_rate"] = f"A line has at most {MAX_TAXES_PER_LINE} taxes."
    elif len(set(line.tax_rate_ids)) != len(line.tax_rate_ids):
        problems["tax_rate"] = "Each tax can apply to a line once."
    elif message := _check_percent(line.tax_rate) or next(
        (m for t in line.taxes if (m := _check_percent(t.percentage))), None
    ):
        problems["tax_rate"] = message
    return problems


# line_problems' fields as the invoice and quote editors name them (`lines-2-unit_price`).
_EDITOR_FIELDS = {"unit_amount_minor": "unit_price", "tax_rate": "taxes"}


def check_line(i: int, line: DraftLine, errors: dict[str, str]) -> None:
    """Add line `i`'s problems to `errors` under the editors' field names, keeping a message
    already there (the editor's own, for a value it could not read). Pure."""
    for name, message in line_problems(line).items():
        errors.setdefault(f"lines-{i}-{_EDITOR_FIELDS.get(name, name)}", message)


def _resolve_taxes(
    session: Session, lines: list[DraftLine], errors: dict[str, str]
) -> list[list[_Tax]]:
    """Each line's taxes, catalog rates looked up in one query; unknown ids are errors."""
    ids = {id_ for line in lines for id_ in line.tax_rate_ids}
    rates = {rate.id: rate for rate in session.scalars(select(TaxRate).where(TaxRate.id.in_(ids)))}
    resolved = []
    for i, line in enumerate(lines):
        taxes = [_Tax(None, LEGACY_TAX_NAME, line.tax_rate, False)] if line.tax_rate else []
        for id_ in line.tax_rate_ids:
            rate = rates.get(id_)
            if rate is None:
                errors[f"lines-{i}-taxes"] = "Choose tax rates from the list."
                continue
            taxes.append(_Tax(rate.id, rate.name, rate.percentage, rate.is_inclusive))
        taxes += [
            _Tax(
                t.tax_rate_id, (t.name or LEGACY_TAX_NAME).strip()[:100], t.percentage, t.inclusive
            )
            for t in line.taxes
        ]
        resolved.append(taxes)
    return resolved


def _check_products(session: Session, lines: list[DraftLine], errors: dict[str, str]) -> None:
    ids = {line.product_id for line in lines if line.product_id is not None}
    if not ids:
        return
    known = set(session.scalars(select(Product.id).where(Product.id.in_(ids))))
    for i, line in enumerate(lines):
        if line.product_id is not None and line.product_id not in known:
            errors[f"lines-{i}-product"] = "Choose a product from the catalog."


@dataclass(frozen=True)
class CheckedDocument:
    """Lines, taxes and totals of an invoice or quote that passed every check."""

    currency: str
    taxes: list[list[_Tax]]
    totals: InvoiceTotals


@dataclass(frozen=True)
class _Checked(CheckedDocument):
    due_date: date | None = None
    net_days: int | None = None


def check_document(
    session: Session,
    *,
    account: Account,
    lines: list[DraftLine],
    currency: str | None,
    discount_minor: int,
    discount_percent: Decimal | None,
    memo: str,
    errors: dict[str, str] | None = None,
    kind: str = "invoice",
) -> CheckedDocument:
    """What every invoice and quote must satisfy (currency, lines, catalog products and taxes,
    discounts, memo, a total in range) and its totals (billing/totals.py). `errors` found by the
    caller (its dates, say) are reported with these, all at once. Pure but for reading the
    catalog; raises ValidationFailed ({field: message}, lines as `lines-2-quantity`)."""
    errors = dict(errors or {})
    try:
        currency = check_currency(currency or account.currency)
    except ValueError:
        errors["currency"] = "Choose a currency by its ISO 4217 code, such as USD or EUR."
    if not lines:
        errors["lines"] = "Add at least one line."
    elif len(lines) > MAX_LINES:
        errors["lines"] = f"Use at most {MAX_LINES} lines."
        lines = []
    for i, line in enumerate(lines):
        check_line(i, line, errors)
    taxes = _resolve_taxes(session, lines, errors)
    _check_products(session, lines, errors)
    if discount_percent is not None and discount_minor:
        errors["discount"] = "Give the discount as a percent or as an amount, not both."
    elif message := _check_percent(discount_percent):
        errors["discount"] = message
    elif discount_minor < 0:
        errors["discount"] = "A discount cannot be negative."
    elif discount_minor > MAX_TOTAL_MINOR:
        errors["discount"] = "The discount is too large."
    if len(memo) > MAX_MEMO:
        errors["memo"] = f"Use at most {MAX_MEMO:,} characters."
    totals = None
    if not errors:
        inputs = [
            LineInput(
                line.quantity,
                line.unit_amount_minor,
                taxes=tuple(TaxInput(t.percentage, t.inclusive) for t in line_taxes),
                discount_percent=line.discount_percent,
                discount_amount_minor=line.discount_amount_minor,
            )
            for line, line_taxes in zip(lines, taxes, strict=True)
        ]
        try:
            totals = compute_totals(inputs, discount_minor, discount_percent)
            lines_net = compute_totals(inputs) if discount_minor else totals
        except ValueError as exc:
            errors["lines"] = str(exc).capitalize() + "."
        else:
            if discount_minor > lines_net.subtotal_minor - lines_net.discount_minor:
                errors["discount"] = "The discount cannot be more than the lines come to."
            elif totals.total_minor > MAX_TOTAL_MINOR:
                errors["lines"] = f"The {kind} total is too large."
    if errors:
        raise ValidationFailed(errors)
    return CheckedDocument(currency, taxes, totals)


def _check_draft(
    session: Session,
    *,
    account: Account,
    lines: list[DraftLine],
    currency: str | None,
    issue_date: date,
    due_date: date | None,
    net_days: int | None,
    discount_minor: int,
    discount_percent: Decimal | None,
    memo: str,
    footer: str,
) -> _Checked:
    """Everything a draft invoice must satisfy, all errors at once; raises ValidationFailed."""
    errors: dict[str, str] = {}
    if net_days is not None and not 0 <= net_days <= MAX_NET_DAYS:
        errors["net_days"] = f"Net days must be between 0 and {MAX_NET_DAYS}."
    elif net_days is None and due_date is None:
        net_days = account.payment_terms_days
    if net_days is not None and "net_days" not in errors:
        due_date = issue_date + timedelta(days=net_days)
    if due_date is not None and due_date < issue_date:
        errors["due_date"] = "The due date cannot be before the issue date."
    if len(footer) > MAX_FOOTER:
        errors["footer"] = f"Use at most {MAX_FOOTER:,} characters."
    checked = check_document(
        session,
        account=account,
        lines=lines,
        currency=currency,
        discount_minor=discount_minor,
        discount_percent=discount_percent,
        memo=memo,
        errors=errors,
    )
    return _Checked(checked.currency, checked.taxes, checked.totals, due_date, net_days)


def build_lines(lines: list[DraftLine], checked: CheckedDocument, line_model, tax_model) -> list:
    """The rows of `line_model` (InvoiceLine or QuoteLine), each with its `tax_model` rows, for
    checked `lines`: what staff gave and the amounts billing/totals.py computed."""
    built = []
    for i, (line, taxes, line_totals) in enumerate(
        zip(lines, checked.taxes, checked.totals.lines, strict=True)
    ):
        built.append(
            line_model(
                position=i,
                description=line.description.strip(),
                quantity=line.quantity,
                unit_amount_minor=line.unit_amount_minor,
                tax_rate=sum((t.percentage for t in taxes), Decimal(0)),
                product_id=line.product_id,
                discount_percent=line.discount_percent,
                discount_fixed_minor=line.discount_amount_minor,
                amount_minor=line_totals.amount_minor,
                discount_minor=line_totals.discount_minor,
                tax_minor=line_totals.tax_minor,
                tax_inclusive_minor=line_totals.tax_inclusive_minor,
                taxes=[
                    tax_model(
                        position=k,
                        tax_rate_id=tax.tax_rate_id,
                        name=tax.name,
                        percentage=tax.percentage,
                        is_inclusive=tax.inclusive,
                        amount_minor=amount,
                    )
                    for k, (tax, amount) in enumerate(
                        zip(taxes, line_totals.taxes_minor, strict=True)
                    )
                ],
            )
        )
    return built


def _build_lines(lines: list[DraftLine], checked: CheckedDocument) -> list[InvoiceLine]:
    return build_lines(lines, checked, InvoiceLine, InvoiceLineTax)


def _apply(invoice: Invoice, checked: _Checked, **values) -> None:
    totals = checked.totals
    invoice.currency = checked.currency
    invoice.due_date = checked.due_date
    invoice.net_days = checked.net_days
    invoice.subtotal_minor = totals.subtotal_minor
    invoice.discount_minor = totals.discount_minor
    invoice.tax_minor = totals.tax_minor
    invoice.tax_inclusive_minor = totals.tax_inclusive_minor
    invoice.total_minor = totals.total_minor
    invoice.amount_due_minor = totals.total_minor
    for name, value in values.items():
        setattr(invoice, name, value)


def create_draft(session: Session, **draft) -> Invoice:
    """A draft invoice for `account` with totals computed by billing.totals (the arguments of
    `add_draft`). Raises ValidationFailed ({field: message}, nothing written). Commits."""
    invoice = add_draft(session, **draft)
    session.commit()
    return invoice


def add_draft(
    session: Session,
    *,
    account: Account,
    lines: list[DraftLine],
    issue_date: date,
    due_date: date | None = None,
    now: datetime,
    actor: str,
    discount_minor: int = 0,
    memo: str = "",
    currency: str | None = None,
    discount_percent: Decimal | None = None,
    footer: str = "",
    net_days: int | None = None,
    action: str = "invoice.created",
    audit_extra: dict | None = None,
) -> Invoice:
    """`create_draft` in the caller's transaction: the draft is added and flushed (it has its
    id), with its audit entry; the caller commits (or rolls back, and nothing was written), so
    a conversion can create, link, finalize and send one invoice in one transaction.

    Terms: `net_days` sets the due date to issue date + N days; else `due_date`; with neither,
    the account's payment terms apply. The invoice discount is `discount_minor` (an amount) or
    `discount_percent`. Raises ValidationFailed ({field: message}) before writing anything.
    `action`/`audit_extra` name the audit entry (e.g. "invoice.duplicated" with its source)."""
    memo, footer = (memo or "").strip(), (footer or "").strip()
    checked = _check_draft(
        session,
        account=account,
        lines=lines,
        currency=currency,
        issue_date=issue_date,
        due_date=due_date,
        net_days=net_days,
        discount_minor=discount_minor,
        discount_percent=discount_percent,
        memo=memo,
        footer=footer,
    )
    invoice = Invoice(
        account_id=account.id,
        status=InvoiceStatus.DRAFT,
        issue_date=issue_date,
        created_at=now,
        lines=_build_lines(lines, checked),
    )
    _apply(
        invoice,
        checked,
        memo=memo,
        footer=footer,
        discount_percent=discount_percent,
        discount_fixed_minor=discount_minor,
    )
    session.add(invoice)
    audit.record(
        session,
        actor=actor,
        action=action,
        subject=invoice,
        now=now,
        account_id=account.id,
        after=_snapshot(invoice) | (audit_extra or {}),
    )
    session.flush()
    return invoice


def _lock_draft(session: Session, invoice_id: int, doing: str) -> Invoice:
    invoice = lock_invoice(session, invoice_id)
    if invoice.status != InvoiceStatus.DRAFT:
        session.rollback()
        raise InvalidTransition(
            f"Invoice {invoice.display_number} is {invoice.status}: only a draft can be {doing}. "
            "Issue a credit note to change what a finalized invoice asks for."
        )
    return invoice


def update_draft(
    session: Session,
    *,
    invoice_id: int,
    lines: list[DraftLine],
    issue_date: date,
    due_date: date | None = None,
    now: datetime,
    actor: str,
    discount_minor: int = 0,
    memo: str = "",
    currency: str | None = None,
    discount_percent: Decimal | None = None,
    footer: str = "",
    net_days: int | None = None,
) -> Invoice:
    """Replace everything staff can set on a draft (lines, terms, discount, notes), recomputing
    its totals. Raises InvalidTransition once the invoice is finalized (its financial fields are
    frozen), ValidationFailed (nothing changed), NotFound. Commits with an audit entry."""
    invoice = _lock_draft(session, invoice_id, "edited")
    account = session.get(Account, invoice.account_id)
    memo, footer = (memo or "").strip(), (footer or "").strip()
    try:
        checked = _check_draft(
            session,
            account=account,
            lines=lines,
            currency=currency or invoice.currency,
            issue_date=issue_date,
            due_date=due_date,
            net_days=net_days,
            discount_minor=discount_minor,
            discount_percent=discount_percent,
            memo=memo,
            footer=footer,
        )
    except ValidationFailed:
        session.rollback()
        raise
    before, lines_before = _draft_snapshot(invoice), _fingerprint(invoice)
    invoice.lines.clear()
    session.flush()  # old lines go before new ones take their positions
    invoice.lines.extend(_build_lines(lines, checked))
    _apply(
        invoice,
        checked,
        issue_date=issue_date,
        memo=memo,
        footer=footer,
        discount_percent=discount_percent,
        discount_fixed_minor=discount_minor,
    )
    session.flush()
    after = _draft_snapshot(invoice)
    if after == before and _fingerprint(invoice) == lines_before:
        session.rollback()  # saving the same values again changes nothing
        return session.get(Invoice, invoice_id)
    audit.record(
        session,
        actor=actor,
        action="invoice.updated",
        subject=invoice,
        now=now,
        account_id=invoice.account_id,
        before=before,
        after=after,
    )
    session.commit()
    return invoice


def _fingerprint(invoice: Invoice) -> list[tuple]:
    """What staff entered on each line, to tell a real edit from saving the same form again."""
    return [
        (
            line.description,
            Decimal(line.quantity).normalize(),
            line.unit_amount_minor,
            line.product_id,
            None if line.discount_percent is None else Decimal(line.discount_percent).normalize(),
            line.discount_fixed_minor or 0,
            tuple(
                (t.tax_rate_id, t.name, Decimal(t.percentage).normalize(), t.is_inclusive)
                for t in line.taxes
            ),
        )
        for line in invoice.lines
    ]


def draft_lines_of(invoice: Invoice) -> list[DraftLine]:
    """The lines of an invoice as DraftLines (to duplicate it or to prefill a form)."""
    result = []
    for line in invoice.lines:
        catalog = tuple(t.tax_rate_id for t in line.taxes if t.tax_rate_id is not None)
        named = tuple(
            DraftTax(t.name, t.percentage, t.is_inclusive)
            for t in line.taxes
            if t.tax_rate_id is None
        )
        if not line.taxes and line.tax_rate:
            named = (DraftTax(LEGACY_TAX_NAME, line.tax_rate),)
        result.append(
            DraftLine(
                description=line.description,
                quantity=line.quantity,
                unit_amount_minor=line.unit_amount_minor,
                product_id=line.product_id,
                tax_rate_ids=catalog,
                taxes=named,
                discount_percent=line.discount_percent,
                discount_amount_minor=line.discount_fixed_minor or 0,
            )
        )
    return result


def copied_lines(lines) -> list[DraftLine]:
    """Invoice or quote `lines` as DraftLines that give exactly the same amounts again: every
    tax as it was written (name, percentage, inclusive, its catalog rate's id as a link), not
    looked up afresh in the catalog, whose rates may have changed since. For turning a quote
    into an invoice."""
    return [
        DraftLine(
            description=line.description,
            quantity=line.quantity,
            unit_amount_minor=line.unit_amount_minor,
            product_id=line.product_id,
            taxes=tuple(
                DraftTax(t.name, t.percentage, t.is_inclusive, t.tax_rate_id) for t in line.taxes
            )
            or ((DraftTax(LEGACY_TAX_NAME, line.tax_rate),) if line.tax_rate else ()),
            discount_percent=line.discount_percent,
            discount_amount_minor=line.discount_fixed_minor or 0,
        )
        for line in lines
    ]


def duplicate_invoice(
    session: Session, *, invoice_id: int, today: date, now: datetime, actor: str
) -> Invoice:
    """A new draft with the same customer, currency, lines, discounts, notes and terms, issued
    `today` (a due date given as a date keeps its distance from the issue date). Works for any
    status. Raises NotFound, ValidationFailed (e.g. a catalog tax since deleted). Commits."""
    source = session.get(Invoice, invoice_id)
    if source is None:
        raise NotFound(f"invoice {invoice_id}")
    net_days = source.net_days
    if net_days is None:
        net_days = (source.due_date - source.issue_date).days
    return create_draft(
        session,
        account=session.get(Account, source.account_id),
        lines=draft_lines_of(source),
        issue_date=today,
        net_days=net_days,
        now=now,
        actor=actor,
        discount_minor=source.discount_fixed_minor or 0,
        discount_percent=source.discount_percent,
        memo=source.memo,
        footer=source.footer,
        currency=source.currency,
        action="invoice.duplicated",
        audit_extra={"duplicated_from": source.display_number},
    )


def delete_draft(session: Session, *, invoice_id: int, now: datetime, actor: str) -> None:
    """Delete a draft and its lines (the audit entry stays). Raises InvalidTransition for a
    finalized invoice or a draft other records point at (a quote), NotFound. Commits."""
    invoice = _lock_draft(session, invoice_id, "deleted")
    audit.record(
        session,
        actor=actor,
        action="invoice.deleted",
        subject=invoice,
        now=now,
        account_id=invoice.account_id,
        before=_snapshot(invoice) | {"lines": len(invoice.lines)},
    )
    session.delete(invoice)
    try:
        session.flush()
    except IntegrityError:
        session.rollback()
        raise InvalidTransition(
            "This draft is linked to another record (such as a quote) and cannot be deleted."
        ) from None
    session.commit()


def _move(invoice: Invoice, to: InvoiceStatus) -> bool:
    """Apply a status move; False when already there; InvalidTransition when not allowed."""
    if invoice.status == to:
        return False
    if to not in TRANSITIONS[InvoiceStatus(invoice.status)]:
        raise InvalidTransition(f"A {invoice.status} invoice cannot become {to}.")
    invoice.status = to
    return True


def _insert_ignore(session: Session):
    dialect = session.get_bind().dialect.name
    module = postgresql if dialect == "postgresql" else sqlite
    return module.insert(NumberSequence).on_conflict_do_nothing(index_elements=["series"])


def next_number(session: Session, series: str, year: int) -> str:
    """The next gap-free number of `series` for `year`, e.g. INV-2026-0001 or CN-2026-0001.

    The sequence row is created if missing without racing (INSERT … ON CONFLICT DO NOTHING),
    then locked FOR UPDATE, so two transactions numbering at once wait for each other: neither
    shares nor skips a number, and a rolled-back transaction gives its number back."""
    key = f"{series}-{year}"
    session.execute(_insert_ignore(session).values(series=key, next_value=1))
    sequence = session.scalar(
        select(NumberSequence)
        .where(NumberSequence.series == key)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    value = sequence.next_value
    sequence.next_value = value + 1
    return f"{key}-{value:04d}"


def finalize_invoice(
    session: Session, *, invoice_id: int, now: datetime, actor: str, apply_credit: bool = True
) -> Invoice:
    """Number a draft and open it; idempotent for an invoice already finalized. Account credit
    pays what it can of it unless `apply_credit` is False (an invoice made for a card payment
    that is about to pay it in full, e.g. the Pay Now widget's). Commits."""
    invoice = lock_invoice(session, invoice_id)
    if invoice.status != InvoiceStatus.DRAFT:
        session.rollback()
        return invoice
    finalize_locked(session, invoice, now=now, actor=actor, apply_credit=apply_credit)
    session.commit()
    return invoice


def finalize_locked(
    session: Session, invoice: Invoice, *, now: datetime, actor: str, apply_credit: bool = True
) -> None:
    """`finalize_invoice` in the caller's transaction, for an invoice the caller locked
    (lock_invoice) or created in it: numbers and opens a draft, audits, applies account credit,
    flushes; the caller commits. A finalized invoice is left as it is (idempotent)."""
    if invoice.status != InvoiceStatus.DRAFT:
        return
    before = _snapshot(invoice)
    invoice.number = next_number(session, invoice.series, invoice.issue_date.year)
    _move(invoice, InvoiceStatus.OPEN)
    invoice.finalized_at = now
    audit.record(
        session,
        actor=actor,
        action="invoice.finalized",
        subject=invoice,
        now=now,
        account_id=invoice.account_id,
        before=before,
        after=_snapshot(invoice) | {"number": invoice.number},
    )
    # Credit the account holds (e.g. from an overpayment) pays what it can of the new invoice.
    if apply_credit:
        credit_service.apply_credit_to_invoice(session, invoice, now=now, actor=actor)
    session.flush()


def _change_status(
    session: Session,
    *,
    invoice_id: int,
    to: InvoiceStatus,
    now: datetime,
    actor: str,
    action: str,
) -> Invoice:
    invoice = lock_invoice(session, invoice_id)
    before = _snapshot(invoice)
    if to == InvoiceStatus.VOID and invoice.status != InvoiceStatus.VOID:
        if invoice.amount_paid_minor:
            session.rollback()
            raise InvalidTransition(
                "An invoice with payments cannot be voided; issue a credit note."
            )
        if credited_total(session, invoice.id):
            session.rollback()
            raise InvalidTransition(
                "An invoice with credit notes cannot be voided; credit the rest instead."
            )
    try:
        moved = _move(invoice, to)
    except InvalidTransition:
        session.rollback()
        raise
    if not moved:
        session.rollback()
        return invoice
    if to == InvoiceStatus.VOID:
        invoice.voided_at = now
    audit.record(
        session,
        actor=actor,
        action=action,
        subject=invoice,
        now=now,
        account_id=invoice.account_id,
        before=before,
        after=_snapshot(invoice),
    )
    session.commit()
    return invoice


def void_invoice(session: Session, *, invoice_id: int, now: datetime, actor: str) -> Invoice:
    """Void an open (or uncollectible) invoice with no payments and no credit notes.
    Idempotent; raises InvalidTransition. Commits."""
    return _change_status(
        session,
        invoice_id=invoice_id,
        to=InvoiceStatus.VOID,
        now=now,
        actor=actor,
        action="invoice.voided",
    )


def mark_uncollectible(session: Session, *, invoice_id: int, now: datetime, actor: str) -> Invoice:
    """Write an open invoice off as uncollectible. Idempotent; raises InvalidTransition. Commits."""
    return _change_status(
        session,
        invoice_id=invoice_id,
        to=InvoiceStatus.UNCOLLECTIBLE,
        now=now,
        actor=actor,
        action="invoice.marked_uncollectible",
    )


def recompute_due(invoice: Invoice) -> None:
    """amount_due = total - amount_paid - amount_credited (billing/totals.py)."""
    invoice.amount_due_minor = (
        invoice.total_minor - invoice.amount_paid_minor - (invoice.amount_credited_minor or 0)
    )


def apply_payment(invoice: Invoice, amount_minor: int, now: datetime) -> None:
    """Add a confirmed payment to a locked invoice (caller audits and commits); pays it in full
    when nothing is left due. Raises ValidationFailed for more than is due."""
    if invoice.status not in (InvoiceStatus.OPEN, InvoiceStatus.UNCOLLECTIBLE):
        raise InvalidTransition(f"A {invoice.status} invoice cannot take payments.")
    if amount_minor <= 0 or amount_minor > invoice.amount_due_minor:
        raise ValidationFailed({"amount": "The amount must be between 0 and the amount due."})
    invoice.amount_paid_minor += amount_minor
    recompute_due(invoice)
    if invoice.amount_due_minor == 0:
        _move(invoice, InvoiceStatus.PAID)
        invoice.paid_at = now


def credited_total(session: Session, invoice_id: int) -> int:
    """What all credit notes against the invoice add up to (before and after payment)."""
    return int(
        session.scalar(
            select(func.coalesce(func.sum(CreditNote.amount_minor), 0)).where(
                CreditNote.invoice_id == invoice_id
            )
        )
        or 0
    )


def allowed_actions(invoice: Invoice, *, credited_minor: int = 0) -> frozenset[str]:
    """What staff may do with `invoice` now (the page offers exactly these; the services refuse
    the rest). `credited_minor` is what its credit notes add up to (credited_total)."""
    status = InvoiceStatus(invoice.status)
    if status == InvoiceStatus.DRAFT:
        return frozenset({EDIT, FINALIZE, DELETE, DUPLICATE})
    actions = {DUPLICATE}
    if status == InvoiceStatus.VOID:
        return frozenset(actions)
    actions.add(SEND)
    untouched = not invoice.amount_paid_minor and not credited_minor
    if status in (InvoiceStatus.OPEN, InvoiceStatus.UNCOLLECTIBLE) and untouched:
        actions.add(VOID)
    if status == InvoiceStatus.OPEN:
        actions.add(UNCOLLECTIBLE)
    if invoice.total_minor - credited_minor > 0:
        actions.add(CREDIT)
    return frozenset(actions)
