"""Quotes and API keys in the admin: build a quote in the form, send it, convert an accepted
one in one click; the auto-convert setting; API keys shown once, then revoked."""

from __future__ import annotations

import io
import re
from decimal import Decimal

import pytest
from pypdf import PdfReader
from sqlalchemy import func, select

from billing.clock import utcnow
from billing.models import (
    ApiKey,
    AuditEntry,
    CompanySettings,
    Email,
    Invoice,
    InvoiceStatus,
    Product,
    ProductPrice,
    Quote,
    QuoteConversion,
    QuoteStatus,
    StaffRole,
    TaxRate,
)
from billing.services import quotes
from tests.admin import sign_in_staff
from tests.helpers import post_form
from tests.quote_helpers import LINKS, make_quote

NOW = utcnow()
TODAY = NOW.date()


@pytest.fixture
def staff(client, make):
    return sign_in_staff(client, make)


@pytest.fixture
def acme(make):
    return make.account(name="Acme Corp", billing_email="ap@acme.test")


@pytest.fixture
def catalog(session):
    """A 10% sales tax and a workshop product priced at $1,800.00 that carries it."""
    tax = TaxRate(name="Sales tax", percentage=Decimal(10), created_at=NOW)
    workshop = Product(
        name="Discovery workshop",
        created_at=NOW,
        prices=[ProductPrice(currency="USD", unit_amount_minor=180000)],
        tax_rates=[tax],
    )
    session.add_all([tax, workshop])
    session.commit()
    return tax, workshop


def _form(account_id, **values):
    data = {
        "account_id": str(account_id),
        "currency": "",
        "issue_date": TODAY.isoformat(),
        "expiry_date": TODAY.replace(day=28).isoformat() if TODAY.day < 28 else TODAY.isoformat(),
        "discount": "",
        "memo": "Thanks for considering us.",
        "lines-0-description": "Discovery workshop",
        "lines-0-quantity": "1",
        "lines-0-unit_price": "1,800.00",
        "lines-1-description": "Design (hours)",
        "lines-1-quantity": "7.5",
        "lines-1-unit_price": "125",
        "lines-1-named_taxes": "Tax|10|0",
        "lines-2-description": "",
        "lines-2-quantity": "1",
        "lines-2-unit_price": "",
    }
    return data | values


def test_staff_build_a_quote_in_the_form(client, session, staff, acme):
    page = client.get(f"/admin/quotes/new?account_id={acme.id}").get_data(as_text=True)
    assert "New quote" in page and 'for="lines-0-description"' in page
    response = post_form(client, "/admin/quotes", _form(acme.id), form_path="/admin/quotes/new")
    assert response.status_code == 302, response.get_data(as_text=True)[:3000]
    quote = session.scalars(select(Quote)).one()
    assert response.location.endswith(f"/admin/quotes/{quote.id}")
    assert quote.status == QuoteStatus.DRAFT and quote.currency == "USD"
    assert [(ln.description, ln.unit_amount_minor) for ln in quote.lines] == [
        ("Discovery workshop", 180000),
        ("Design (hours)", 12500),
    ]
    assert quote.total_minor == 180000 + 93750 + 9375
    show = client.get(response.location).get_data(as_text=True)
    assert "Draft quote" in show and "Send to customer" in show and "Quote created" not in show
    assert "Created" in show  # the audit timeline


