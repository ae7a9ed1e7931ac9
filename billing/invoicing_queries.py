"""Read-only look-ups for the admin's invoice editor, catalog and credit note pages.

Each function answers in a fixed number of queries. Unknown ids raise NotFound (the web answers
404).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from billing import admin_queries, queries
from billing.errors import NotFound
from billing.models import Account, CreditNote, Invoice, Payment, Product, Refund, TaxRate
from billing.services.invoices import allowed_actions, credited_total

MAX_CUSTOMERS_IN_PICKER = 2000


@dataclass(frozen=True)
class EditorChoices:
    customers: list[Account]
    products: list[Product]
    tax_rates: list[TaxRate]
    default_currency: str


def customer_choices(session: Session) -> list[Account]:
    """Customers by name, for pickers and list filters."""
    return list(
        session.scalars(
            select(Account).order_by(Account.name, Account.id).limit(MAX_CUSTOMERS_IN_PICKER)
        )
    )


def editor_choices(session: Session) -> EditorChoices:
    """Customers (by name), products and tax rates (archived ones too: a draft may use them)."""
    return EditorChoices(
        customers=customer_choices(session),
        products=list(session.scalars(select(Product).order_by(Product.name, Product.id))),
        tax_rates=list(session.scalars(select(TaxRate).order_by(TaxRate.name, TaxRate.id))),
        default_currency=queries.company(session).default_currency or "USD",
    )


def credit_notes_of(session: Session, invoice_id: int) -> list[CreditNote]:
    """The credit notes issued against an invoice, oldest first. The caller has already
    scoped the invoice to the account asking."""
    return list(
        session.scalars(
            select(CreditNote).where(CreditNote.invoice_id == invoice_id).order_by(CreditNote.id)
        )
    )


@dataclass(frozen=True)
class InvoiceExtras:
    credit_notes: list[CreditNote]
    credited_minor: int  # what all its credit notes add up to
    actions: frozenset[str]


def invoice_extras(session: Session, invoice: Invoice) -> InvoiceExtras:
    """An invoice's credit notes and the actions its status allows."""
    notes = credit_notes_of(session, invoice.id)
    credited = credited_total(session, invoice.id)
    return InvoiceExtras(notes, credited, allowed_actions(invoice, credited_minor=credited))


def products(session: Session) -> list[Product]:
    return list(session.scalars(select(Product).order_by(Product.is_active.desc(), Product.name)))


def get_product(session: Session, product_id: int) -> Product:
    product = session.get(Product, product_id)
    if product is None:
        raise NotFound(f"product {product_id}")
    return product


def tax_rates(session: Session) -> list[TaxRate]:
    return list(session.scalars(select(TaxRate).order_by(TaxRate.is_active.desc(), TaxRate.name)))


def get_tax_rate(session: Session, tax_rate_id: int) -> TaxRate:
    rate = session.get(TaxRate, tax_rate_id)
    if rate is None:
        raise NotFound(f"tax rate {tax_rate_id}")
    return rate


@dataclass(frozen=True)
class CreditNoteOverview:
    note: CreditNote
    invoice: Invoice
    account: Account
    payment: Payment | None
    refund: Refund | None
    timeline: list[admin_queries.TimelineEntry]


def credit_note_overview(session: Session, *, credit_note_id: int) -> CreditNoteOverview:
    note = queries.get_credit_note(session, credit_note_id=credit_note_id, account_id=None)
    return CreditNoteOverview(
        note=note,
        invoice=queries.get_invoice(session, invoice_id=note.invoice_id, account_id=None),
        account=queries.get_account(session, note.account_id),
        payment=session.get(Payment, note.payment_id) if note.payment_id else None,
        refund=session.get(Refund, note.refund_id) if note.refund_id else None,
        timeline=admin_queries.timeline(
            session, subject_type=CreditNote.__tablename__, subject_id=note.id
        ),
    )


@dataclass(frozen=True)
class CreditNoteStart:
    invoice: Invoice
    account: Account
    payments: list[tuple[Payment, int]]
    remaining_minor: int  # left to credit
    credit_notes: list[CreditNote]


def credit_note_start(session: Session, *, invoice_id: int) -> CreditNoteStart:
    """What the new-credit-note form shows about its invoice."""
    invoice = queries.get_invoice(session, invoice_id=invoice_id, account_id=None)
    extras = invoice_extras(session, invoice)
    return CreditNoteStart(
        invoice=invoice,
        account=queries.get_account(session, invoice.account_id),
        payments=queries.invoice_payments(session, invoice.id),
        remaining_minor=invoice.total_minor - extras.credited_minor,
        credit_notes=extras.credit_notes,
    )
