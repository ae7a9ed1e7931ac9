"""Invoice and credit note emails delivered to a real SMTP server: To the billing email, Cc the
account's extra recipients, the PDF attached, and the invoice's working pay link while something
is due."""

import io
import re
from decimal import Decimal

import pytest
from pypdf import PdfReader
from sqlalchemy import select

from billing.clock import utcnow
from billing.errors import InvalidTransition, NotFound
from billing.formatting import format_day
from billing.models import AuditEntry, CreditNoteKind
from billing.services import credit_notes, documents, invoices, sending
from billing.services.invoices import DraftLine
from tests.conftest import SECRET
from tests.factories import NOW


@pytest.fixture
def settings_overrides(smtp):
    return {"smtp_url": smtp[0]}


@pytest.fixture
def mailbox(smtp):
    return smtp[1]


def _invoice(session, make, **account_values):
    account = make.account(**{"name": "Zoë Ltd", "invoice_cc": "ap@zoe.test\nboss@zoe.test"}
                           | account_values)  # fmt: skip
    invoice = invoices.create_draft(
        session,
        account=account,
        lines=[DraftLine("Hosting", Decimal(1), 12000, Decimal(20))],
        issue_date=utcnow().date(),  # so its pay link is alive by the real clock the app reads
        now=NOW,
        actor="t",
        memo="PO 77",
    )
    invoices.finalize_invoice(session, invoice_id=invoice.id, now=NOW, actor="t")
    return account, invoice


def send(session, invoice):
    return sending.send_invoice(
        session,
        invoice_id=invoice.id,
        now=NOW,
        actor="staff:1",
        secret=SECRET,
        base_url="http://localhost",
    )


def test_invoice_email_carries_the_pdf_and_a_working_pay_link(session, make, mailbox, client):
    account, invoice = _invoice(session, make)
    send(session, invoice)
    [message] = mailbox.messages
    assert message["To"] == account.billing_email
    assert message["Cc"] == "ap@zoe.test, boss@zoe.test"
    assert (
        message["Subject"]
        == f"Invoice {invoice.number} from Your Company: $144.00 due {format_day(invoice.due_date)}"
    )
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    link = re.search(r"http://localhost(/pay/[\w-]+)", text).group(1)
    assert link in html and "PO 77" in text
    assert client.get(link).status_code == 200  # the link opens the invoice without signing in
    [attachment] = list(message.iter_attachments())
    assert attachment.get_filename() == f"invoice-{invoice.number}.pdf"
    pdf = PdfReader(io.BytesIO(attachment.get_content()))
    assert invoice.number in pdf.pages[0].extract_text()
    entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "invoice.sent")).one()
    assert entry.after["to"] == f"{account.billing_email}, ap@zoe.test, boss@zoe.test"


def test_sending_again_says_so_and_a_paid_invoice_has_no_pay_link(session, make, mailbox):
    _account, invoice = _invoice(session, make, invoice_cc="")
    send(session, invoice)
    make.payment(invoice)
    send(session, invoice)
    first, second = mailbox.messages
    assert second["Subject"].strip().startswith("Reminder: invoice") and second["Cc"] is None
    assert second["Subject"].strip().endswith("nothing left to pay")
    assert "/pay/" in first.get_body(("plain",)).get_content()
    assert "/pay/" not in second.get_body(("plain",)).get_content()
    assert "Nothing is left to pay" in second.get_body(("plain",)).get_content()
    actions = session.scalars(
        select(AuditEntry.action).where(AuditEntry.action.like("invoice.%sent"))
    ).all()
    assert actions == ["invoice.sent", "invoice.resent"]


def test_drafts_and_void_invoices_are_not_sent(session, make, mailbox):
    draft = make.invoice(finalize=False)
    with pytest.raises(InvalidTransition, match="Finalize it first"):
        send(session, draft)
    with pytest.raises(InvalidTransition):
        send(session, make.invoice(status="void"))
    assert mailbox.messages == []


def test_credit_note_pdf_and_email(session, make, mailbox):
    account, invoice = _invoice(session, make)
    note = credit_notes.issue_credit_note(
        session, None, invoice_id=invoice.id, kind=CreditNoteKind.AMOUNT, amount_minor=2400,
        reason="Outage on Nov 3", send=True, now=NOW, actor="staff:1",
    )  # fmt: skip
    filename, data = documents.credit_note_pdf(session, credit_note_id=note.id, account_id=None)
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)
    assert filename == "credit-note-CN-2026-0001.pdf"
    for expected in ["CREDIT NOTE", "CN-2026-0001", invoice.number, "Zoë Ltd", "$24.00",
                     "$4.00", "Outage on Nov 3", "Off the amount due"]:  # fmt: skip
        assert expected in text, expected
    with pytest.raises(NotFound):
        documents.credit_note_pdf(session, credit_note_id=note.id, account_id=account.id + 99)
    [message] = mailbox.messages
    assert message["Cc"] == "ap@zoe.test, boss@zoe.test"
    assert (
        message["Subject"]
        == f"Credit note CN-2026-0001 from Your Company for invoice {invoice.number}"
    )
    assert "$120.00 is now due" in message.get_body(("plain",)).get_content()
    [attachment] = list(message.iter_attachments())
    assert attachment.get_filename() == "credit-note-CN-2026-0001.pdf"
    assert attachment.get_content().startswith(b"%PDF")
    sending.send_credit_note(session, credit_note_id=note.id, now=NOW, actor="staff:1")
    assert len(mailbox.messages) == 2
