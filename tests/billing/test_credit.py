"""Offline payments and account credit: partial payments, overpayments that become credit (or
are refused when credit is off), credit paying the next invoice when it is finalized, and a
ledger that never goes negative. Runs on PostgreSQL too (TEST_DATABASE_URL)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from billing.errors import InvalidTransition, ValidationFailed
from billing.models import (
    AccountCredit,
    AuditEntry,
    CreditKind,
    InvoiceStatus,
    Payment,
    PaymentMethod,
    PaymentStatus,
)
from billing.services import credit
from billing.services import invoices as invoice_service
from billing.services import payments as payment_service
from tests.factories import NOW
from tests.money_back import set_account_credit


def record(session, invoice, amount_minor, **overrides):
    values = {
        "invoice_id": invoice.id,
        "amount_minor": amount_minor,
        "method": PaymentMethod.BANK_TRANSFER,
        "received_date": NOW.date(),
        "reference": "WIRE-77",
        "now": NOW,
        "actor": "staff:1",
    } | overrides
    return payment_service.record_offline_payment(session, **values)


def test_partial_offline_payments_keep_the_reference_and_date(session, make):
    invoice = make.invoice()
    payment = record(
        session, invoice, 10000, method=PaymentMethod.CASH, received_date=date(2026, 11, 18)
    )
    session.refresh(invoice)
    assert (invoice.status, invoice.amount_paid_minor, invoice.amount_due_minor) == (
        InvoiceStatus.OPEN,
        10000,
        27999,
    )
    assert (payment.method, payment.reference, payment.received_date) == (
        PaymentMethod.CASH,
        "WIRE-77",
        date(2026, 11, 18),
    )
    assert credit.balance(session, account_id=invoice.account_id, currency="USD") == 0


def test_bad_offline_input_is_refused_per_field_and_changes_nothing(session, make):
    invoice = make.invoice()
    with pytest.raises(ValidationFailed) as refused:
        record(
            session,
            invoice,
            0,
            method=PaymentMethod.CARD,
            received_date=NOW.date() + timedelta(days=1),
            reference="x" * 201,
        )
    assert set(refused.value.errors) == {"method", "amount", "received_date", "reference"}
    assert session.scalar(select(func.count()).select_from(Payment)) == 0
    with pytest.raises(InvalidTransition):
        record(session, make.invoice(status="void"), 100)


def test_overpayment_becomes_credit_the_customer_holds(session, make):
    invoice = make.invoice()  # 379.99 due
    payment = record(session, invoice, 40000)
    session.refresh(invoice)
    assert (invoice.status, invoice.amount_paid_minor) == (InvoiceStatus.PAID, 37999)
    assert payment.amount_minor == 40000
    assert [a.amount_minor for a in payment.allocations] == [37999]
    summary = credit.credit_summary(session, account_id=invoice.account_id)
    assert [(b.currency, b.amount_minor) for b in summary.balances] == [("USD", 2001)]
    (entry,) = summary.entries
    assert (entry.kind, entry.payment_id, entry.invoice_id) == (
        CreditKind.OVERPAYMENT,
        payment.id,
        invoice.id,
    )
    assert invoice.display_number in entry.reason
    actions = set(session.scalars(select(AuditEntry.action)))
    assert {"payment.recorded", "invoice.payment_applied", "credit.granted"} <= actions


def test_overpayment_is_refused_with_a_clear_message_when_credit_is_off(session, make):
    set_account_credit(session, False)
    invoice = make.invoice()
    with pytest.raises(ValidationFailed) as refused:
        record(session, invoice, 40000)
    message = refused.value.errors["amount"]
    assert "$379.99" in message and "Account credit is turned off" in message
    session.refresh(invoice)
    assert invoice.amount_paid_minor == 0
    assert session.scalar(select(func.count()).select_from(AccountCredit)) == 0
    record(session, invoice, 37999)  # exactly what is due is fine
    session.refresh(invoice)
    assert invoice.status == InvoiceStatus.PAID


def test_credit_pays_the_next_invoice_when_it_is_finalized(session, make):
    account = make.account()
    first = make.invoice(account)
    record(session, first, 37999 + 5000)  # 50.00 of credit
    draft = make.invoice(account, finalize=False)
    invoice = invoice_service.finalize_invoice(session, invoice_id=draft.id, now=NOW, actor="t")
    assert (invoice.status, invoice.amount_paid_minor, invoice.amount_due_minor) == (
        InvoiceStatus.OPEN,
        5000,
        32999,
    )
    (paid_by_credit,) = session.scalars(
        select(Payment).where(Payment.method == PaymentMethod.ACCOUNT_CREDIT)
    )
    assert (paid_by_credit.status, paid_by_credit.amount_minor) == (PaymentStatus.SUCCEEDED, 5000)
    assert [a.invoice_id for a in paid_by_credit.allocations] == [invoice.id]
    assert credit.balance(session, account_id=account.id, currency="USD") == 0
    # Finalizing again changes nothing (idempotent), and a third invoice gets no credit.
    invoice_service.finalize_invoice(session, invoice_id=draft.id, now=NOW, actor="t")
    third = make.invoice(account)
    assert third.amount_paid_minor == 0
    assert (
        session.scalar(select(func.count()).where(Payment.method == PaymentMethod.ACCOUNT_CREDIT))
        == 1
    )


def test_more_credit_than_the_invoice_pays_it_in_full_and_keeps_the_rest(session, make):
    account = make.account()
    credit.grant_credit(
        session,
        account_id=account.id,
        amount_minor=50000,
        currency="USD",
        reason="Credit note CN-2026-0001",
        now=NOW,
        actor="staff:1",
        credit_note_id=7,
    )
    invoice = make.invoice(account)
    assert (invoice.status, invoice.amount_due_minor) == (InvoiceStatus.PAID, 0)
    assert credit.balance(session, account_id=account.id, currency="USD") == 50000 - 37999
    euro = make.invoice(make.account(currency="EUR"))
    assert euro.amount_paid_minor == 0  # credit is per account and currency


def test_existing_credit_is_used_even_after_credit_is_turned_off(session, make):
    account = make.account()
    record(session, make.invoice(account), 37999 + 100)
    set_account_credit(session, False)
    assert make.invoice(account).amount_paid_minor == 100


def test_the_ledger_never_goes_negative(session, make):
    account = make.account()
    credit.grant_credit(
        session,
        account_id=account.id,
        amount_minor=300,
        currency="usd",
        reason="r",
        now=NOW,
        actor="t",
    )
    with pytest.raises(ValidationFailed, match=r"holds only \$3.00"):
        credit.add_entry(
            session,
            account_id=account.id,
            currency="USD",
            amount_minor=-301,
            kind=CreditKind.ADJUSTMENT,
            reason="too much",
            now=NOW,
            actor="t",
        )
    session.rollback()
    with pytest.raises(ValidationFailed) as refused:
        credit.grant_credit(
            session,
            account_id=account.id,
            amount_minor=0,
            currency="XYZ",
            reason="",
            now=NOW,
            actor="t",
        )
    assert set(refused.value.errors) == {"amount", "currency"}
    assert credit.balance(session, account_id=account.id, currency="USD") == 300


def test_grant_credit_can_join_the_callers_transaction(session, make):
    account = make.account()
    credit.grant_credit(
        session,
        account_id=account.id,
        amount_minor=100,
        currency="USD",
        reason="r",
        now=NOW,
        actor="t",
        commit=False,
    )
    session.rollback()  # the caller's transaction failed: no credit either
    assert credit.balance(session, account_id=account.id, currency="USD") == 0
