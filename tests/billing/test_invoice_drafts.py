"""Drafts: totals with catalog taxes (inclusive and exclusive), line and invoice discounts,
terms; editing only while a draft (financial fields freeze on finalize); duplicate; delete; the
actions each status allows; and input that is refused with a message and writes nothing.
Runs on PostgreSQL too (TEST_DATABASE_URL)."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from billing.errors import InvalidTransition, ValidationFailed
from billing.models import AuditEntry, Invoice, InvoiceLine, InvoiceLineTax, InvoiceStatus
from billing.services import catalog, invoices
from billing.services.invoices import DraftLine, DraftTax
from tests.factories import NOW

ISSUE = date(2026, 11, 1)


@pytest.fixture
def rates(session):
    def rate(name, percent, inclusive=False):
        return catalog.save_tax_rate(
            session,
            tax_rate_id=None,
            values={"name": name, "percentage": percent, "is_inclusive": inclusive},
            now=NOW,
            actor="t",
        )

    return {"vat": rate("VAT", "20"), "gst": rate("GST", "10", True), "city": rate("City", "1.5")}


def count(session, model) -> int:
    return session.scalar(select(func.count()).select_from(model))


def test_draft_with_catalog_taxes_discounts_and_account_terms(session, make, rates):
    account = make.account(payment_terms_days=14)
    invoice = invoices.create_draft(
        session,
        account=account,
        lines=[
            # 3 x 100.00 = 300.00, -10% = 270.00, VAT 20% + City 1.5% on top
            DraftLine(
                "Widgets",
                Decimal(3),
                10000,
                tax_rate_ids=(rates["vat"].id, rates["city"].id),
                discount_percent=Decimal(10),
            ),
            # 110.00 with 10% GST included: 100.00 + 10.00 tax, -5.00 off the line
            DraftLine(
                "Service",
                Decimal(1),
                11000,
                tax_rate_ids=(rates["gst"].id,),
                discount_amount_minor=500,
            ),
        ],
        issue_date=ISSUE,
        now=NOW,
        actor="t",
        memo="PO 1",
        footer="Bank: Example",
    )
    assert invoice.due_date == ISSUE + timedelta(days=14) and invoice.net_days == 14
    first, second = invoice.lines
    assert (first.amount_minor, first.discount_minor) == (30000, 3000)
    assert [(t.name, t.amount_minor) for t in first.taxes] == [("VAT", 5400), ("City", 405)]
    assert first.tax_rate == Decimal("21.5")
    # 105.00 incl. 10%: tax = round(105.00 - 105.00/1.1) = 9.55
    assert (second.discount_minor, second.tax_minor, second.tax_inclusive_minor) == (500, 955, 955)
    assert invoice.subtotal_minor == 41000 and invoice.discount_minor == 3500
    assert invoice.tax_minor == 5400 + 405 + 955 and invoice.tax_inclusive_minor == 955
    assert invoice.total_minor == 27000 + 5805 + 10500 == invoice.amount_due_minor
    assert [s.label for s in invoice.tax_breakdown()] == [
        "VAT 20%",
        "City 1.5%",
        "GST 10% (included)",
    ]
    assert invoice.footer == "Bank: Example"


def test_draft_line_stays_backward_compatible(session, make):
    """Quotes and orders build DraftLine(description, quantity, unit, tax_rate) positionally."""
    invoice = invoices.create_draft(
        session,
        account=make.account(),
        lines=[DraftLine("Hours", Decimal("1.5"), 10000, Decimal(10))],
        issue_date=ISSUE,
        due_date=ISSUE + timedelta(days=30),
        now=NOW,
        actor="t",
        discount_minor=1000,
    )
    line = invoice.lines[0]
    assert [(t.name, t.percentage, t.is_inclusive) for t in line.taxes] == [
        ("Tax", Decimal(10), False)
    ]
    assert (invoice.subtotal_minor, invoice.discount_minor, invoice.tax_minor) == (
        15000,
        1000,
        1400,
    )
    assert invoice.net_days is None and invoice.due_date == date(2026, 12, 1)
    assert invoice.discount_fixed_minor == 1000


def test_invoice_discount_as_percent(session, make):
    invoice = invoices.create_draft(
        session,
        account=make.account(),
        lines=[DraftLine("A", Decimal(1), 10000), DraftLine("B", Decimal(1), 5000)],
        issue_date=ISSUE,
        net_days=0,
        now=NOW,
        actor="t",
        discount_percent=Decimal("12.5"),
    )
    assert invoice.discount_minor == 1875 and invoice.total_minor == 13125
    assert [line.discount_minor for line in invoice.lines] == [1250, 625]
    assert invoice.due_date == ISSUE


def test_editing_a_draft_replaces_everything_and_is_audited(session, make, rates):
    invoice = make.invoice(finalize=False)
    updated = invoices.update_draft(
        session,
        invoice_id=invoice.id,
        lines=[DraftLine("New line", Decimal(2), 2500, tax_rate_ids=(rates["vat"].id,))],
        issue_date=date(2026, 11, 5),
        due_date=date(2026, 11, 20),
        currency="EUR",
        memo="Changed",
        now=NOW,
        actor="staff:1",
    )
    session.expire_all()
    invoice = session.get(Invoice, updated.id)
    assert invoice.currency == "EUR" and invoice.total_minor == 6000
    assert [line.description for line in invoice.lines] == ["New line"]
    assert count(session, InvoiceLine) == 1 and count(session, InvoiceLineTax) == 1
    entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "invoice.updated")).one()
    assert entry.before["total_minor"] == 37999 and entry.after["total_minor"] == 6000
    assert entry.after["currency"] == "EUR" and entry.actor == "staff:1"
    # Saving the same values again writes nothing.
    invoices.update_draft(
        session,
        invoice_id=invoice.id,
        lines=invoices.draft_lines_of(invoice),
        issue_date=date(2026, 11, 5),
        due_date=date(2026, 11, 20),
        currency="EUR",
        memo="Changed",
        now=NOW,
        actor="staff:1",
    )
    assert session.scalar(select(func.count()).where(AuditEntry.action == "invoice.updated")) == 1


def test_financial_fields_freeze_once_finalized(session, make):
    invoice = make.invoice()
    with pytest.raises(InvalidTransition, match="only a draft can be edited"):
        invoices.update_draft(
            session,
            invoice_id=invoice.id,
            lines=[DraftLine("Cheaper", Decimal(1), 1)],
            issue_date=ISSUE,
            now=NOW,
            actor="t",
        )
    session.expire_all()
    assert session.get(Invoice, invoice.id).total_minor == 37999
    with pytest.raises(InvalidTransition):
        invoices.delete_draft(session, invoice_id=invoice.id, now=NOW, actor="t")


def test_duplicate_copies_lines_taxes_discounts_and_terms(session, make, rates):
    source = invoices.create_draft(
        session,
        account=make.account(),
        lines=[
            DraftLine("Catalog", Decimal(1), 1000, tax_rate_ids=(rates["gst"].id,)),
            DraftLine("Legacy", Decimal(2), 500, Decimal(7), discount_percent=Decimal(5)),
            DraftLine("Named", Decimal(1), 100, taxes=(DraftTax("Levy", Decimal(3)),)),
        ],
        issue_date=ISSUE,
        due_date=ISSUE + timedelta(days=10),
        discount_minor=50,
        memo="m",
        footer="f",
        now=NOW,
        actor="t",
    )
    invoices.finalize_invoice(session, invoice_id=source.id, now=NOW, actor="t")
    copy = invoices.duplicate_invoice(
        session, invoice_id=source.id, today=date(2026, 12, 1), now=NOW, actor="staff:2"
    )
    assert copy.id != source.id and copy.status == InvoiceStatus.DRAFT and copy.number is None
    assert copy.issue_date == date(2026, 12, 1) and copy.due_date == date(2026, 12, 11)
    assert copy.total_minor == source.total_minor and copy.memo == "m" and copy.footer == "f"
    assert [[(t.name, t.tax_rate_id) for t in line.taxes] for line in copy.lines] == [
        [("GST", rates["gst"].id)],
        [("Tax", None)],
        [("Levy", None)],
    ]
    actions = session.scalars(
        select(AuditEntry.action).where(
            AuditEntry.subject_type == "invoices", AuditEntry.subject_id == copy.id
        )
    ).all()
    assert actions == ["invoice.duplicated"]


def test_delete_a_draft_keeps_its_audit_trail(session, make):
    draft = make.invoice(finalize=False)
    invoices.delete_draft(session, invoice_id=draft.id, now=NOW, actor="staff:1")
    assert session.get(Invoice, draft.id) is None and count(session, InvoiceLine) == 0
    actions = session.scalars(
        select(AuditEntry.action)
        .where(AuditEntry.subject_type == "invoices", AuditEntry.subject_id == draft.id)
        .order_by(AuditEntry.id)
    ).all()
    assert actions == ["invoice.created", "invoice.deleted"]


def test_actions_offered_per_status(session, make):
    draft = make.invoice(finalize=False)
    assert invoices.allowed_actions(draft) == {"edit", "finalize", "delete", "duplicate"}
    open_ = make.invoice()
    assert invoices.allowed_actions(open_) == {
        "send", "void", "uncollectible", "credit", "duplicate",
    }  # fmt: skip
    part_paid = make.invoice(paid_minor=100)
    assert "void" not in invoices.allowed_actions(part_paid)
    assert "void" not in invoices.allowed_actions(open_, credited_minor=1)
    paid = make.invoice(paid_minor=37999)
    assert invoices.allowed_actions(paid) == {"send", "credit", "duplicate"}
    assert invoices.allowed_actions(paid, credited_minor=37999) == {"send", "duplicate"}
    void = make.invoice(status="void")
    assert invoices.allowed_actions(void) == {"duplicate"}
    written_off = make.invoice(status="uncollectible")
    assert invoices.allowed_actions(written_off) == {"send", "void", "credit", "duplicate"}


def _draft(session, make, **overrides):
    values = {
        "account": make.account(),
        "lines": [DraftLine("x", Decimal(1), 100)],
        "issue_date": ISSUE,
        "now": NOW,
        "actor": "t",
    } | overrides
    return invoices.create_draft(session, **values)


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"lines": [DraftLine("x", Decimal(-1), 100)]}, "lines-0-quantity"),
        ({"lines": [DraftLine("x", Decimal(0), 100)]}, "lines-0-quantity"),
        ({"lines": [DraftLine("x", Decimal(10_000_000), 100)]}, "lines-0-quantity"),
        ({"lines": [DraftLine("x", Decimal("1.00001"), 100)]}, "lines-0-quantity"),
        ({"lines": [DraftLine("x", Decimal("NaN"), 100)]}, "lines-0-quantity"),
        ({"lines": [DraftLine("x", Decimal(1), -5)]}, "lines-0-unit_price"),
        ({"lines": [DraftLine("x", Decimal(1), 10**12)]}, "lines-0-unit_price"),
        ({"lines": [DraftLine("", Decimal(1), 100)]}, "lines-0-description"),
        ({"lines": [DraftLine("x" * 501, Decimal(1), 100)]}, "lines-0-description"),
        (
            {"lines": [DraftLine("x", Decimal(1), 100, discount_percent=Decimal(101))]},
            "lines-0-discount",
        ),
        ({"lines": [DraftLine("x", Decimal(1), 100, tax_rate_ids=(999999,))]}, "lines-0-taxes"),
        ({"lines": [DraftLine("x", Decimal(1), 100, tax_rate=Decimal(500))]}, "lines-0-taxes"),
        ({"lines": [DraftLine("x", Decimal(1), 100, product_id=999999)]}, "lines-0-product"),
        ({"lines": [DraftLine("x", Decimal(1), 100)] * 1000}, "lines"),
        ({"lines": []}, "lines"),
        ({"currency": "XYZ"}, "currency"),
        ({"due_date": ISSUE - timedelta(days=1)}, "due_date"),
        ({"net_days": -1}, "net_days"),
        ({"net_days": 100000}, "net_days"),
        ({"memo": "m" * 1_000_000}, "memo"),
        ({"footer": "f" * 5000}, "footer"),
        ({"discount_minor": -1}, "discount"),
        ({"discount_percent": Decimal(150)}, "discount"),
        ({"discount_minor": 5, "discount_percent": Decimal(5)}, "discount"),
    ],
)
def test_bad_drafts_are_refused_per_field_and_write_nothing(session, make, overrides, field):
    account = make.account()
    entries = count(session, AuditEntry)
    with pytest.raises(ValidationFailed) as failure:
        _draft(session, make, **({"account": account} | overrides))
    assert field in failure.value.errors, failure.value.errors
    assert all(message.endswith(".") for message in failure.value.errors.values())
    assert count(session, Invoice) == 0 and count(session, AuditEntry) == entries


def test_void_is_refused_once_credited(session, make):
    from billing.models import CreditNoteKind
    from billing.services import credit_notes

    invoice = make.invoice()
    credit_notes.issue_credit_note(
        session, None, invoice_id=invoice.id, kind=CreditNoteKind.AMOUNT, amount_minor=100,
        now=NOW, actor="t",
    )  # fmt: skip
    with pytest.raises(InvalidTransition, match="credit notes"):
        invoices.void_invoice(session, invoice_id=invoice.id, now=NOW, actor="t")
    session.expire_all()
    assert session.get(Invoice, invoice.id).status == InvoiceStatus.OPEN


def test_numbering_starts_a_new_series_each_year(session, make):
    account = make.account()
    first = make.invoice(account, issue_date=date(2026, 12, 31))
    second = make.invoice(account, issue_date=date(2027, 1, 1))
    third = make.invoice(account, issue_date=date(2027, 1, 2))
    assert [first.number, second.number, third.number] == [
        "INV-2026-0001",
        "INV-2027-0001",
        "INV-2027-0002",
    ]
