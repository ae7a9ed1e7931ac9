"""Invariants of invoices and payments, in code and in the database (run on PostgreSQL in CI)."""

from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import func, select, text, update
from sqlalchemy.exc import DBAPIError, IntegrityError

from billing.errors import InvalidTransition, ValidationFailed
from billing.models import AuditEntry, Invoice, InvoiceStatus, PaymentMethod
from billing.services import invoices as invoice_service
from billing.services import payments as payment_service
from tests.factories import NOW
from tests.money_back import set_account_credit


def test_finalize_numbers_without_gaps_and_is_idempotent(session, make):
    account = make.account()
    first = make.invoice(account)
    second = make.invoice(account)
    assert (first.number, second.number) == ("INV-2026-0001", "INV-2026-0002")
    again = invoice_service.finalize_invoice(session, invoice_id=first.id, now=NOW, actor="t")
    assert again.number == "INV-2026-0001"
    assert make.invoice(account).number == "INV-2026-0003"


def test_partial_then_full_payment_pays_the_invoice(session, make):
    invoice = make.invoice()
    assert invoice.total_minor == 37999  # 2 x 150.00 + 10% tax + 49.99
    make.payment(invoice, 10000)
    session.refresh(invoice)
    assert (invoice.status, invoice.amount_due_minor) == (InvoiceStatus.OPEN, 27999)
    make.payment(invoice)
    session.refresh(invoice)
    assert (invoice.status, invoice.amount_paid_minor, invoice.amount_due_minor) == (
        InvoiceStatus.PAID,
        37999,
        0,
    )


def test_overpayment_and_paying_a_paid_invoice_are_refused(session, make):
    set_account_credit(session, False)  # with credit on, an overpayment becomes credit
    invoice = make.invoice()
    with pytest.raises(ValidationFailed):
        make.payment(invoice, invoice.total_minor + 1)
    make.payment(invoice)
    with pytest.raises(InvalidTransition):
        make.payment(invoice, 1)
    session.refresh(invoice)
    assert invoice.amount_paid_minor == invoice.total_minor


def test_only_listed_transitions(session, make):
    paid = make.invoice(paid_minor=37999)
    with pytest.raises(InvalidTransition):
        invoice_service.void_invoice(session, invoice_id=paid.id, now=NOW, actor="t")
    partly = make.invoice(paid_minor=100)
    with pytest.raises(InvalidTransition, match="credit note"):
        invoice_service.void_invoice(session, invoice_id=partly.id, now=NOW, actor="t")
    void = make.invoice(status="void")
    assert void.status == InvoiceStatus.VOID
    with pytest.raises(InvalidTransition):
        invoice_service.mark_uncollectible(session, invoice_id=void.id, now=NOW, actor="t")
    # Already there is a no-op, not an error, and writes no second audit entry.
    entries = session.scalar(select(func.count()).select_from(AuditEntry))
    invoice_service.void_invoice(session, invoice_id=void.id, now=NOW, actor="t")
    assert session.scalar(select(func.count()).select_from(AuditEntry)) == entries


def test_bad_drafts_are_refused_and_write_nothing(session, make):
    account = make.account()
    line = invoice_service.DraftLine("x", Decimal(1), 100)
    cases = [
        {"lines": [], "due_date": date(2026, 12, 1)},
        {"lines": [line], "due_date": date(2026, 10, 1)},
        {
            "lines": [invoice_service.DraftLine("x", Decimal(-1), 100)],
            "due_date": date(2026, 12, 1),
        },
        {"lines": [line] * 201, "due_date": date(2026, 12, 1)},
        {"lines": [line], "due_date": date(2026, 12, 1), "currency": "ABC"},
    ]
    for case in cases:
        with pytest.raises(ValidationFailed):
            invoice_service.create_draft(
                session, account=account, issue_date=date(2026, 11, 1), now=NOW, actor="t", **case
            )
    assert session.scalar(select(func.count()).select_from(Invoice)) == 0


def test_every_money_change_is_audited(session, make):
    invoice = make.invoice(paid_minor=500)
    actions = session.scalars(
        select(AuditEntry.action)
        .where(AuditEntry.subject_id == invoice.id, AuditEntry.subject_type == "invoices")
        .order_by(AuditEntry.id)
    ).all()
    assert actions == ["invoice.created", "invoice.finalized", "invoice.payment_applied"]


@pytest.mark.parametrize(
    "change",
    [
        {"amount_paid_minor": 99_999_999},  # paid beyond the total
        {"amount_due_minor": 1},  # due no longer total - paid
        {"total_minor": 1},  # total equation broken
        {"status": "refunded"},  # unknown status
        {"number": None},  # an issued invoice without a number
    ],
)
def test_database_enforces_invoice_equations(session, make, change):
    invoice = make.invoice()
    with pytest.raises(IntegrityError):
        session.execute(update(Invoice).where(Invoice.id == invoice.id).values(**change))
        session.flush()
    session.rollback()


def test_numbers_are_unique_per_series(session, make):
    first, second = make.invoice(), make.invoice()
    with pytest.raises(IntegrityError):
        session.execute(update(Invoice).where(Invoice.id == second.id).values(number=first.number))
    session.rollback()


def test_audit_log_is_append_only_in_the_database(session, make):
    make.invoice()
    with pytest.raises(DBAPIError, match="append-only"):
        session.execute(text("UPDATE audit_entries SET action = 'forged'"))
    session.rollback()
    with pytest.raises(DBAPIError, match="append-only"):
        session.execute(text("DELETE FROM audit_entries"))
    session.rollback()


def test_offline_payment_methods_only(session, make):
    invoice = make.invoice()
    with pytest.raises(ValidationFailed):
        payment_service.record_offline_payment(
            session,
            invoice_id=invoice.id,
            amount_minor=100,
            method=PaymentMethod.CARD,
            received_date=NOW.date(),
            reference="",
            now=NOW,
            actor="t",
        )
