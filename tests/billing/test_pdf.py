"""The PDF invoice and receipt, read back with pypdf.

Models are built in memory (no database): relationships such as invoice.lines and
payment.refunds are set directly on transient objects.
"""

from __future__ import annotations

import io
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from PIL import Image, ImageDraw
from pypdf import PdfReader

from billing.documents.pdf import render_invoice_pdf, render_receipt_pdf
from billing.models import (
    Account,
    CompanySettings,
    Invoice,
    InvoiceLine,
    Payment,
    Refund,
)
from billing.totals import LineInput, compute_totals

FOOTER = "Thanks for your business. Bank: Example Bank, IBAN GB29 NWBK 6016 1331 9268 19."


def png_logo() -> bytes:
    img = Image.new("RGB", (300, 100), (255, 255, 255))
    draw = ImageDraw.Draw(img)
    draw.rectangle((0, 0, 100, 100), fill=(28, 78, 128))
    draw.ellipse((20, 20, 80, 80), fill=(255, 255, 255))
    out = io.BytesIO()
    img.save(out, "PNG")
    return out.getvalue()


def make_company(**overrides) -> CompanySettings:
    fields = {
        "id": 1,
        "name": "Northwind Analytics Ltd.",
        "address": "12 Harbour Street\nPortland, OR 97201",
        "email": "billing@northwind.example",
        "phone": "+1 503 555 0100",
        "tax_id": "US-98-7654321",
        "default_currency": "USD",
        "invoice_footer": FOOTER,
        "logo": None,
    }
    fields.update(overrides)
    return CompanySettings(**fields)


def make_account(**overrides) -> Account:
    fields = {
        "id": 7,
        "name": "Acme Widgets Inc.",
        "billing_email": "ap@acme.example",
        "address": "1 Main Street\nSpringfield",
        "tax_id": "ACME-TAX-1",
        "currency": "USD",
        "locale": "en_US",
        "created_at": datetime(2026, 1, 1, tzinfo=UTC),
    }
    fields.update(overrides)
    return Account(**fields)


def make_invoice(
    specs: list[tuple[str, str, int, str]],
    *,
    currency: str = "USD",
    discount: int = 0,
    paid: int = 0,
    refunded: int = 0,
    status: str = "open",
    number: str | None = "INV-2026-0042",
    memo: str = "",
) -> Invoice:
    """An invoice whose stored amounts come from billing.totals, like the real ones."""
    totals = compute_totals(
        [LineInput(Decimal(q), unit, Decimal(rate)) for _, q, unit, rate in specs], discount
    )
    invoice = Invoice(
        id=42,
        account_id=7,
        series="INV",
        number=number,
        status=status,
        currency=currency,
        issue_date=date(2026, 11, 1),
        due_date=date(2026, 12, 1),
        subtotal_minor=totals.subtotal_minor,
        discount_minor=totals.discount_minor,
        tax_minor=totals.tax_minor,
        total_minor=totals.total_minor,
        amount_paid_minor=paid,
        amount_refunded_minor=refunded,
        amount_due_minor=totals.total_minor - paid,
        memo=memo,
        created_at=datetime(2026, 11, 1, 9, 30, tzinfo=UTC),
    )
    invoice.lines = [
        InvoiceLine(
            position=i,
            description=description,
            quantity=Decimal(q).quantize(Decimal("0.0001")),
            unit_amount_minor=unit,
            tax_rate=Decimal(rate).quantize(Decimal("0.0001")),
            amount_minor=line.amount_minor,
            discount_minor=line.discount_minor,
            tax_minor=line.tax_minor,
        )
        for i, ((description, q, unit, rate), line) in enumerate(
            zip(specs, totals.lines, strict=True)
        )
    ]
    return invoice


def make_payment(**overrides) -> Payment:
    fields = {
        "id": 311,
        "account_id": 7,
        "method": "card",
        "status": "succeeded",
        "currency": "USD",
        "amount_minor": 50000,
        "amount_refunded_minor": 0,
        "received_date": date(2026, 11, 10),
        "reference": "",
        "card_brand": "visa",
        "card_last4": "4242",
        "created_at": datetime(2026, 11, 10, 14, 0, tzinfo=UTC),
    }
    fields.update(overrides)
    payment = Payment(**fields)
    payment.refunds = []
    return payment


def pages_text(data: bytes) -> list[str]:
    assert data.startswith(b"%PDF-")
    return [page.extract_text() for page in PdfReader(io.BytesIO(data)).pages]


