"""Admin forms for quotes and API keys. They parse text into amounts and dates with a message
per field; the services decide what is valid and the form shows their messages in place."""

from __future__ import annotations

from datetime import date
from decimal import Decimal, InvalidOperation

from flask_wtf import FlaskForm
from wtforms import (
    DateField,
    FieldList,
    Form,
    FormField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import InputRequired, Length, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from billing.models import SCOPES, QuoteConversion
from billing.money import Money, to_major
from billing.services.api_keys import MAX_NAME as MAX_KEY_NAME
from billing.services.invoices import DraftLine

BLANK_ROWS = 3
MAX_ROWS = 200


def _max(length: int) -> Length:
    return Length(max=length, message=f"Use at most {length} characters.")


class QuoteLineForm(Form):
    description = StringField("Description", validators=[_max(500)])
    quantity = StringField("Qty", default="1", validators=[_max(30)])
    unit_price = StringField("Unit price", validators=[_max(30)])
    tax_rate = StringField("Tax %", default="0", validators=[_max(12)])

    def is_blank(self) -> bool:
        return not any(
            (getattr(self, name).data or "").strip() for name in ("description", "unit_price")
        )


class QuoteForm(FlaskForm):
    account_id = SelectField("Customer", coerce=int, validate_choice=False)
    currency = StringField(
        "Currency", validators=[_max(3)], description="Empty: the customer's currency."
    )
    issue_date = DateField("Issue date", validators=[InputRequired("Enter the issue date.")])
    expiry_date = DateField(
        "Valid until", validators=[InputRequired("Enter the last day it can be accepted.")]
    )
    discount = StringField("Discount (amount)", validators=[Optional(), _max(30)])
    memo = TextAreaField("Notes for the customer", validators=[_max(5000)])
    # No max_entries: WTForms would silently drop rows past it; the service refuses too many.
    lines = FieldList(FormField(QuoteLineForm), min_entries=BLANK_ROWS)

    def __init__(self, *args, customers=(), today: date | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.account_id.choices = [(0, "Choose a customer…")] + [
            (a.id, f"{a.name} ({a.currency})") for a in customers
        ]
        self._currencies = {a.id: a.currency for a in customers}
        if not self.is_submitted() and today is not None:
            self.issue_date.data = self.issue_date.data or today

    @staticmethod
    def data_of(quote) -> dict:
        """Form data showing a saved quote (for editing a draft), with blank rows to add to."""

        def major(minor: int) -> str:
            return format(to_major(minor, quote.currency), "f")

        lines = [
            {
                "description": line.description,
                "quantity": format(line.quantity.normalize(), "f"),
                "unit_price": major(line.unit_amount_minor),
                "tax_rate": format(line.tax_rate.normalize(), "f"),
            }
            for line in quote.lines
        ]
        lines += [{"quantity": "1", "tax_rate": "0"}] * BLANK_ROWS
        return {
            "account_id": quote.account_id,
            "currency": quote.currency,
            "issue_date": quote.issue_date,
            "expiry_date": quote.expiry_date,
            "discount": major(quote.discount_minor) if quote.discount_minor else "",
            "memo": quote.memo,
            "lines": lines,
        }

    def add_row(self) -> None:
        if len(self.lines.entries) < MAX_ROWS:
            self.lines.append_entry()

    def currency_code(self) -> str:
        typed = (self.currency.data or "").strip().upper()
        return typed or self._currencies.get(self.account_id.data or 0, "USD")

    def parsed(self) -> tuple[list[DraftLine], int, dict[str, str], list[int]]:
        """(lines, discount in minor units, {field: message}, row index of each line). Blank
        rows are skipped; a line's errors are keyed like the service's: lines[i].quantity."""
        currency = self.currency_code()
        lines, errors, rows = [], {}, []
        for row, entry in enumerate(self.lines.entries):
            form = entry.form
            if form.is_blank():
                continue
            at = f"lines[{len(lines)}]"
            quantity = _decimal(form.quantity.data or "1", f"{at}.quantity", errors)
            tax_rate = _decimal(form.tax_rate.data or "0", f"{at}.tax_rate", errors)
            unit = _amount(form.unit_price.data, currency, f"{at}.unit_amount", errors)
            rows.append(row)
            lines.append(
                DraftLine(
                    (form.description.data or "").strip(),
                    quantity if quantity is not None else Decimal(1),
                    unit if unit is not None else 0,
                    tax_rate if tax_rate is not None else Decimal(0),
                )
            )
        discount = 0
        if (self.discount.data or "").strip():
            discount = _amount(self.discount.data, currency, "discount", errors) or 0
        return lines, discount, errors, rows

    def show_errors(self, errors: dict[str, str], rows: list[int]) -> None:
        """Attach service messages to the fields they name (lines[i].x → that row's field)."""
        fields = {"unit_amount": "unit_price"}
        for name, message in errors.items():
            if name.startswith("lines[") and "]." in name:
                index, _, attr = name[len("lines[") :].partition("].")
                row = rows[int(index)] if int(index) < len(rows) else None
                target = (
                    getattr(self.lines.entries[row].form, fields.get(attr, attr), None)
                    if row is not None
                    else None
                )
            else:
                target = self._fields.get({"account": "account_id"}.get(name, name))
            if target is not None:
                target.errors = [*target.errors, message]
            else:
                self.form_errors.append(message)


def _decimal(text: str, field: str, errors: dict[str, str]) -> Decimal | None:
    try:
        value = Decimal(text.strip().replace(",", ""))
    except InvalidOperation:
        value = None
    if value is None or not value.is_finite():
        errors[field] = "Enter a number, such as 2 or 1.5."
        return None
    return value


def _amount(text: str | None, currency: str, field: str, errors: dict[str, str]) -> int | None:
    if not (text or "").strip():
        errors[field] = "Enter an amount, such as 150 or 99.50."
        return None
    try:
        return Money.parse(text, currency).amount_minor
    except ValueError as exc:
        message = str(exc)
        errors[field] = message if "decimals" in message else "Enter an amount, such as 99.50."
        return None


class QuoteConvertForm(FlaskForm):
    mode = SelectField(
        "Make it",
        choices=[
            (QuoteConversion.DRAFT.value, "A draft invoice"),
            (QuoteConversion.FINALIZE.value, "A finalized invoice"),
        ],
    )


class ApiKeyCreateForm(FlaskForm):
    name = StringField("Name", validators=[_max(MAX_KEY_NAME)])
    scopes = SelectMultipleField(
        "Permissions",
        choices=[(scope, f"{scope} — {meaning}") for scope, meaning in SCOPES.items()],
        widget=ListWidget(prefix_label=False),
        option_widget=CheckboxInput(),
        validate_choice=False,
    )
