"""The document editor shared by invoices and quotes: customer, currency, issue date, lines
(from the catalog or free-form, each with a discount and several taxes), a document discount
(a percent or an amount) and notes. It turns what staff typed into the values the services
take (amounts in minor units, percentages, dates), with a message per field for what cannot be
read; the services decide what is valid and the form shows their messages in place.

The editor works without JavaScript: it shows the document's lines plus blank rows, blank rows
are ignored, "Add lines" re-shows the form with more rows, and a line with only a product chosen
takes that product's name, price in the document's currency and usual taxes.
static/js/invoice_editor.js fills the same in as soon as a product is picked.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from flask_wtf import FlaskForm
from wtforms import (
    FieldList,
    Form,
    FormField,
    HiddenField,
    SelectChoice,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import Length

from admin.forms import COMMON_CURRENCIES
from billing.models import Product, TaxRate
from billing.money import Money, check_currency
from billing.services.invoices import MAX_LINES, DraftLine, DraftTax, check_line

BLANK_ROWS = 3
ADD_ROWS = 5


def _max(length: int) -> Length:
    return Length(max=length, message=f"Use at most {length:,} characters.")


def parse_quantity(text: str) -> Decimal:
    """'1.5' -> Decimal('1.5'); raises ValueError with a message for people."""
    text = (text or "").strip()
    if not text:
        raise ValueError("Enter a quantity.")
    if "," in text:
        raise ValueError("Use a dot for decimals, e.g. 1.5.")
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise ValueError("Enter a number, e.g. 2 or 1.5.") from None
    if not value.is_finite():
        raise ValueError("Enter a number, e.g. 2 or 1.5.")
    return value


def parse_amount(text: str, currency: str) -> int:
    """'1,250.50' -> 125050 in `currency`; raises ValueError with a message for people."""
    amount = Money.parse(text, currency).amount_minor
    if amount < 0:
        raise ValueError("Enter an amount that is not negative.")
    return amount


def parse_discount(text: str, currency: str) -> tuple[Decimal | None, int]:
    """'' -> no discount; '10%' -> (10, 0); '25.00' -> (None, 2500). Raises ValueError."""
    text = (text or "").strip()
    if not text:
        return None, 0
    if text.endswith("%"):
        try:
            percent = Decimal(text[:-1].strip())
        except InvalidOperation:
            raise ValueError("Write a percent like 10% or an amount like 25.00.") from None
        if not percent.is_finite() or not 0 <= percent <= 100:
            raise ValueError("A percent discount must be between 0% and 100%.")
        return (percent or None), 0
    try:
        return None, parse_amount(text, currency)
    except ValueError:
        raise ValueError("Write a percent like 10% or an amount like 25.00.") from None


def parse_day(text: str, label: str) -> date:
    try:
        return date.fromisoformat((text or "").strip())
    except ValueError:
        raise ValueError(f"Enter the {label} as a date (YYYY-MM-DD).") from None


class LineForm(Form):
    """One line of an invoice or quote: a catalog product or free-form text, quantity, unit
    price, discount (10% or an amount) and taxes."""

    product = SelectField("Product", choices=[], validate_choice=False)
    description = StringField("Description", validators=[_max(500)])
    quantity = StringField("Qty", default="1", validators=[_max(30)])
    unit_price = StringField("Unit price", validators=[_max(30)])
    discount = StringField("Discount", validators=[_max(30)])
    taxes = SelectMultipleField("Taxes", choices=[], validate_choice=False)
    # Taxes not from the catalog (an invoice written before its rates were), kept as they are:
    # "name|percent|1 for inclusive" joined by ";".
    named_taxes = HiddenField(validators=[_max(600)])

    def named(self) -> list[DraftTax]:
        """The line's taxes kept by name; raises ValueError for a tampered value."""
        taxes = []
        for item in filter(None, (self.named_taxes.data or "").split(";")):
            name, percent, inclusive = item.split("|")
            value = Decimal(percent)
            if not name.strip() or not value.is_finite() or not 0 <= value <= 100:
                raise ValueError
            taxes.append(DraftTax(name.strip()[:100], value, inclusive == "1"))
        return taxes

    def named_labels(self) -> list[str]:
        try:
            taxes = self.named()
        except (ValueError, ArithmeticError):
            return []
        return [
            f"{t.name} {t.percentage.normalize():f}%" + (" (included)" if t.inclusive else "")
            for t in taxes
        ]

    def is_blank(self) -> bool:
        return not any(
            (getattr(self, name).data or "").strip()
            for name in ("product", "description", "unit_price")
        )