def text_of(data: bytes) -> str:
    """All pages' text, with no-break spaces (Babel puts one before '€') read as spaces."""
    return "\n".join(pages_text(data)).replace("\xa0", " ")


SIMPLE = [
    ("Consulting, November", "1.0000", 100000, "8.25"),
    ("Support hours", "1.5000", 10000, "8.25"),
]


def render(invoice: Invoice, **kwargs) -> bytes:
    kwargs.setdefault("account", make_account())
    kwargs.setdefault("company", make_company())
    kwargs.setdefault("payments", [])
    kwargs.setdefault("refunds", [])
    return render_invoice_pdf(invoice, **kwargs)


def test_invoice_shows_parties_lines_and_totals():
    # subtotal 1,150.00; tax 8.25% of 1,150.00 = 94.875 -> lines round to 82.50 + 12.38 = 94.88
    invoice = make_invoice(SIMPLE, paid=20000)
    assert invoice.total_minor == 124488
    text = text_of(render(invoice))

    assert "INVOICE" in text
    assert "INV-2026-0042" in text
    assert "Northwind Analytics Ltd." in text
    assert "Acme Widgets Inc." in text
    assert "ap@acme.example" in text
    assert "ACME-TAX-1" in text
    for description, *_ in SIMPLE:
        assert description in text
    assert "$1,244.88" in text  # total
    assert "$1,044.88" in text  # amount due
    assert "$200.00" in text  # amount paid
    assert "Nov 1, 2026" in text and "Dec 1, 2026" in text
    assert "Discount" not in text  # only shown when there is one
    assert "Refunded" not in text


def test_total_of_1234_50_in_dollars():
    invoice = make_invoice([("Annual licence", "1", 123450, "0")])
    text = text_of(render(invoice))
    assert "$1,234.50" in text
    assert "Amount due" in text


def test_quantities_and_rates_drop_trailing_zeros():
    invoice = make_invoice(SIMPLE)
    text = text_of(render(invoice))
    assert "8.25%" in text
    assert "1.5" in text
    assert "1.5000" not in text
    assert "8.2500" not in text


def test_discount_shown_negative_and_refunds_listed():
    invoice = make_invoice(SIMPLE, discount=5000, paid=50000, refunded=2500)
    payment = make_payment(amount_refunded_minor=2500)
    refund = Refund(
        id=1,
        payment_id=311,
        invoice_id=42,
        status="succeeded",
        amount_minor=2500,
        reason="Goodwill credit",
        method="card",
        created_at=datetime(2026, 11, 12, tzinfo=UTC),
    )
    text = text_of(render(invoice, payments=[(payment, 50000)], refunds=[refund]))
    assert "Discount" in text
    assert "-$50.00" in text
    assert "Refunded" in text
    assert "Goodwill credit" in text
    assert "$25.00" in text
    # the payment section: date, method label, card last4 and the amount applied
    assert "Payments" in text
    assert "Nov 10, 2026" in text
    assert "Card" in text
    assert "4242" in text
    assert "$500.00" in text


def test_euro_invoice_for_german_account():
    invoice = make_invoice([("Beratung", "1", 123450, "0")], currency="EUR")
    account = make_account(currency="EUR", locale="de_DE")
    text = text_of(render(invoice, account=account))
    assert "1.234,50 €" in text
    assert "01.11.2026" in text


def test_yen_invoice_has_no_decimals():
    invoice = make_invoice([("Setup", "3", 12345, "10")], currency="JPY")
    account = make_account(currency="JPY", locale="en_US")
    text = text_of(render(invoice, account=account))
    assert "¥37,035" in text  # 3 x 12,345
    assert "¥40,739" in text  # plus 10% tax, rounded to whole yen
    assert "¥37,035.00" not in text


def test_japanese_locale_yen_sign_renders():
    invoice = make_invoice([("Setup", "1", 5000, "0")], currency="JPY")
    account = make_account(currency="JPY", locale="ja_JP")
    text = text_of(render(invoice, account=account))
    assert "¥5,000" in text  # the half-width sign DejaVu has, not CLDR's full-width one


def test_unicode_customer_name():
    name = "Zoë Ñúñez — Łódź"
    invoice = make_invoice(SIMPLE)
    text = text_of(render(invoice, account=make_account(name=name, address="ul. Piotrkowska 104")))
    assert name in text
    assert "ul. Piotrkowska 104" in text


