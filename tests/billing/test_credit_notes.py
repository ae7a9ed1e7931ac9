"""Credit notes: before payment they lower the amount due; after payment the rest goes back as a
refund of the original payment or as account credit. Their own numbers, PDF and email; never
more than the invoice. Runs on PostgreSQL too (TEST_DATABASE_URL)."""

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from billing.errors import InvalidTransition, ValidationFailed
from billing.gateways.base import RefundResult
from billing.models import (
    AuditEntry,
    CreditNote,
    CreditNoteKind,
    CreditSettlement,
    Invoice,
    InvoiceStatus,
    Payment,
    PaymentAllocation,
    PaymentMethod,
    PaymentStatus,
    Refund,
    RefundStatus,
    SettlementStatus,
)
from billing.services import credit, credit_notes, invoices, refunds
from tests.factories import NOW
from tests.fake_gateway import FakeGateway

AMOUNT, LINES, FULL = CreditNoteKind.AMOUNT, CreditNoteKind.LINES, CreditNoteKind.FULL


def issue(session, invoice, kind=AMOUNT, **values):
    return credit_notes.issue_credit_note(
        session, None, invoice_id=invoice.id, kind=kind, now=NOW, actor="staff:1", **values
    )


def reload(session, invoice) -> Invoice:
    session.expire_all()
    return session.get(Invoice, invoice.id)


def test_before_payment_a_credit_note_lowers_the_amount_due(session, make):
    invoice = make.invoice()  # 379.99: 300.00 + 30.00 tax + 49.99
    note = issue(session, invoice, amount_minor=5000, reason="Late delivery")
    invoice = reload(session, invoice)
    assert note.number == "CN-2026-0001" and note.settlement == CreditSettlement.NONE
    assert (note.amount_minor, note.applied_to_due_minor, note.outside_minor) == (5000, 5000, 0)
    assert note.tax_minor == 395  # 5000 x 3000 / 37999, split exactly by allocate
    assert note.lines[0].description == "Late delivery"
    assert (invoice.amount_credited_minor, invoice.amount_due_minor) == (5000, 32999)
    assert invoice.status == InvoiceStatus.OPEN
    second = issue(session, invoice, amount_minor=100)
    assert second.number == "CN-2026-0002"
    actions = session.scalars(
        select(AuditEntry.action).where(AuditEntry.subject_type == "invoices",
                                        AuditEntry.subject_id == invoice.id)
        .order_by(AuditEntry.id)
    ).all()  # fmt: skip
    assert actions[-2:] == ["invoice.credited", "invoice.credited"]


def test_crediting_everything_unpaid_settles_the_invoice(session, make):
    invoice = make.invoice()
    note = issue(session, invoice, FULL)
    invoice = reload(session, invoice)
    assert note.amount_minor == 37999 and note.tax_minor == invoice.tax_minor
    assert [line.description for line in note.lines] == ["Consulting", "Support plan"]
    assert sum(line.amount_minor for line in note.lines) == note.amount_minor
    assert (invoice.status, invoice.amount_due_minor, invoice.amount_credited_minor) == (
        InvoiceStatus.PAID,
        0,
        37999,
    )
    with pytest.raises(ValidationFailed, match="already credited in full"):
        issue(session, invoice, amount_minor=1)


def test_chosen_lines_are_credited_in_full_once(session, make):
    invoice = make.invoice()
    consulting, support = invoice.lines
    note = issue(session, invoice, LINES, line_ids=(consulting.id,))
    assert (note.amount_minor, note.tax_minor) == (33000, 3000)
    assert [(line.invoice_line_id, line.amount_minor) for line in note.lines] == [
        (consulting.id, 33000)
    ]
    with pytest.raises(ValidationFailed, match="Already credited: Consulting"):
        issue(session, invoice, LINES, line_ids=(consulting.id, support.id))
    with pytest.raises(ValidationFailed, match="Choose at least one line"):
        issue(session, invoice, LINES, line_ids=(999999,))
    other = make.invoice()
    with pytest.raises(ValidationFailed):
        issue(session, invoice, LINES, line_ids=(other.lines[0].id,))
    assert reload(session, invoice).amount_due_minor == 4999


