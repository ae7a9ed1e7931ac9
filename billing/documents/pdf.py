"""Branded PDF invoices, payment receipts and credit notes, drawn with fpdf2.

Why fpdf2: it is pure Python and installs from PyPI alone (its dependencies, Pillow, fontTools
and defusedxml, all ship as wheels), so rendering works the same in the web process, in queue
workers and in CI, with no system libraries such as Cairo or Pango and no headless browser.

Every document (invoice, receipt, credit note) shares one small FPDF subclass, `_Document`,
which owns the look: the masthead (company logo and details beside the document title), the slim
header repeated on later pages, the footer on every page (the company's invoice footer and
"Page X of Y"), section headings, ruled tables whose heading row repeats after a page break, and
the right-aligned totals block. The public functions only decide what goes into those pieces.

All money and dates go through billing.formatting with the account's locale, so a PDF says
exactly what the web pages say (labels are English). Text is set in DejaVu Sans, embedded from
./fonts, so names in Latin, Greek, Cyrillic and most other alphabetic scripts print; DejaVu has
no CJK glyphs. Output is deterministic: the PDF creation date comes from the document itself
(never the clock), so rendering the same invoice twice gives identical bytes.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Sequence
from datetime import UTC, date, datetime, time
from decimal import Decimal
from pathlib import Path

from babel.core import Locale
from fpdf import FPDF, FontFace
from fpdf.enums import Align, MethodReturnValue, TableBordersLayout, TableCellStyle, XPos, YPos
from PIL import Image

from billing.formatting import format_day, format_money, format_quantity, safe_locale
from billing.models import (
    Account,
    CompanySettings,
    CreditNote,
    CreditSettlement,
    Invoice,
    InvoiceStatus,
    Payment,
    PaymentMethod,
    PaymentStatus,
    Quote,
    QuoteStatus,
    Refund,
    RefundStatus,
)

log = logging.getLogger(__name__)

FONT_DIR = Path(__file__).parent / "fonts"
FONT = "DejaVu"

# One accent colour; everything else is ink, muted grey and hairlines.
ACCENT = (28, 78, 128)
INK = (33, 37, 41)
MUTED = (108, 117, 125)
RULE = (210, 214, 219)
HEAD_FILL = (241, 243, 245)
BADGE_COLOURS = {
    "PAID": (25, 125, 70),
    "VOID": (150, 40, 40),
    "UNCOLLECTIBLE": (150, 40, 40),
    "FAILED": (150, 40, 40),
    "CANCELED": (150, 40, 40),
}

BODY_PT = 9
SMALL_PT = 7.5
MARGIN = 18  # mm, left and right
TOP = 15  # mm
FOOTER_EDGE = 9  # mm between the last footer line and the bottom of the page
FOOTER_LINE = 3.4  # mm per footer line
FOOTER_MAX_LINES = 3
PAGE_NUMBER_WIDTH = 30  # mm kept free for "Page X of Y" on the footer's first line
LOGO_MAX_W, LOGO_MAX_H = 55.0, 20.0  # mm
RIGHT_BLOCK_W = 78  # mm: the title block beside the company details

LETTER_TERRITORIES = frozenset({"US", "CA", "MX", "PH"})

# CLDR writes some currency signs in their full-width forms (ja_JP: "￥1,235"), which DejaVu
# lacks; the ordinary signs mean the same thing.
HALF_WIDTH_SIGNS = str.maketrans({"\uffe5": "\u00a5", "\uffe6": "\u20a9", "\uffe1": "\u00a3"})


def _paper(locale: str) -> str:
    """US Letter where it is the norm, A4 everywhere else."""
    territory = Locale.parse(safe_locale(locale)).territory
    return "Letter" if territory in LETTER_TERRITORIES else "A4"


def _instant(value: datetime | None, fallback: date | None) -> datetime:
    """A fixed, aware creation instant taken from the document, never from the clock."""
    if value is None:
        value = datetime.combine(fallback or date(2000, 1, 1), time(), tzinfo=UTC)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _method_label(method: PaymentMethod | str | None) -> str:
    """'Card', 'Bank transfer', ... (a plain string from a transient object works too)."""
    try:
        return PaymentMethod(method).label
    except ValueError:
        return str(method or "")


def _payment_detail(payment: Payment) -> str:
    """'Visa •••• 4242', the reference, or both."""
    parts = []
    if payment.card_last4:
        brand = (payment.card_brand or "card").replace("_", " ").title()
        parts.append(f"{brand} •••• {payment.card_last4}")
    if payment.reference:
        parts.append(payment.reference)
    return " · ".join(parts) or "—"


def _refund_note(refund: Refund) -> str:
    """The refund's reason, with its status unless it went through: 'Goodwill (pending)'."""
    note = refund.reason or ""
    status = refund.status or RefundStatus.PENDING
    if status != RefundStatus.SUCCEEDED:
        note = f"{note} ({status})".strip()
    return note or "—"


