"""Staff invoicing through the admin's HTTP interface: the draft editor (catalog and free-form
lines, no JavaScript needed), per-field errors that save nothing, actions offered only where
allowed and refused with a message otherwise, credit notes, and who may act."""

import re
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from billing.clock import utcnow
from billing.models import (
    AuditEntry,
    CreditNote,
    Email,
    Invoice,
    InvoiceStatus,
    StaffRole,
)
from billing.services import catalog
from tests.admin import sign_in_staff
from tests.factories import NOW
from tests.helpers import post_form


@pytest.fixture
def admin_client(client, make):
    sign_in_staff(client, make)
    return client


@pytest.fixture
def catalog_items(session):
    vat = catalog.save_tax_rate(
        session, tax_rate_id=None, values={"name": "VAT", "percentage": "20"}, now=NOW, actor="t"
    )
    widget = catalog.save_product(
        session,
        product_id=None,
        values={"name": "Widget", "prices": [("USD", "12.50")], "tax_rate_ids": [str(vat.id)]},
        now=NOW,
        actor="t",
    )
    return vat, widget


def count(session, model) -> int:
    return session.scalar(select(func.count()).select_from(model))


def editor_data(account_id, **extra) -> dict:
    data = {
        "account_id": str(account_id),
        "currency": "USD",
        "issue_date": "2026-11-01",
        "terms": "net",
        "net_days": "30",
        "discount": "",
        "memo": "",
        "footer": "",
    }
    data.update(extra)
    return data


def test_new_invoice_from_catalog_and_free_form_lines(admin_client, make, session, catalog_items):
    vat, widget = catalog_items
    account = make.account(name="Acme Corp")
    page = admin_client.get(f"/admin/invoices/new?customer={account.id}").get_data(as_text=True)
    assert (
        f'<option selected value="{account.id}">' in page
        or f'value="{account.id}" selected' in page
    )
    assert "Widget" in page and "VAT 20%" in page and "invoice_editor.js" in page
    response = post_form(
        admin_client,
        "/admin/invoices/new",
        editor_data(
            account.id,
            discount="10%",
            memo="PO 12",
            **{
                # a product alone: name, price and usual tax come from the catalog
                "lines-0-product": str(widget.id),
                "lines-0-quantity": "4",
                # free-form with a line discount and a chosen tax
                "lines-1-description": "Setup",
                "lines-1-quantity": "1.5",
                "lines-1-unit_price": "100.00",
                "lines-1-discount": "15.00",
                "lines-1-taxes": str(vat.id),
                # a blank row is ignored
                "lines-2-quantity": "1",
            },
        ),
        form_path="/admin/invoices/new",
    )
    assert response.status_code == 302, response.get_data(as_text=True)[:3000]
    invoice = session.scalars(select(Invoice)).one()
    assert response.headers["Location"] == f"/admin/invoices/{invoice.id}"
    assert [(ln.description, ln.unit_amount_minor, ln.product_id) for ln in invoice.lines] == [
        ("Widget", 1250, widget.id),
        ("Setup", 10000, None),
    ]
    assert invoice.discount_percent == Decimal(10) and invoice.memo == "PO 12"
    # 50.00 + 135.00 net = 185.00, -10% = 166.50, +20% VAT = 199.80
    assert invoice.total_minor == 19980
    show = admin_client.get(response.headers["Location"]).get_data(as_text=True)
    for text in [f"Draft {invoice.id} saved", "Preview PDF", "Finalize", "Delete draft", "VAT 20%"]:
        assert text in show, text