def test_quote_lines_come_from_the_catalog_with_taxes_and_discounts_like_invoices(
    client, session, staff, acme, catalog
):
    """A product picked alone brings its name, price and tax; a line discount and a percent
    quote discount apply as on invoices, and the accepted quote's invoice has the same amounts,
    taxes and links to the catalog."""
    tax, workshop = catalog
    page = client.get(f"/admin/quotes/new?account_id={acme.id}").get_data(as_text=True)
    assert "Discovery workshop" in page and "Sales tax 10%" in page
    form = _form(
        acme.id,
        discount="5%",
        **{
            "lines-0-product": str(workshop.id),
            "lines-0-description": "",
            "lines-0-unit_price": "",
            "lines-1-discount": "10%",
            "lines-1-taxes": str(tax.id),
            "lines-1-named_taxes": "",
        },
    )
    response = post_form(client, "/admin/quotes", form, form_path="/admin/quotes/new")
    assert response.status_code == 302, response.get_data(as_text=True)[:3000]
    quote = session.scalars(select(Quote)).one()
    first, second = quote.lines
    assert (first.description, first.unit_amount_minor, first.product_id) == (
        "Discovery workshop",
        180000,
        workshop.id,
    )
    assert [(t.name, t.tax_rate_id) for t in first.taxes] == [("Sales tax", tax.id)]
    # 7.5 h x $125 = $937.50, less 10% = $843.75; then 5% off the quote's $2,643.75.
    assert second.discount_percent == Decimal(10)
    assert quote.discount_percent == Decimal(5)
    assert quote.subtotal_minor == 180000 + 93750
    assert quote.discount_minor == 9375 + 13219
    assert quote.tax_minor == sum(line.tax_minor for line in quote.lines)
    assert quote.total_minor == quote.subtotal_minor - quote.discount_minor + quote.tax_minor
    show = client.get(response.location).get_data(as_text=True)
    assert "Sales tax 10%" in show and "5% off the quote" in show
    pdf = client.get(f"/admin/quotes/{quote.id}.pdf")
    text = " ".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf.data)).pages)
    assert "Sales tax 10%" in text and "-10%" in text and "Discount" in text

    tax.percentage = Decimal(20)  # a later change to the rate does not touch the quote
    session.commit()
    quotes.send_quote(session, quote_id=quote.id, links=LINKS, now=NOW, actor="staff:1")
    quotes.accept_quote(
        session,
        quote_id=quote.id,
        account_id=acme.id,
        unsafe_name="Ada Lovelace",
        ip="127.0.0.1",
        now=NOW,
        actor="portal_user:1",
    )
    invoice = quotes.convert_quote(
        session, quote_id=quote.id, mode=QuoteConversion.DRAFT, now=NOW, actor="staff:1"
    )
    assert (invoice.subtotal_minor, invoice.discount_minor, invoice.tax_minor) == (
        quote.subtotal_minor,
        quote.discount_minor,
        quote.tax_minor,
    )
    assert invoice.total_minor == quote.total_minor
    assert [(ln.product_id, ln.discount_percent) for ln in invoice.lines] == [
        (workshop.id, None),
        (None, Decimal(10)),
    ]
    assert [(t.name, t.percentage, t.tax_rate_id) for t in invoice.lines[0].taxes] == [
        ("Sales tax", Decimal(10), tax.id)
    ]