def test_long_invoice_spans_pages_with_footer_on_each():
    specs = [(f"Line item number {i:02d}", "2", 1000, "5") for i in range(80)]
    data = render(make_invoice(specs, memo="Purchase order PO-88123."))
    pages = pages_text(data)
    assert len(pages) >= 3
    assert "Page 1 of" in pages[0]
    for number, page in enumerate(pages, start=1):
        assert f"Page {number} of {len(pages)}" in page
        assert "Thanks for your business" in page
    text = "\n".join(pages)
    for description, *_ in specs:
        assert description in text
    # the table heading is repeated on the pages the lines continue on
    assert "Unit price" in pages[1]
    assert "PO-88123" in pages[-1]


def test_logo_png_renders():
    company = make_company(logo=png_logo(), logo_mime="image/png")
    data = render(make_invoice(SIMPLE), company=company)
    reader = PdfReader(io.BytesIO(data))
    assert "Northwind Analytics Ltd." in reader.pages[0].extract_text()
    assert len(reader.pages[0].images) == 1


def test_broken_logo_is_skipped_not_fatal():
    company = make_company(logo=b"not an image", logo_mime="image/png")
    text = text_of(render(make_invoice(SIMPLE), company=company))
    assert "INV-2026-0042" in text


@pytest.mark.parametrize(
    ("status", "badge"),
    [("paid", "PAID"), ("void", "VOID"), ("uncollectible", "UNCOLLECTIBLE"), ("draft", "DRAFT")],
)
def test_status_badge(status, badge):
    invoice = make_invoice(SIMPLE, status=status, number=None if status == "draft" else "INV-1")
    text = text_of(render(invoice))
    assert badge in text
    if status == "draft":
        assert "Draft 42" in text


def test_open_invoice_has_no_badge():
    text = text_of(render(make_invoice(SIMPLE)))
    for badge in ("PAID", "VOID", "DRAFT"):
        assert badge not in text


def test_metadata():
    reader = PdfReader(io.BytesIO(render(make_invoice(SIMPLE))))
    assert reader.metadata.title == "Invoice INV-2026-0042"
    assert reader.metadata.author == "Northwind Analytics Ltd."


def test_same_invoice_renders_identical_bytes():
    company = make_company(logo=png_logo())
    first = render(make_invoice(SIMPLE), company=company)
    second = render(make_invoice(SIMPLE), company=company)
    assert isinstance(first, bytes)
    assert first == second


def test_receipt():
    inv_a = make_invoice(SIMPLE, number="INV-2026-0042")
    inv_b = make_invoice([("Hosting", "1", 20000, "0")], number="INV-2026-0040")
    payment = make_payment(amount_minor=60000, amount_refunded_minor=5000)
    payment.refunds = [
        Refund(
            id=1,
            payment_id=311,
            status="succeeded",
            amount_minor=5000,
            reason="Duplicate seat",
            method="card",
            created_at=datetime(2026, 11, 12, tzinfo=UTC),
        )
    ]
    data = render_receipt_pdf(
        payment,
        account=make_account(),
        company=make_company(logo=png_logo()),
        applied=[(inv_a, 40000), (inv_b, 20000)],
    )
    text = text_of(data)
    assert "RECEIPT" in text
    assert "R-000311" in text
    assert "$600.00" in text  # amount paid
    assert "INV-2026-0042" in text and "$400.00" in text
    assert "INV-2026-0040" in text and "$200.00" in text
    assert "Duplicate seat" in text
    assert "$550.00" in text  # net of the refund
    assert "Nov 10, 2026" in text
    assert "4242" in text
    assert "Acme Widgets Inc." in text
    assert "Page 1 of 1" in text and "Thanks for your business" in text
    reader = PdfReader(io.BytesIO(data))
    assert reader.metadata.title == "Receipt R-000311"
    assert data == render_receipt_pdf(
        payment,
        account=make_account(),
        company=make_company(logo=png_logo()),
        applied=[(inv_a, 40000), (inv_b, 20000)],
    )


def test_receipt_for_offline_payment_shows_reference():
    payment = make_payment(
        method="bank_transfer", card_brand=None, card_last4=None, reference="SEPA 778"
    )
    text = text_of(
        render_receipt_pdf(payment, account=make_account(), company=make_company(), applied=[])
    )
    assert "Bank transfer" in text
    assert "SEPA 778" in text
    assert "$500.00" in text