class DocumentForm(FlaskForm):
    """The fields and line handling invoices and quotes share; subclasses add their terms
    (`_prefill_terms`, `_terms_values`)."""

    failed = False  # set when a service refused the values (line errors are not in .errors)
    account_id = SelectField("Customer", coerce=str, validate_choice=False)
    currency = SelectField("Currency", validate_choice=False)
    issue_date = StringField("Issue date", validators=[_max(10)])
    discount = StringField("Discount", validators=[_max(30)])
    memo = TextAreaField("Memo (shown to the customer)", validators=[_max(5000)])
    # No max_entries: WTForms would silently drop rows past it; the service refuses too many.
    lines = FieldList(FormField(LineForm), min_entries=1)

    def __init__(
        self,
        *args,
        customers=(),
        products: list[Product] = (),
        tax_rates: list[TaxRate] = (),
        document=None,
        default_currency: str = "USD",
        today: date | None = None,
        customer_id: str | None = None,
        **kwargs,
    ):
        super().__init__(*args, **kwargs)
        if not self.is_submitted() and customer_id:
            self.account_id.data = customer_id
        self.products = {str(p.id): p for p in products}
        self.tax_rates = {str(t.id): t for t in tax_rates}
        self._currencies = {str(a.id): a.currency for a in customers}
        self._terms = {str(a.id): a.payment_terms_days for a in customers}
        self.account_id.choices = [SelectChoice("", "Choose a customer…")] + [
            SelectChoice(str(a.id), f"{a.name} ({a.currency})") for a in customers
        ]
        currencies = list(dict.fromkeys([default_currency, *COMMON_CURRENCIES]))
        if document is not None and document.currency not in currencies:
            currencies.insert(0, document.currency)
        self.currency.choices = [SelectChoice(c, c) for c in currencies]
        if not self.is_submitted():
            self._prefill(document, today or date.today(), default_currency)
        self._set_line_choices()

    # -- showing ---------------------------------------------------------------------------------

    def _prefill(self, document, today: date, default_currency: str) -> None:
        self._prefill_terms(document, today)
        if document is None:
            account = self.account_id.data or ""
            self.currency.data = self._currencies.get(account, default_currency)
            self.issue_date.data = today.isoformat()
            for _ in range(BLANK_ROWS - 1):
                self.lines.append_entry()
            return
        self.account_id.data = str(document.account_id)
        self.currency.data = document.currency
        self.issue_date.data = document.issue_date.isoformat()
        self.discount.data = _discount_text(document, document.currency)
        self.memo.data = document.memo
        while self.lines.entries:
            self.lines.pop_entry()
        for line in document.lines:
            self.lines.append_entry(
                {
                    "product": str(line.product_id or ""),
                    "description": line.description,
                    "quantity": f"{line.quantity.normalize():f}",
                    "unit_price": f"{Money(line.unit_amount_minor, document.currency).major:f}",
                    "discount": _discount_text(line, document.currency),
                    "taxes": [str(t.tax_rate_id) for t in line.taxes if t.tax_rate_id],
                    "named_taxes": ";".join(
                        f"{t.name}|{t.percentage.normalize():f}|{int(t.is_inclusive)}"
                        for t in line.taxes
                        if t.tax_rate_id is None
                    ),
                }
            )
        for _ in range(BLANK_ROWS - 1):
            self.lines.append_entry()

    def _prefill_terms(self, document, today: date) -> None:
        """Show the subclass's own fields for `document` (None: a new one issued `today`)."""

    def _set_line_choices(self) -> None:
        products = [SelectChoice("", "Free-form line")] + [
            SelectChoice(id_, p.name) for id_, p in self.products.items() if p.is_active
        ]
        taxes = [SelectChoice(id_, t.label) for id_, t in self.tax_rates.items() if t.is_active]
        for entry in self.lines.entries:
            entry.form.product.choices = products
            entry.form.taxes.choices = taxes

    def add_rows(self) -> None:
        """The no-JavaScript line adder: show a few more blank rows."""
        for _ in range(ADD_ROWS):
            if len(self.lines.entries) >= MAX_LINES:
                break
            self.lines.append_entry()
        self._set_line_choices()

    def product_data(self) -> dict[str, Any]:
        """What static/js/invoice_editor.js needs to fill a line from a product."""
        return {
            id_: {
                "name": p.name,
                "prices": {
                    price.currency: f"{Money(price.unit_amount_minor, price.currency).major:f}"
                    for price in p.prices
                },
                "taxes": [str(t.id) for t in p.tax_rates if t.is_active],
            }
            for id_, p in self.products.items()
            if p.is_active
        }

    # -- reading ---------------------------------------------------------------------------------

    def chosen_currency(self) -> str:
        return (self.currency.data or "").strip().upper()

    def values(self) -> tuple[dict[str, Any], dict[str, str], list[int]]:
        """(keyword arguments for the service, {field: message}, the form row of each line).
        Blank rows are skipped."""
        errors: dict[str, str] = {}
        currency = self.chosen_currency() or self._currencies.get(self.account_id.data or "", "")
        try:
            check_currency(currency)
        except ValueError:
            errors["currency"] = "Choose a currency."
            currency = "USD"  # to read the amounts; the error stops the save
        values: dict[str, Any] = {"currency": currency, "memo": self.memo.data or ""}
        try:
            values["issue_date"] = parse_day(self.issue_date.data, "issue date")
        except ValueError as exc:
            errors["issue_date"] = str(exc)
        values |= self._terms_values(errors)
        try:
            values["discount_percent"], values["discount_minor"] = parse_discount(
                self.discount.data, currency
            )
        except ValueError as exc:
            errors["discount"] = str(exc)
        lines, rows = [], []
        for row, entry in enumerate(self.lines.entries):
            line_form = entry.form
            if line_form.is_blank():
                continue
            lines.append(self._line(row, line_form, currency, errors))
            rows.append(row)
        if errors:  # the service will not see these lines: report their other problems now
            for row, line in zip(rows, lines, strict=True):
                check_line(row, line, errors)
        if len(rows) > MAX_LINES:
            errors["lines"] = f"Use at most {MAX_LINES} lines."
        elif not rows:
            errors["lines"] = "Add at least one line."
        values["lines"] = lines
        return values, errors, rows

    def _terms_values(self, errors: dict[str, str]) -> dict[str, Any]:
        """The subclass's own values; problems go into `errors`."""
        return {}

    def _line(self, row: int, form: LineForm, currency: str, errors) -> DraftLine:
        """The row as a DraftLine; a value that cannot be read gets its message in `errors`
        and a harmless stand-in in the line (so its other values can still be checked)."""
        at = f"lines-{row}-"
        product = self.products.get(form.product.data or "")
        if form.product.data and product is None:
            errors[at + "product"] = "Choose a product from the catalog."
        description = (form.description.data or "").strip()
        price_text = (form.unit_price.data or "").strip()
        taxes = list(form.taxes.data or [])
        if product is not None and not description and not price_text:
            description = product.name
            price = product.price_in(currency)
            if price is None:
                errors[at + "unit_price"] = f"{product.name} has no {currency} price: enter one."
            else:
                price_text = f"{Money(price, currency).major:f}"
            taxes = taxes or [str(t.id) for t in product.tax_rates if t.is_active]
        quantity = Decimal(1)
        try:
            quantity = parse_quantity(form.quantity.data)
        except ValueError as exc:
            errors[at + "quantity"] = str(exc)
        unit = 0
        if at + "unit_price" not in errors:
            try:
                unit = parse_amount(price_text, currency)
            except ValueError as exc:
                errors[at + "unit_price"] = "Enter a unit price." if not price_text else str(exc)
        discount_percent, discount_minor = None, 0
        try:
            discount_percent, discount_minor = parse_discount(form.discount.data, currency)
        except ValueError as exc:
            errors[at + "discount"] = str(exc)
        tax_ids = []
        for tax in taxes:
            if tax not in self.tax_rates:
                errors[at + "taxes"] = "Choose tax rates from the list."
            else:
                tax_ids.append(int(tax))
        named = []
        try:
            named = form.named()
        except (ValueError, ArithmeticError):
            errors[at + "taxes"] = "These taxes could not be read; choose them again."
        return DraftLine(
            description=description,
            quantity=quantity,
            unit_amount_minor=unit,
            product_id=product.id if product is not None else None,
            tax_rate_ids=tuple(tax_ids),
            taxes=tuple(named),
            discount_percent=discount_percent,
            discount_amount_minor=discount_minor,
        )

    def show_errors(self, errors: dict[str, str], rows: list[int] | None = None) -> None:
        """Attach messages to their fields; a service's `lines-K-…` (K counts only the lines
        that were not blank) is mapped back to the form row it came from."""
        self.failed = True
        for name, message in errors.items():
            parts = name.split("-")
            if rows is not None and len(parts) == 3 and parts[0] == "lines" and parts[1].isdigit():
                k = int(parts[1])
                if k < len(rows):
                    name = f"lines-{rows[k]}-{parts[2]}"
            field = self._find(name)
            if field is not None:
                field.errors = [*field.errors, message]
            else:
                self.form_errors.append(message)

    def _find(self, name: str):
        parts = name.split("-")
        if len(parts) == 3 and parts[0] == "lines" and parts[1].isdigit():
            row = int(parts[1])
            if row < len(self.lines.entries):
                return self.lines.entries[row].form._fields.get(parts[2])
            return None
        field = self._fields.get({"discount_minor": "discount"}.get(name, name))
        return field if name != "lines" else None


def _discount_text(item, currency: str) -> str:
    """A document's or line's discount as staff typed it: '10%', '25.00' or ''."""
    if item.discount_percent:
        return f"{item.discount_percent.normalize():f}%"
    if item.discount_fixed_minor:
        return f"{Money(item.discount_fixed_minor, currency).major:f}"
    return ""