def test_bad_input_is_shown_per_field_and_nothing_is_saved(client, session, staff, acme):
    response = post_form(
        client,
        "/admin/quotes",
        _form(
            acme.id,
            **{
                "lines-0-unit_price": "a lot",
                "lines-1-quantity": "-2",
                "expiry_date": "2020-01-01",
            },
        ),
        form_path="/admin/quotes/new",
    )
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "Enter an amount" in html
    assert 'id="lines-0-unit_price-error"' in html
    assert "Nothing was saved" in html
    response = post_form(
        client,
        "/admin/quotes",
        _form(acme.id, **{"lines-1-quantity": "-2", "expiry_date": "2020-01-01"}),
        form_path="/admin/quotes/new",
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert 'id="lines-1-quantity-error"' in html and "more than zero" in html
    assert "cannot expire before it is issued" in html
    no_customer = post_form(client, "/admin/quotes", _form(0), form_path="/admin/quotes/new")
    assert "Choose the customer" in no_customer.get_data(as_text=True)
    assert session.scalar(select(func.count()).select_from(Quote)) == 0


def test_add_a_line_keeps_what_was_typed_and_saves_nothing(client, session, staff, acme):
    response = post_form(
        client, "/admin/quotes", _form(acme.id, add_lines="1"), form_path="/admin/quotes/new"
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert 'id="lines-3-description"' in html and 'value="Discovery workshop"' in html
    assert session.scalar(select(func.count()).select_from(Quote)) == 0


def test_send_then_convert_an_accepted_quote(client, session, staff, acme):
    quote = make_quote(session, acme, send=False, now=NOW)
    page = f"/admin/quotes/{quote.id}"
    sent = post_form(client, f"{page}/send", {}, form_path=page)
    assert sent.status_code == 302
    session.refresh(quote)
    assert quote.status == QuoteStatus.SENT and quote.number == f"Q-{utcnow().year}-0001"
    email = session.scalars(select(Email).where(Email.template == "quote")).one()
    assert email.to_address == "ap@acme.test"
    html = client.get(page).get_data(as_text=True)
    link = re.search(r"http://localhost/quote/[\w-]+", html).group(0)
    assert link in email.text_body and "Send again" in html

    quotes.accept_quote(
        session,
        quote_id=quote.id,
        account_id=None,
        unsafe_name="Ada Lovelace",
        ip="203.0.113.5",
        now=NOW,
        actor="quote_link:1",
    )
    html = client.get(page).get_data(as_text=True)
    assert "Accepted by Ada Lovelace" in html and "203.0.113.5" in html
    converted = post_form(client, f"{page}/convert", {"mode": "finalize"}, form_path=page)
    invoice = session.scalars(select(Invoice)).one()
    assert converted.location.endswith(f"/admin/invoices/{invoice.id}")
    assert invoice.status == InvoiceStatus.OPEN and invoice.quote_id == quote.id
    html = client.get(page).get_data(as_text=True)
    assert invoice.number in html and "converted" in html.lower()
    again = post_form(client, f"{page}/convert", {"mode": "draft"}, form_path="/admin/quotes/new")
    assert again.status_code == 302
    assert session.scalar(select(func.count()).select_from(Invoice)) == 1


def test_converting_a_quote_that_is_not_accepted_is_refused(client, session, staff, acme):
    quote = make_quote(session, acme, now=NOW)
    page = f"/admin/quotes/{quote.id}"
    response = post_form(
        client, f"{page}/convert", {"mode": "draft"}, form_path="/admin/quotes/new"
    )
    assert "Only an accepted quote" in client.get(response.location).get_data(as_text=True)
    assert session.scalar(select(func.count()).select_from(Invoice)) == 0


def test_the_list_filters_and_searches(client, session, staff, acme, make):
    globex = make.account(name="Globex")
    mine, theirs = make_quote(session, acme, now=NOW), make_quote(session, globex, now=NOW)
    draft = make_quote(session, acme, send=False, now=NOW)
    html = client.get("/admin/quotes").get_data(as_text=True)
    assert mine.number in html and theirs.number in html and f"Draft quote {draft.id}" in html
    found = client.get("/admin/quotes?q=globex").get_data(as_text=True)
    assert theirs.number in found and mine.number not in found
    drafts = client.get("/admin/quotes?status=draft").get_data(as_text=True)
    assert f"Draft quote {draft.id}" in drafts and mine.number not in drafts
    assert client.get("/admin/quotes?status=nonsense&older=garbage").status_code == 200


def test_read_only_staff_see_quotes_but_cannot_change_them(client, session, make, acme):
    sign_in_staff(client, make, role=StaffRole.READ_ONLY)
    quote = make_quote(session, acme, send=False, now=NOW)
    html = client.get(f"/admin/quotes/{quote.id}").get_data(as_text=True)
    assert "Send to customer" not in html
    assert client.get("/admin/quotes/new").status_code == 403
    response = post_form(client, f"/admin/quotes/{quote.id}/send", {}, form_path="/admin/quotes")
    assert response.status_code == 403
    session.refresh(quote)
    assert quote.status == QuoteStatus.DRAFT


def test_auto_convert_is_a_company_setting(client, session, staff):
    html = client.get("/admin/settings").get_data(as_text=True)
    assert "When a customer accepts a quote" in html
    values = {
        "name": "Northwind Studio",
        "default_currency": "USD",
        "quote_auto_convert": "finalize",
        "allow_account_credit": "y",
    }
    assert post_form(client, "/admin/settings", values).status_code == 302
    assert session.scalar(select(CompanySettings.quote_auto_convert)) == "finalize"
    entry = session.scalars(
        select(AuditEntry).where(AuditEntry.action.like("company_settings.%"))
    ).all()[-1]
    assert entry.after["quote_auto_convert"] == "finalize"
    bad = post_form(client, "/admin/settings", values | {"quote_auto_convert": "always"})
    assert bad.status_code == 422
    without = {k: v for k, v in values.items() if k != "quote_auto_convert"}
    assert post_form(client, "/admin/settings", without).status_code == 302
    session.expire_all()
    assert session.scalar(select(CompanySettings.quote_auto_convert)) == "finalize"


# --- API keys -------------------------------------------------------------------------------


def test_an_api_key_is_shown_once_and_works_until_revoked(client, session, staff):
    created = post_form(
        client,
        "/admin/api-keys",
        {"name": "Web shop", "scopes": ["orders:write", "invoices:read"]},
    )
    assert created.status_code == 200
    token = re.search(r'id="new-key-value">(pdk_[\w-]+)<', created.get_data(as_text=True)).group(1)
    key = session.scalars(select(ApiKey)).one()
    assert key.scopes == "invoices:read orders:write" and token not in key.token_hash
    listing = client.get("/admin/api-keys").get_data(as_text=True)
    assert token not in listing and key.prefix in listing and "Active" in listing

    auth = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/invoices/1", headers=auth).status_code == 404  # valid key
    revoked = post_form(client, f"/admin/api-keys/{key.id}/revoke", {}, form_path="/admin/api-keys")
    assert revoked.status_code == 302
    assert client.get("/api/v1/invoices/1", headers=auth).status_code == 401
    assert "Revoked" in client.get("/admin/api-keys").get_data(as_text=True)
    actions = session.scalars(
        select(AuditEntry.action).where(AuditEntry.subject_type == "api_keys")
    ).all()
    assert actions == ["api_key.created", "api_key.revoked"]


def test_api_key_form_validation_and_roles(client, session, make):
    sign_in_staff(client, make)
    response = post_form(client, "/admin/api-keys", {"name": "", "scopes": []})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "Name the system" in html and "Choose at least one permission" in html
    bogus = post_form(client, "/admin/api-keys", {"name": "X", "scopes": ["admin:all"]})
    assert bogus.status_code == 422
    assert session.scalar(select(func.count()).select_from(ApiKey)) == 0
    other = client.application.test_client()
    sign_in_staff(other, make, role=StaffRole.ACCOUNTANT)
    assert (
        post_form(other, "/admin/api-keys", {"name": "X"}, form_path="/admin/api-keys").status_code
        == 403
    )
    assert "Create a key" not in other.get("/admin/api-keys").get_data(as_text=True)


def test_a_draft_is_edited_in_the_same_form_and_a_sent_quote_is_not(client, session, staff, acme):
    quote = make_quote(session, acme, send=False, now=NOW)
    page = client.get(f"/admin/quotes/{quote.id}/edit").get_data(as_text=True)
    assert 'value="Website redesign, fixed fee"' in page and 'value="4800.00"' in page
    assert 'value="12.5"' in page and 'value="Tax|10|0"' in page
    changed = _form(acme.id, **{"lines-0-description": "Workshop, half day"})
    response = post_form(
        client,
        f"/admin/quotes/{quote.id}/edit",
        changed,
        form_path=f"/admin/quotes/{quote.id}/edit",
    )
    assert response.status_code == 302
    session.refresh(quote)
    assert [line.description for line in quote.lines] == ["Workshop, half day", "Design (hours)"]
    assert quote.total_minor == 180000 + 93750 + 9375
    assert session.scalars(
        select(AuditEntry.action).where(AuditEntry.subject_type == "quotes")
    ).all() == ["quote.created", "quote.updated"]

    quotes.send_quote(
        session,
        quote_id=quote.id,
        links=quotes.LinkSettings("s" * 40, "http://x"),
        now=NOW,
        actor="staff:1",
    )
    refused = post_form(
        client, f"/admin/quotes/{quote.id}/edit", changed, form_path="/admin/quotes"
    )
    assert "Only a draft quote can be changed" in client.get(refused.location).get_data(
        as_text=True
    )
    assert "Edit</a>" not in client.get(f"/admin/quotes/{quote.id}").get_data(as_text=True)