def test_a_credit_note_larger_than_the_invoice_is_refused_and_writes_nothing(session, make):
    invoice = make.invoice()
    issue(session, invoice, amount_minor=30000)
    notes = session.scalar(select(func.count()).select_from(CreditNote))
    for bad in (7_999_999, 8000, 0, -5):
        with pytest.raises(ValidationFailed) as failure:
            issue(session, invoice, amount_minor=bad)
        assert "amount" in failure.value.errors
    with pytest.raises(ValidationFailed, match=r"at most \$79\.99"):
        issue(session, invoice, amount_minor=8000)
    with pytest.raises(ValidationFailed, match="reason"):
        issue(session, invoice, amount_minor=1, reason="x" * 2001)
    assert session.scalar(select(func.count()).select_from(CreditNote)) == notes
    assert reload(session, invoice).amount_due_minor == 7999


def test_drafts_and_void_invoices_cannot_be_credited(session, make):
    with pytest.raises(InvalidTransition, match="draft"):
        issue(session, make.invoice(finalize=False), amount_minor=1)
    with pytest.raises(InvalidTransition):
        issue(session, make.invoice(status="void"), amount_minor=1)


def test_after_payment_the_rest_needs_a_refund_or_account_credit(session, make):
    invoice = make.invoice(paid_minor=30000)  # 79.99 still due
    with pytest.raises(ValidationFailed) as failure:
        issue(session, invoice, amount_minor=10000)
    assert "refund or account credit" in failure.value.errors["settlement"]
    note = issue(session, invoice, amount_minor=10000, settlement=CreditSettlement.ACCOUNT_CREDIT)
    invoice = reload(session, invoice)
    assert (note.applied_to_due_minor, note.outside_minor) == (7999, 2001)
    assert note.settlement_status == SettlementStatus.DONE and note.settled_at == NOW
    assert invoice.status == InvoiceStatus.PAID and invoice.amount_due_minor == 0
    assert invoice.amount_paid_minor + invoice.amount_credited_minor == invoice.total_minor
    assert credit.balance(session, account_id=invoice.account_id, currency="USD") == 2001


def test_after_payment_a_refund_goes_back_through_the_payment(session, make):
    invoice = make.invoice(paid_minor=37999)  # paid by check
    payment = session.scalars(select(Payment)).one()
    note = issue(session, invoice, amount_minor=5000, settlement=CreditSettlement.REFUND,
                 reason="Returned goods")  # fmt: skip
    session.expire_all()
    note = session.get(CreditNote, note.id)
    refund = session.get(Refund, note.refund_id)
    assert note.payment_id == payment.id and note.settlement_status == SettlementStatus.DONE
    assert (refund.amount_minor, refund.status, refund.method) == (
        5000,
        RefundStatus.SUCCEEDED,
        PaymentMethod.CHECK,
    )
    invoice = reload(session, invoice)
    assert (invoice.amount_refunded_minor, invoice.amount_due_minor) == (5000, 0)
    assert invoice.amount_credited_minor == 0  # nothing was due: all of it went back


def test_a_refund_needs_one_payment_that_can_take_it(session, make):
    invoice = make.invoice(paid_minor=20000)
    make.payment(invoice)  # the other 179.99
    with pytest.raises(ValidationFailed, match=r"No payment .* \$250\.00 left to refund"):
        issue(session, invoice, amount_minor=25000, settlement=CreditSettlement.REFUND)
    note = issue(session, invoice, amount_minor=15000, settlement=CreditSettlement.REFUND)
    newest = session.scalars(select(Payment).order_by(Payment.id.desc())).first()
    assert note.payment_id == newest.id


def _card_payment(session, invoice, amount):
    locked = invoices.lock_invoice(session, invoice.id)
    invoices.apply_payment(locked, amount, NOW)
    session.add(
        Payment(
            account_id=invoice.account_id,
            method=PaymentMethod.CARD,
            status=PaymentStatus.SUCCEEDED,
            currency=invoice.currency,
            amount_minor=amount,
            received_date=NOW.date(),
            processor="stripe",
            processor_payment_id="pi_test_1",
            created_at=NOW,
            succeeded_at=NOW,
            allocations=[PaymentAllocation(invoice_id=invoice.id, amount_minor=amount)],
        )
    )
    session.commit()