class _RuledRows(TableBordersLayout):
    """A hairline under the heading row and under every body row; no verticals."""

    def cell_style_getter(self, **_cell) -> TableCellStyle:
        return TableCellStyle(left=False, bottom=True, right=False, top=False)


class _Document(FPDF):
    """The shared look of every Paydesk PDF: masthead, page header and footer, tables, totals."""

    def __init__(
        self,
        *,
        company: CompanySettings,
        kind: str,
        number: str,
        currency: str,
        locale: str,
        created: datetime,
    ):
        super().__init__(orientation="portrait", unit="mm", format=_paper(locale))
        self.company = company
        self.kind = kind
        self.number = number
        self.currency = currency
        self.locale = safe_locale(locale)
        self.add_font(FONT, "", str(FONT_DIR / "DejaVuSans.ttf"))
        self.add_font(FONT, "B", str(FONT_DIR / "DejaVuSans-Bold.ttf"))
        self.set_font(FONT, "", BODY_PT)
        self.set_text_color(*INK)
        self.set_draw_color(*RULE)
        self.set_line_width(0.2)
        self.set_margins(MARGIN, TOP, MARGIN)
        self.c_margin = 1.5

        self.set_title(f"{kind} {number}")
        self.set_author(company.name or "")
        self.set_subject(f"{kind} {number}")
        self.set_creator("Paydesk")
        self.set_lang(self.locale.replace("_", "-"))
        self.set_creation_date(created)

        self.add_page()  # measuring the footer text needs an open page; page 1 has no header
        self.footer_lines = self._wrap_footer(company.invoice_footer or "")
        footer_h = max(1, len(self.footer_lines)) * FOOTER_LINE
        self.footer_top = self.h - FOOTER_EDGE - footer_h - 2.5
        self.set_auto_page_break(True, margin=self.h - self.footer_top + 4)

    def money(self, amount_minor: int) -> str:
        """An amount in the document's currency, formatted for the account's locale."""
        return format_money(amount_minor, self.currency, self.locale).translate(HALF_WIDTH_SIGNS)

    def day(self, value: datetime | date | None) -> str:
        """A date (or the UTC day of an instant) formatted for the account's locale."""
        return format_day(value.date() if isinstance(value, datetime) else value, self.locale)

    # -- page furniture --------------------------------------------------------------------------

    def _wrap_footer(self, text: str) -> list[str]:
        """The footer text wrapped to its column, at most FOOTER_MAX_LINES lines."""
        if not text.strip():
            return []
        self.set_font(FONT, "", SMALL_PT)
        width = self.w - 2 * MARGIN - PAGE_NUMBER_WIDTH
        lines = self.multi_cell(
            width, FOOTER_LINE, text.strip(), dry_run=True, output=MethodReturnValue.LINES
        )
        self.set_font(FONT, "", BODY_PT)
        if len(lines) > FOOTER_MAX_LINES:
            lines = [*lines[: FOOTER_MAX_LINES - 1], lines[FOOTER_MAX_LINES - 1].rstrip() + " …"]
        return lines

    def header(self) -> None:
        """Pages after the first get a slim running header: company left, document right."""
        if self.page_no() == 1:
            return
        self.set_y(TOP - 5)
        self.set_font(FONT, "B", BODY_PT)
        self.set_text_color(*INK)
        self.cell(self.epw / 2, 5, self.company.name or "")
        self.set_font(FONT, "", BODY_PT)
        self.set_text_color(*MUTED)
        self.cell(self.epw / 2, 5, f"{self.kind} {self.number}", align=Align.R)
        self.set_text_color(*INK)
        self.line(self.l_margin, TOP + 1, self.w - self.r_margin, TOP + 1)
        self.set_y(TOP + 5)

    def footer(self) -> None:
        """Every page: a hairline, the company's footer text and 'Page X of Y'."""
        self.set_draw_color(*RULE)
        self.line(self.l_margin, self.footer_top, self.w - self.r_margin, self.footer_top)
        self.set_font(FONT, "", SMALL_PT)
        self.set_text_color(*MUTED)
        y = self.footer_top + 2
        for line in self.footer_lines:
            self.set_xy(self.l_margin, y)
            self.cell(self.epw - PAGE_NUMBER_WIDTH, FOOTER_LINE, line)
            y += FOOTER_LINE
        self.set_xy(self.w - self.r_margin - PAGE_NUMBER_WIDTH, self.footer_top + 2)
        self.cell(PAGE_NUMBER_WIDTH, FOOTER_LINE, f"Page {self.page_no()} of {{nb}}", align=Align.R)
        self.set_text_color(*INK)

    # -- building blocks -------------------------------------------------------------------------

    def ensure_space(self, height: float) -> None:
        """Start a new page unless `height` mm still fit above the footer."""
        if self.get_y() + height > self.page_break_trigger:
            self.add_page()

    def text_block(self, x: float, width: float, lines: Sequence[tuple[str, str, float, tuple]]):
        """Stack (text, style, size, colour) lines at x, wrapping each to `width`."""
        for text, style, size, colour in lines:
            if not text:
                continue
            self.set_font(FONT, style, size)
            self.set_text_color(*colour)
            self.set_x(x)
            self.multi_cell(
                width, size * 0.45, text, align=Align.L, new_x=XPos.LEFT, new_y=YPos.NEXT
            )
        self.set_font(FONT, "", BODY_PT)
        self.set_text_color(*INK)

    def _logo(self, x: float, y: float) -> float:
        """Draw the company logo at (x, y) within LOGO_MAX_W x LOGO_MAX_H; return its height."""
        data = self.company.logo
        if not data:
            return 0.0
        try:
            with Image.open(io.BytesIO(data)) as img:
                px_w, px_h = img.size
            scale = min(LOGO_MAX_W / px_w, LOGO_MAX_H / px_h)
            w, h = px_w * scale, px_h * scale
            self.image(io.BytesIO(data), x=x, y=y, w=w, h=h)
        except Exception:  # a broken logo must never stop an invoice going out
            log.warning("company logo could not be drawn; rendering without it", exc_info=True)
            return 0.0
        return h

    def masthead(self, title: str, badge: str | None, meta: Sequence[tuple[str, str]]) -> None:
        """Company logo and details on the left; title, number, badge and key dates right."""
        top = self.get_y()
        left_w = self.epw - RIGHT_BLOCK_W - 8
        company = self.company
        logo_h = self._logo(self.l_margin + self.c_margin, top)
        self.set_y(top + logo_h + (3 if logo_h else 0))
        details = [*(company.address or "").strip().splitlines()]
        details += [company.email or "", company.phone or ""]
        if company.tax_id:
            details.append(f"Tax ID: {company.tax_id}")
        self.text_block(
            self.l_margin,
            left_w,
            [(company.name or "", "B", 12, INK)]
            + [(line.strip(), "", BODY_PT, MUTED) for line in details],
        )
        left_bottom = self.get_y()

        right_x = self.w - self.r_margin - RIGHT_BLOCK_W
        self.set_xy(right_x, top)
        self.set_font(FONT, "B", 22)
        self.set_text_color(*ACCENT)
        self.cell(RIGHT_BLOCK_W, 10, title, align=Align.R, new_x=XPos.LEFT, new_y=YPos.NEXT)
        self.set_font(FONT, "B", 11)
        self.set_text_color(*INK)
        self.set_x(right_x)
        self.cell(RIGHT_BLOCK_W, 6, self.number, align=Align.R, new_x=XPos.LEFT, new_y=YPos.NEXT)
        if badge:
            self._badge(badge, right_edge=self.w - self.r_margin, y=self.get_y() + 1)
            self.set_y(self.get_y() + 8)
        self.set_y(self.get_y() + 2)
        for label, value in meta:
            self.set_x(right_x)
            self.set_font(FONT, "", BODY_PT)
            self.set_text_color(*MUTED)
            self.cell(RIGHT_BLOCK_W * 0.45, 5, label, align=Align.L)
            self.set_font(FONT, "B", BODY_PT)
            self.set_text_color(*INK)
            self.cell(RIGHT_BLOCK_W * 0.55, 5, value, align=Align.R, new_x=XPos.LMARGIN)
            self.ln(5)
        self.set_font(FONT, "", BODY_PT)
        self.set_y(max(left_bottom, self.get_y()) + 6)
        self.line(self.l_margin, self.get_y(), self.w - self.r_margin, self.get_y())
        self.set_y(self.get_y() + 6)

    def _badge(self, text: str, *, right_edge: float, y: float) -> None:
        colour = BADGE_COLOURS.get(text, MUTED)
        self.set_font(FONT, "B", 8)
        width = self.get_string_width(text) + 6
        self.set_draw_color(*colour)
        self.set_text_color(*colour)
        self.set_line_width(0.4)
        self.rect(right_edge - width, y, width, 6, style="D", round_corners=True, corner_radius=1)
        self.set_xy(right_edge - width, y)
        self.cell(width, 6, text, align=Align.C)
        self.set_line_width(0.2)
        self.set_draw_color(*RULE)
        self.set_text_color(*INK)
        self.set_font(FONT, "", BODY_PT)

    def parties(self, heading: str, account: Account, box: tuple[str, str, str]) -> None:
        """The customer block on the left and a highlighted amount box on the right."""
        top = self.get_y()
        left_w = self.epw - RIGHT_BLOCK_W - 8
        self.set_y(top)
        self.text_block(self.l_margin, left_w, [(heading.upper(), "B", SMALL_PT, MUTED)])
        self.ln(1)
        lines = [(account.name or "", "B", 10.5, INK)]
        lines += [(ln.strip(), "", BODY_PT, INK) for ln in (account.address or "").splitlines()]
        if account.tax_id:
            lines.append((f"Tax ID: {account.tax_id}", "", BODY_PT, INK))
        lines.append((account.billing_email or "", "", BODY_PT, MUTED))
        self.text_block(self.l_margin, left_w, lines)
        left_bottom = self.get_y()

        label, amount, note = box
        x = self.w - self.r_margin - RIGHT_BLOCK_W
        height = 24 if note else 18
        with self.local_context():  # fill colours stay local: tables inherit the current one
            self.set_fill_color(*HEAD_FILL)
            self.rect(x, top, RIGHT_BLOCK_W, height, style="F")
            self.set_fill_color(*ACCENT)
            self.rect(x, top, 1.2, height, style="F")
        self.set_xy(x + 5, top + 3)
        self.set_font(FONT, "B", SMALL_PT)
        self.set_text_color(*MUTED)
        self.cell(RIGHT_BLOCK_W - 10, 4, label.upper(), new_x=XPos.LEFT, new_y=YPos.NEXT)
        self.set_font(FONT, "B", 16)
        self.set_text_color(*ACCENT)
        self.cell(RIGHT_BLOCK_W - 10, 9, amount, new_x=XPos.LEFT, new_y=YPos.NEXT)
        if note:
            self.set_font(FONT, "", BODY_PT)
            self.set_text_color(*INK)
            self.cell(RIGHT_BLOCK_W - 10, 5, note)
        self.set_text_color(*INK)
        self.set_font(FONT, "", BODY_PT)
        self.set_y(max(left_bottom, top + height) + 8)

    def section(self, title: str, *, min_following: float = 18) -> None:
        """A small accent heading, kept on the same page as the first rows beneath it."""
        self.ensure_space(8 + min_following)
        self.set_font(FONT, "B", 10)
        self.set_text_color(*ACCENT)
        self.cell(0, 6, title, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.set_text_color(*INK)
        self.set_font(FONT, "", BODY_PT)
        self.ln(1)

    def data_table(
        self,
        headings: Sequence[str],
        rows: Sequence[Sequence[str]],
        widths: Sequence[float],
        aligns: Sequence[str],
    ) -> None:
        """A full-width table: grey heading row (repeated after page breaks), hairline rows."""
        self.set_draw_color(*RULE)
        self.set_line_width(0.2)
        self.set_font(FONT, "", BODY_PT)
        with self.table(
            width=self.epw,
            col_widths=tuple(widths),
            text_align=tuple(aligns),
            align=Align.L,
            borders_layout=_RuledRows(),
            headings_style=FontFace(
                family=FONT, emphasis="BOLD", size_pt=8, color=INK, fill_color=HEAD_FILL
            ),
            line_height=BODY_PT * 0.5,
            padding=(1.8, 1.5, 1.8, 1.5),
            repeat_headings=1,
        ) as table:
            table.row(headings)
            for row in rows:
                table.row(row)
        self.ln(6)

    def totals(self, rows: Sequence[tuple[str, str, bool]]) -> None:
        """Right-aligned label/amount pairs; bold rows get an accent rule above them."""
        row_h = 6.0
        self.ensure_space(row_h * len(rows) + 6)
        width = 90
        x = self.w - self.r_margin - width
        for label, value, strong in rows:
            if strong:
                self.set_draw_color(*ACCENT)
                self.set_line_width(0.4)
                self.line(x, self.get_y() + 0.5, x + width, self.get_y() + 0.5)
                self.set_line_width(0.2)
                self.set_draw_color(*RULE)
                self.ln(1.5)
            self.set_x(x)
            self.set_font(FONT, "B" if strong else "", 10.5 if strong else BODY_PT)
            self.set_text_color(*(INK if strong else MUTED))
            self.cell(width * 0.5, row_h, label)
            self.set_text_color(*INK)
            self.cell(width * 0.5, row_h, value, align=Align.R, new_x=XPos.LMARGIN)
            self.ln(row_h)
        self.set_font(FONT, "", BODY_PT)
        self.ln(6)

    def payments_table(self, rows: Sequence[tuple[Payment, int]], amount_heading: str) -> None:
        """Payments: date received, method, card or reference, and an amount for each."""
        self.data_table(
            ("Date", "Method", "Reference", amount_heading),
            [
                (
                    self.day(payment.received_date),
                    _method_label(payment.method),
                    _payment_detail(payment),
                    self.money(amount),
                )
                for payment, amount in rows
            ],
            widths=(20, 18, 42, 20),
            aligns=("LEFT", "LEFT", "LEFT", "RIGHT"),
        )

    def refunds_table(self, refunds: Sequence[Refund]) -> None:
        """Refunds: when, how the money went back, why (with the status unless it succeeded)."""
        self.data_table(
            ("Date", "Method", "Reason", "Amount"),
            [
                (
                    self.day(refund.succeeded_at or refund.created_at),
                    _method_label(refund.method),
                    _refund_note(refund),
                    self.money(refund.amount_minor),
                )
                for refund in refunds
            ],
            widths=(20, 18, 42, 20),
            aligns=("LEFT", "LEFT", "LEFT", "RIGHT"),
        )

    def paragraph(self, title: str, text: str) -> None:
        """A headed free-text block (the invoice memo)."""
        self.section(title, min_following=10)
        self.multi_cell(0, 4.5, text.strip(), align=Align.L, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.ln(4)

    def closing(self, text: str) -> None:
        """A muted closing paragraph without a heading (an invoice's own footer text)."""
        self.ensure_space(10)
        self.set_font(FONT, "", SMALL_PT + 0.5)
        self.set_text_color(*MUTED)
        self.multi_cell(0, 4, text.strip(), align=Align.L, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.set_text_color(*INK)
        self.set_font(FONT, "", BODY_PT)
        self.ln(3)

    def to_bytes(self) -> bytes:
        return bytes(self.output())


def render_invoice_pdf(
    invoice: Invoice,
    *,
    account: Account,
    company: CompanySettings,
    payments: list[tuple[Payment, int]],
    refunds: list[Refund],
) -> bytes:
    """The invoice as PDF bytes.

    `invoice.lines` must be loaded. `payments` pairs each payment with the part of it applied to
    this invoice (minor units); `refunds` are the refunds that touched this invoice. Amounts are
    printed as stored on the invoice and its lines (billing/totals.py computed them); nothing is
    recomputed here. The same invoice always renders to the same bytes.
    """
    status = InvoiceStatus(invoice.status or InvoiceStatus.DRAFT)
    doc = _Document(
        company=company,
        kind="Invoice",
        number=invoice.display_number,
        currency=invoice.currency,
        locale=account.locale,
        created=_instant(invoice.finalized_at or invoice.created_at, invoice.issue_date),
    )
    money = doc.money
    doc.masthead(
        "INVOICE",
        None if status == InvoiceStatus.OPEN else status.value.upper(),
        [("Issue date", doc.day(invoice.issue_date)), ("Due date", doc.day(invoice.due_date))],
    )

    if status == InvoiceStatus.PAID:
        paid_on = f"Paid {doc.day(invoice.paid_at)}" if invoice.paid_at else ""
        box = ("Paid in full", money(invoice.total_minor), paid_on)
    elif status == InvoiceStatus.VOID:
        box = ("Invoice total", money(invoice.total_minor), "This invoice is void")
    else:
        box = ("Amount due", money(invoice.amount_due_minor), f"Due {doc.day(invoice.due_date)}")
    doc.parties("Bill to", account, box)

    _invoice_lines(doc, invoice)

    rows = [("Subtotal", money(invoice.subtotal_minor), False)]
    if invoice.discount_minor:
        rows.append(("Discount", money(-invoice.discount_minor), False))
    rows += _tax_rows(doc, invoice)
    rows += [
        ("Total", money(invoice.total_minor), True),
        ("Amount paid", money(invoice.amount_paid_minor), False),
    ]
    if invoice.amount_credited_minor:
        rows.append(("Credited", money(-invoice.amount_credited_minor), False))
    if invoice.amount_refunded_minor:
        rows.append(("Refunded", money(invoice.amount_refunded_minor), False))
    rows.append(("Amount due", money(invoice.amount_due_minor), True))
    doc.totals(rows)

    if payments:
        doc.section("Payments")
        doc.payments_table(payments, "Amount applied")
    if refunds:
        doc.section("Refunds")
        doc.refunds_table(refunds)
    if (invoice.memo or "").strip():
        doc.paragraph("Notes", invoice.memo)
    if (invoice.footer or "").strip():
        doc.closing(invoice.footer)
    return doc.to_bytes()


def _line_discount(doc: _Document, line) -> str:
    """The discount staff gave a line, '-10%' or '-$5.00', or '' for none."""
    if line.discount_percent:
        return f"-{format_quantity(line.discount_percent, doc.locale)}%"
    if line.discount_fixed_minor:
        return doc.money(-line.discount_fixed_minor)
    return ""


def _invoice_lines(doc: _Document, invoice: Invoice | Quote) -> None:
    """The lines table of an invoice or quote; a Discount column only when some line has a
    discount of its own."""
    discounts = [_line_discount(doc, line) for line in invoice.lines]
    show_discount = any(discounts)
    rows = []
    for line, discount in zip(invoice.lines, discounts, strict=True):
        row = [
            line.description or "",
            format_quantity(line.quantity, doc.locale),
            doc.money(line.unit_amount_minor),
        ]
        if show_discount:
            row.append(discount)
        row += [
            f"{format_quantity(line.tax_rate or Decimal(0), doc.locale)}%",
            doc.money(line.amount_minor),
        ]
        rows.append(row)
    if show_discount:
        headings = ("Description", "Qty", "Unit price", "Discount", "Tax %", "Amount")
        widths: tuple[float, ...] = (38, 9, 15, 12, 9, 17)
    else:
        headings = ("Description", "Qty", "Unit price", "Tax %", "Amount")
        widths = (46, 10, 16, 10, 18)
    doc.data_table(
        headings,
        rows,
        widths=widths,
        aligns=("LEFT", *["RIGHT"] * (len(headings) - 1)),
    )


def _tax_rows(doc: _Document, invoice: Invoice | Quote) -> list[tuple[str, str, bool]]:
    """One totals row per tax ('VAT 20% (included)'), or a single 'Tax' row."""
    shares = invoice.tax_breakdown()
    if not shares or (len(shares) == 1 and shares[0].name == "Tax" and not shares[0].is_inclusive):
        return [("Tax", doc.money(invoice.tax_minor or 0), False)]
    return [
        (
            f"{share.name} {format_quantity(share.percentage, doc.locale)}%"
            + (" (included)" if share.is_inclusive else ""),
            doc.money(share.amount_minor),
            False,
        )
        for share in shares
    ]


def render_credit_note_pdf(
    note: CreditNote, *, invoice: Invoice, account: Account, company: CompanySettings
) -> bytes:
    """A credit note as PDF bytes: what it credits (its lines, tax included), which invoice,
    and where the money went (off the amount due, refunded, or account credit). `note.lines`
    must be loaded. The same credit note always renders to the same bytes."""
    doc = _Document(
        company=company,
        kind="Credit note",
        number=note.number,
        currency=note.currency,
        locale=account.locale,
        created=_instant(note.created_at, note.issue_date),
    )
    money = doc.money
    doc.masthead(
        "CREDIT NOTE",
        None,
        [
            ("Issue date", doc.day(note.issue_date)),
            ("Invoice", invoice.display_number),
            ("Invoice date", doc.day(invoice.issue_date)),
        ],
    )
    doc.parties(
        "Credit to", account, ("Amount credited", money(note.amount_minor), invoice.display_number)
    )
    doc.data_table(
        ("Description", "Qty", "Tax included", "Amount"),
        [
            (
                line.description or "",
                format_quantity(line.quantity, doc.locale),
                money(line.tax_minor),
                money(line.amount_minor),
            )
            for line in note.lines
        ],
        widths=(56, 10, 16, 18),
        aligns=("LEFT", "RIGHT", "RIGHT", "RIGHT"),
    )
    rows = [
        ("Net", money(note.amount_minor - note.tax_minor), False),
        ("Tax", money(note.tax_minor), False),
        ("Total credited", money(note.amount_minor), True),
    ]
    if note.applied_to_due_minor:
        rows.append(("Off the amount due", money(note.applied_to_due_minor), False))
    if note.outside_minor:
        label = {
            CreditSettlement.REFUND: "Refunded",
            CreditSettlement.ACCOUNT_CREDIT: "Account credit",
        }.get(CreditSettlement(note.settlement), "Returned")
        rows.append((label, money(note.outside_minor), False))
    doc.totals(rows)
    if (note.reason or "").strip():
        doc.paragraph("Reason", note.reason)
    return doc.to_bytes()


def render_receipt_pdf(
    payment: Payment,
    *,
    account: Account,
    company: CompanySettings,
    applied: list[tuple[Invoice, int]],
) -> bytes:
    """A receipt for one payment as PDF bytes.

    `applied` pairs each invoice the payment settled with the amount applied to it (minor units).
    Refunds are read from `payment.refunds`; the net amount is the payment less
    `payment.amount_refunded_minor` (what actually went back).
    """
    status = PaymentStatus(payment.status or PaymentStatus.PENDING)
    refunded = payment.amount_refunded_minor or 0
    if status != PaymentStatus.SUCCEEDED:
        badge = status.value.upper()
    elif refunded >= payment.amount_minor:
        badge = "REFUNDED"
    else:
        badge = "PARTIALLY REFUNDED" if refunded else None

    doc = _Document(
        company=company,
        kind="Receipt",
        number=payment.receipt_number,
        currency=payment.currency,
        locale=account.locale,
        created=_instant(payment.succeeded_at or payment.created_at, payment.received_date),
    )
    money = doc.money
    received = doc.day(payment.received_date)
    doc.masthead(
        "RECEIPT",
        badge,
        [("Date received", received), ("Payment method", _method_label(payment.method))],
    )
    doc.parties(
        "Received from",
        account,
        ("Amount paid", money(payment.amount_minor), f"Received {received}"),
    )

    doc.section("Payment")
    doc.payments_table([(payment, payment.amount_minor)], "Amount")

    if applied:
        doc.section("Applied to invoices")
        doc.data_table(
            ("Invoice", "Issue date", "Invoice total", "Amount applied"),
            [
                (
                    invoice.display_number,
                    doc.day(invoice.issue_date),
                    money(invoice.total_minor),
                    money(amount),
                )
                for invoice, amount in applied
            ],
            widths=(38, 20, 21, 21),
            aligns=("LEFT", "LEFT", "RIGHT", "RIGHT"),
        )
    if payment.refunds:
        doc.section("Refunds")
        doc.refunds_table(payment.refunds)

    rows = [("Amount paid", money(payment.amount_minor), False)]
    applied_total = sum(amount for _, amount in applied)
    if applied and applied_total < payment.amount_minor:
        rows.append(("Applied to invoices", money(applied_total), False))
        rows.append(("Unapplied credit", money(payment.amount_minor - applied_total), False))
    if refunded:
        rows.append(("Refunded", money(-refunded), False))
    rows.append(("Net amount", money(payment.amount_minor - refunded), True))
    doc.totals(rows)
    return doc.to_bytes()


def render_quote_pdf(quote: Quote, *, account: Account, company: CompanySettings) -> bytes:
    """A quote as PDF bytes, in the invoice's look: what is offered, for how much, until when.

    `quote.lines` must be loaded. Amounts are printed as stored (billing/totals.py computed
    them). The same quote always renders to the same bytes."""
    status = QuoteStatus(quote.status or QuoteStatus.DRAFT)
    doc = _Document(
        company=company,
        kind="Quote",
        number=quote.display_number,
        currency=quote.currency,
        locale=account.locale,
        created=_instant(quote.sent_at or quote.created_at, quote.issue_date),
    )
    money = doc.money
    doc.masthead(
        "QUOTE",
        None if status == QuoteStatus.SENT else status.value.upper(),
        [("Issue date", doc.day(quote.issue_date)), ("Valid until", doc.day(quote.expiry_date))],
    )
    doc.parties(
        "Prepared for",
        account,
        ("Quote total", money(quote.total_minor), f"Valid until {doc.day(quote.expiry_date)}"),
    )
    _invoice_lines(doc, quote)
    rows = [("Subtotal", money(quote.subtotal_minor), False)]
    if quote.discount_minor:
        rows.append(("Discount", money(-quote.discount_minor), False))
    rows += [*_tax_rows(doc, quote), ("Total", money(quote.total_minor), True)]
    doc.totals(rows)
    if (quote.memo or "").strip():
        doc.paragraph("Notes", quote.memo)
    if status in (QuoteStatus.ACCEPTED, QuoteStatus.CONVERTED) and quote.responded_at:
        doc.closing(f"Accepted by {quote.accepted_name} on {doc.day(quote.responded_at)}.")
    else:
        doc.closing(
            "To accept this quote, open the link in its email or sign in to your billing portal."
        )
    return doc.to_bytes()