def test_add_lines_without_javascript(admin_client, make, session):
    account = make.account()
    response = post_form(
        admin_client,
        "/admin/invoices/new",
        editor_data(account.id, add_lines="1", **{"lines-0-description": "Kept"}),
        form_path="/admin/invoices/new",
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and 'value="Kept"' in html
    assert len(re.findall(r'class="line-row"', html)) == 6
    assert count(session, Invoice) == 0


@pytest.mark.parametrize(
    ("extra", "field", "message"),
    [
        ({"lines-0-quantity": "-2"}, "lines-0-quantity", "more than zero"),
        ({"lines-0-quantity": "99999999"}, "lines-0-quantity", "at most 1,000,000"),
        ({"lines-0-quantity": "1,5"}, "lines-0-quantity", "Use a dot"),
        ({"lines-0-unit_price": "a lot"}, "lines-0-unit_price", "Enter an amount"),
        ({"lines-0-unit_price": "1.999"}, "lines-0-unit_price", "at most 2 decimals"),
        ({"lines-0-discount": "150%"}, "lines-0-discount", "between 0% and 100%"),
        ({"lines-0-taxes": "99999"}, "lines-0-taxes", "Choose tax rates"),
        ({"currency": "ZZZ"}, "currency", "Choose a currency"),
        ({"issue_date": "2026-13-45"}, "issue_date", "YYYY-MM-DD"),
        ({"terms": "date", "due_date": "2026-10-01"}, "due_date", "before the issue date"),
        ({"net_days": "nine"}, "net_days", "whole number"),
        ({"memo": "m" * 1_000_000}, "memo", "at most 5,000 characters"),
        ({"discount": "lots"}, "discount", "a percent like 10%"),
    ],
)
def test_bad_input_gets_a_message_beside_its_field_and_saves_nothing(
    admin_client, make, session, extra, field, message
):
    account = make.account()
    data = editor_data(
        account.id,
        **({"lines-0-description": "Hours", "lines-0-quantity": "2", "lines-0-unit_price": "10"}
           | extra),
    )  # fmt: skip
    response = post_form(admin_client, "/admin/invoices/new", data, form_path="/admin/invoices/new")
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "Nothing was saved" in html and message in html, html[html.find("field-error") - 500 :][
        :1500
    ]
    assert f'id="{field}-error"' in html or f'id="{field}"' in html
    assert count(session, Invoice) == 0


def test_every_problem_of_the_lines_is_shown_at_once(admin_client, make, session):
    """A value the editor cannot read does not hide the lines' other problems: staff fix the
    form in one pass, and nothing is saved."""
    account = make.account()
    data = editor_data(account.id, **{
        "lines-0-description": "Hours", "lines-0-quantity": "-2", "lines-0-unit_price": "abc",
        "lines-1-description": "", "lines-1-quantity": "0", "lines-1-unit_price": "5",
    })  # fmt: skip
    response = post_form(admin_client, "/admin/invoices/new", data, form_path="/admin/invoices/new")
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    for field, message in [
        ("lines-0-quantity", "The quantity must be more than zero."),
        ("lines-0-unit_price", "Enter an amount such as 125.00."),
        ("lines-1-quantity", "The quantity must be more than zero."),
        ("lines-1-description", "Describe what this line is for."),
    ]:
        error = re.search(rf'id="{field}-error"[^>]*>([^<]*)<', html)
        assert error and message in error.group(1), (field, error and error.group(1))
    assert count(session, Invoice) == 0


def test_a_thousand_lines_are_refused(admin_client, make, session):
    account = make.account()
    lines = {}
    for i in range(1000):
        lines |= {f"lines-{i}-description": "x", f"lines-{i}-quantity": "1",
                  f"lines-{i}-unit_price": "1"}  # fmt: skip
    response = post_form(
        admin_client, "/admin/invoices/new", editor_data(account.id, **lines),
        form_path="/admin/invoices/new",
    )  # fmt: skip
    assert response.status_code == 422
    assert "at most 200 lines" in response.get_data(as_text=True)
    assert count(session, Invoice) == 0


def test_editing_a_draft_and_the_refusal_once_finalized(admin_client, make, session):
    draft = make.invoice(finalize=False)
    page = admin_client.get(f"/admin/invoices/{draft.id}/edit").get_data(as_text=True)
    assert 'value="Consulting"' in page and 'value="150.00"' in page
    assert 'name="lines-0-named_taxes" type="hidden" value="Tax|10|0"' in page
    response = post_form(
        admin_client,
        f"/admin/invoices/{draft.id}/edit",
        editor_data(
            draft.account_id,
            **{
                "lines-0-description": "Consulting",
                "lines-0-quantity": "3",
                "lines-0-unit_price": "150.00",
                "lines-0-named_taxes": "Tax|10|0",
            },
        ),
    )
    assert response.status_code == 302
    session.expire_all()
    invoice = session.get(Invoice, draft.id)
    assert invoice.total_minor == 49500 and len(invoice.lines) == 1
    final = make.invoice()
    blocked = admin_client.get(f"/admin/invoices/{final.id}/edit", follow_redirects=True)
    assert "can no longer be edited" in blocked.get_data(as_text=True)


def actions_of(html: str) -> set[str]:
    return set(re.findall(r'action="/admin/invoices/\d+/([a-z-]+)"', html)) | set(
        re.findall(r'href="/admin/invoices/\d+/(edit|credit-notes/new)"', html)
    )


def test_each_status_offers_only_its_actions(admin_client, make):
    draft, open_ = make.invoice(finalize=False), make.invoice()
    paid, void = make.invoice(paid_minor=37999), make.invoice(status="void")

    def actions(invoice):
        return actions_of(admin_client.get(f"/admin/invoices/{invoice.id}").get_data(as_text=True))

    assert actions(draft) >= {"edit", "finalize", "delete", "duplicate"}
    assert "send" not in actions(draft) and "void" not in actions(draft)
    assert actions(open_) >= {"send", "void", "uncollectible", "credit-notes/new", "duplicate"}
    assert not actions(open_) & {"edit", "finalize", "delete"}
    assert "void" not in actions(paid) and "credit-notes/new" in actions(paid)
    assert {a for a in actions(void) if a != "payments"} <= {"duplicate"}


def test_actions_refused_with_a_message_where_not_allowed(admin_client, make, session):
    paid = make.invoice(paid_minor=37999)
    response = post_form(
        admin_client, f"/admin/invoices/{paid.id}/void", {}, form_path=f"/admin/invoices/{paid.id}",
        follow_redirects=True,
    )  # fmt: skip
    assert "cannot be voided" in response.get_data(as_text=True)
    draft = make.invoice(finalize=False)
    response = post_form(
        admin_client, f"/admin/invoices/{draft.id}/send", {},
        form_path=f"/admin/invoices/{draft.id}", follow_redirects=True,
    )  # fmt: skip
    assert "Finalize it first" in response.get_data(as_text=True)
    final = make.invoice()
    response = post_form(
        admin_client, f"/admin/invoices/{final.id}/delete", {},
        form_path=f"/admin/invoices/{final.id}", follow_redirects=True,
    )  # fmt: skip
    assert "only a draft can be deleted" in response.get_data(as_text=True)
    assert session.get(Invoice, final.id) is not None
    # Without the CSRF token nothing happens.
    assert admin_client.post(f"/admin/invoices/{final.id}/void").status_code == 400


def test_finalize_send_duplicate_void_and_delete(admin_client, make, session):
    draft = make.invoice(finalize=False)
    show = f"/admin/invoices/{draft.id}"
    finalized = post_form(admin_client, f"{show}/finalize", {}, form_path=show,
                          follow_redirects=True)  # fmt: skip
    assert "INV-2026-0001 is finalized" in finalized.get_data(as_text=True)
    sent = post_form(admin_client, f"{show}/send", {}, form_path=show, follow_redirects=True)
    html = sent.get_data(as_text=True)
    assert "Sent to " in html and "Send again" in html
    email = session.scalars(select(Email).where(Email.template == "invoice")).one()
    assert "/pay/" in email.text_body
    assert email.attachments == [{"kind": "invoice_pdf", "id": draft.id}]
    logged = admin_client.get(f"/admin/emails/{email.id}").get_data(as_text=True)
    assert f'<a href="/admin/invoices/{draft.id}.pdf">Invoice PDF</a>' in logged
    copy = post_form(admin_client, f"{show}/duplicate", {}, form_path=show)
    assert re.fullmatch(r"/admin/invoices/\d+/edit", copy.headers["Location"])
    voided = post_form(admin_client, f"{show}/void", {}, form_path=show, follow_redirects=True)
    assert "is void" in voided.get_data(as_text=True)
    copy_id = int(copy.headers["Location"].split("/")[3])
    post_form(admin_client, f"/admin/invoices/{copy_id}/delete", {}, form_path=show)
    assert session.get(Invoice, copy_id) is None
    actions = set(session.scalars(select(AuditEntry.action)))
    assert {"invoice.finalized", "invoice.sent", "invoice.duplicated", "invoice.voided",
            "invoice.deleted"} <= actions  # fmt: skip


def test_read_only_staff_see_no_buttons_and_cannot_act(client, make, session):
    sign_in_staff(client, make, role=StaffRole.READ_ONLY)
    invoice = make.invoice()
    html = client.get(f"/admin/invoices/{invoice.id}").get_data(as_text=True)
    assert actions_of(html) - {"payments"} == set()
    assert "New invoice" not in client.get("/admin/invoices").get_data(as_text=True)
    for path in ["void", "send", "finalize", "duplicate", "credit-notes/new"]:
        response = post_form(
            client, f"/admin/invoices/{invoice.id}/{path}", {},
            form_path=f"/admin/invoices/{invoice.id}",
        )  # fmt: skip
        assert response.status_code == 403, path
    assert client.get("/admin/invoices/new").status_code == 403
    session.expire_all()
    assert session.get(Invoice, invoice.id).status == InvoiceStatus.OPEN


def test_credit_note_from_the_invoice_page(admin_client, make, session):
    invoice = make.invoice()
    form = f"/admin/invoices/{invoice.id}/credit-notes/new"
    page = admin_client.get(form).get_data(as_text=True)
    assert "$379.99" in page and "Consulting" in page
    too_much = post_form(admin_client, form, {"kind": "amount", "amount": "400.00"})
    assert too_much.status_code == 422
    assert "can be at most $379.99" in too_much.get_data(as_text=True)
    assert count(session, CreditNote) == 0
    response = post_form(
        admin_client, form, {"kind": "amount", "amount": "100.00", "reason": "Late", "send": "y"}
    )
    note = session.scalars(select(CreditNote)).one()
    assert response.headers["Location"] == f"/admin/credit-notes/{note.id}"
    page = admin_client.get(response.headers["Location"]).get_data(as_text=True)
    number = f"CN-{utcnow().year}-0001"  # issued today by the real clock
    for text in [number, invoice.number, "$100.00", "Late", "credit_note.issued"]:
        assert text in page, text
    pdf = admin_client.get(f"/admin/credit-notes/{note.id}.pdf")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    assert session.scalars(select(Email).where(Email.template == "credit_note")).one()
    show = admin_client.get(f"/admin/invoices/{invoice.id}").get_data(as_text=True)
    assert number in show and "invoice.credited" in show and "$279.99" in show
    lines = post_form(admin_client, form, {"kind": "lines"})
    assert "Choose at least one line" in lines.get_data(as_text=True)


def test_credit_note_after_payment_asks_how_to_give_money_back(admin_client, make, session):
    invoice = make.invoice(paid_minor=37999)
    form = f"/admin/invoices/{invoice.id}/credit-notes/new"
    assert "A refund of their payment" in admin_client.get(form).get_data(as_text=True)
    missing = post_form(admin_client, form, {"kind": "amount", "amount": "10.00"})
    assert missing.status_code == 422
    assert "choose how $10.00 goes back" in missing.get_data(as_text=True)
    done = post_form(
        admin_client, form, {"kind": "amount", "amount": "10.00", "settlement": "account_credit"}
    )
    assert done.status_code == 302
    note = session.scalars(select(CreditNote)).one()
    assert note.outside_minor == 1000 and note.settlement_status == "done"


def test_customer_invite_role_and_deactivate_from_the_customer_page(admin_client, make, session):
    account = make.account(name="Acme Corp")
    page = f"/admin/customers/{account.id}"
    invited = post_form(
        admin_client, f"{page}/users", {"email": "Nia@Acme.test", "name": "Nia", "role": "viewer"},
        form_path=page, follow_redirects=True,
    )  # fmt: skip
    html = invited.get_data(as_text=True)
    assert "Invitation sent to nia@acme.test" in html and "Invited" in html
    user = session.scalars(select(Email).where(Email.template == "invitation")).one()
    assert user.to_address == "nia@acme.test"
    from billing.models import PortalUser

    portal_user = session.scalars(select(PortalUser)).one()
    post_form(
        admin_client, f"{page}/users/{portal_user.id}/role", {"role": "owner"}, form_path=page
    )
    post_form(admin_client, f"{page}/users/{portal_user.id}/deactivate", {}, form_path=page)
    session.expire_all()
    portal_user = session.get(PortalUser, portal_user.id)
    assert portal_user.role == "owner" and not portal_user.is_active
    bad = post_form(admin_client, f"{page}/users", {"email": "nope", "role": "viewer"},
                    form_path=page, follow_redirects=True)  # fmt: skip
    assert "Not invited" in bad.get_data(as_text=True)


def test_new_and_edited_customer(admin_client, session):
    response = post_form(
        admin_client,
        "/admin/customers/new",
        {
            "name": "Initech",
            "billing_email": "ap@initech.test",
            "currency": "EUR",
            "locale": "de_DE",
            "payment_terms_days": "14",
            "invoice_cc": "cfo@initech.test",
        },
    )
    assert response.status_code == 302
    from billing.models import Account

    account = session.scalars(select(Account)).one()
    assert (account.currency, account.payment_terms_days) == ("EUR", 14)
    bad = post_form(
        admin_client,
        f"/admin/customers/{account.id}/edit",
        {"name": "", "billing_email": "x", "currency": "EUR", "locale": "de_DE",
         "payment_terms_days": "-3", "invoice_cc": "nope"},
    )  # fmt: skip
    html = bad.get_data(as_text=True)
    assert bad.status_code == 422
    for message in ["Legal name is required", "Enter an email address", "from 0 to 3650",
                    "is not an email address"]:  # fmt: skip
        assert message in html, message
    session.expire_all()
    assert session.get(Account, account.id).name == "Initech"


def test_catalog_pages(admin_client, session, catalog_items):
    html = admin_client.get("/admin/catalog").get_data(as_text=True)
    assert "Widget" in html and "$12.50" in html and "VAT" in html
    response = post_form(
        admin_client, "/admin/catalog/tax-rates/new", {"name": "GST", "percentage": "10",
                                                       "is_inclusive": "y", "is_active": "y"},
    )  # fmt: skip
    assert response.status_code == 302
    bad = post_form(admin_client, "/admin/catalog/products/new",
                    {"name": "", "prices-0-currency": "USD", "prices-0-amount": "abc"})  # fmt: skip
    assert bad.status_code == 422 and "Name is required" in bad.get_data(as_text=True)
    added_row = post_form(admin_client, "/admin/catalog/products/new", {"add_price": "1"})
    assert added_row.get_data(as_text=True).count('name="prices-') >= 8


def test_issue_date_and_memo_appear_in_the_preview_pdf(admin_client, make):
    import io

    from pypdf import PdfReader

    draft = make.invoice(finalize=False, memo="Preview me", issue_date=date(2026, 11, 3))
    pdf = admin_client.get(f"/admin/invoices/{draft.id}.pdf")
    text = PdfReader(io.BytesIO(pdf.data)).pages[0].extract_text()
    assert "DRAFT" in text and "Preview me" in text and "Nov 3, 2026" in text