def test_a_failed_refund_leaves_the_credit_note_and_can_become_account_credit(session, make):
    invoice = make.invoice()
    _card_payment(session, invoice, invoice.total_minor)
    # No gateway configured: the processor cannot be asked, so the refund fails.
    note = issue(session, invoice, amount_minor=2500, settlement=CreditSettlement.REFUND)
    session.expire_all()
    note = session.get(CreditNote, note.id)
    assert note.settlement_status == SettlementStatus.FAILED
    assert "no payment gateway" in note.settlement_error
    assert reload(session, invoice).amount_refunded_minor == 0
    settled = credit_notes.settle_credit_note(
        session,
        None,
        credit_note_id=note.id,
        settlement=CreditSettlement.ACCOUNT_CREDIT,
        now=NOW,
        actor="staff:1",
    )
    assert settled.settlement_status == SettlementStatus.DONE
    assert settled.settlement == CreditSettlement.ACCOUNT_CREDIT
    assert credit.balance(session, account_id=invoice.account_id, currency="USD") == 2500
    again = credit_notes.settle_credit_note(
        session, None, credit_note_id=note.id, settlement=CreditSettlement.ACCOUNT_CREDIT,
        now=NOW, actor="staff:1",
    )  # fmt: skip
    assert again.settlement_status == SettlementStatus.DONE
    assert credit.balance(session, account_id=invoice.account_id, currency="USD") == 2500


class _SlowRefunds(FakeGateway):
    """A processor that accepts a refund as pending and completes it later (bank transfers)."""

    def refund(self, *, payment_intent_id, amount_minor, currency, idempotency_key, metadata):
        refund = RefundResult("re_slow", "pending", amount_minor, currency.upper(),
                              payment_intent_id, None, dict(metadata))  # fmt: skip
        self.refunds[refund.refund_id] = refund
        return refund


@pytest.mark.parametrize(
    ("outcome", "expected"),
    [("succeeded", SettlementStatus.DONE), ("failed", SettlementStatus.FAILED)],
)
def test_a_pending_card_refund_settles_its_credit_note_when_it_completes(
    session, make, outcome, expected
):
    invoice = make.invoice()
    _card_payment(session, invoice, invoice.total_minor)
    gateway = _SlowRefunds()
    note = credit_notes.issue_credit_note(
        session, gateway, invoice_id=invoice.id, kind=AMOUNT, amount_minor=2500,
        settlement=CreditSettlement.REFUND, now=NOW, actor="staff:1",
    )  # fmt: skip
    session.expire_all()
    note = session.get(CreditNote, note.id)
    assert note.settlement_status == SettlementStatus.PENDING
    gateway.refunds["re_slow"] = RefundResult("re_slow", outcome, 2500, "USD", "pi_test_1")
    for _ in range(2):  # the sweeper may settle it twice: the second run changes nothing
        refunds.reconcile_refund(session, gateway, refund_id=note.refund_id, now=NOW)
    session.expire_all()
    note = session.get(CreditNote, note.id)
    assert note.settlement_status == expected
    assert (note.settled_at is not None) == (expected == SettlementStatus.DONE)
    refunded = 2500 if expected == SettlementStatus.DONE else 0
    assert reload(session, invoice).amount_refunded_minor == refunded
    settled = session.scalars(
        select(AuditEntry).where(AuditEntry.action.like("credit_note.refund_%"))
    ).all()
    assert len(settled) == 2  # issued as pending, then settled once


def test_database_keeps_the_split_and_the_due_equation(session, make):
    invoice = make.invoice()
    note = issue(session, invoice, amount_minor=1000)
    for change in ({"outside_minor": 5}, {"tax_minor": 5000}, {"amount_minor": 0}):
        with pytest.raises(IntegrityError):
            session.execute(update(CreditNote).where(CreditNote.id == note.id).values(**change))
            session.flush()
        session.rollback()
    with pytest.raises(IntegrityError):
        session.execute(
            update(Invoice).where(Invoice.id == invoice.id).values(amount_credited_minor=0)
        )
        session.flush()
    session.rollback()
