"""Credit notes in the portal: a customer sees those of their invoice, with the PDF, and never
another account's."""

import io

from pypdf import PdfReader

from billing.models import CreditNoteKind
from billing.services import credit_notes
from tests.factories import NOW
from tests.helpers import sign_in


def _credit(session, invoice, amount_minor, reason):
    return credit_notes.issue_credit_note(
        session,
        None,
        invoice_id=invoice.id,
        kind=CreditNoteKind.AMOUNT,
        amount_minor=amount_minor,
        reason=reason,
        now=NOW,
        actor="staff:1",
    )


def test_the_invoice_page_lists_its_credit_notes_with_their_pdf(client, session, make):
    user = make.portal_user(make.account(name="Acme Corp"))
    invoice = make.invoice(user.account)
    note = _credit(session, invoice, 2500, "Two hours were not worked")
    sign_in(client, user.email)
    page = client.get(f"/invoices/{invoice.id}").get_data(as_text=True)
    assert "Credit notes" in page and note.number in page
    assert "Two hours were not worked" in page and "Taken off the amount due" in page
    assert "Credited" in page  # the totals block
    pdf = client.get(f"/credit-notes/{note.id}.pdf")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.data)).pages)
    assert note.number in text and invoice.number in text


def test_another_accounts_credit_note_is_a_404(client, session, make):
    user = make.portal_user(make.account(name="Acme Corp"))
    theirs = make.invoice(make.account(name="Globex"))
    note = _credit(session, theirs, 1000, "Globex only")
    sign_in(client, user.email)
    response = client.get(f"/credit-notes/{note.id}.pdf")
    assert response.status_code == 404
    assert client.get("/credit-notes/999999.pdf").status_code == 404
    mine = make.invoice(user.account)
    assert "Credit notes" not in client.get(f"/invoices/{mine.id}").get_data(as_text=True)
