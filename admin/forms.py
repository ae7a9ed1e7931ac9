"""The admin's forms. They parse and lightly check input; the services decide what is valid."""

from __future__ import annotations

from typing import Any

from babel.numbers import get_currency_name
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import (
    BooleanField,
    EmailField,
    SelectChoice,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import Length, Optional

from billing.models import CompanySettings
from billing.services.company import MAX_LOGO_BYTES

COMMON_CURRENCIES = [
    "USD", "EUR", "GBP", "CAD", "AUD", "NZD", "CHF", "JPY", "SEK", "NOK", "DKK", "PLN", "CZK",
    "INR", "SGD", "HKD", "CNY", "ZAR", "BRL", "MXN", "AED", "KWD",
]  # fmt: skip
OTHER = "other"


def _max(length: int) -> Length:
    """A length limit (also rendered as the input's maxlength) with a message for people."""
    return Length(max=length, message=f"Use at most {length} characters.")


TEXT_FIELDS = ("name", "address", "email", "phone", "tax_id", "invoice_footer")


def _currency_choices() -> list[SelectChoice]:
    return [
        SelectChoice(c, f"{c} — {get_currency_name(c, locale='en')}") for c in COMMON_CURRENCIES
    ]


class CompanySettingsEditForm(FlaskForm):
    name = StringField("Company name", validators=[_max(200)])
    address = TextAreaField("Address", validators=[_max(2000)])
    email = EmailField("Billing email", validators=[Optional(), _max(320)])
    phone = StringField("Phone", validators=[_max(64)])
    tax_id = StringField("Tax ID", validators=[_max(64)])
    default_currency = SelectField("Default currency", choices=[])
    other_currency = StringField("Other currency code", validators=[_max(3)])
    invoice_footer = TextAreaField("Invoice footer", validators=[_max(2000)])
    logo = FileField("Logo")
    remove_logo = BooleanField("Remove the current logo")
    allow_account_credit = BooleanField("Keep overpayments as account credit")
    # Absent from a POST (None): the service leaves the setting as it is.
    quote_auto_convert = SelectField(
        "When a customer accepts a quote",
        choices=[
            SelectChoice("off", "Wait for staff to convert it"),
            SelectChoice("draft", "Make a draft invoice at once"),
            SelectChoice("finalize", "Make a finalized invoice at once"),
        ],
        default=None,
        validate_choice=False,
    )

    def __init__(self, *args, company: CompanySettings | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.default_currency.choices = [*_currency_choices(), SelectChoice(OTHER, "Other…")]
        if company is not None and not self.is_submitted():
            for name in TEXT_FIELDS:
                getattr(self, name).data = getattr(company, name) or ""
            self.allow_account_credit.data = company.allow_account_credit is not False
            self.quote_auto_convert.data = company.quote_auto_convert or "off"
            if company.default_currency in COMMON_CURRENCIES:
                self.default_currency.data = company.default_currency
            else:
                self.default_currency.data = OTHER
                self.other_currency.data = company.default_currency

    def values(self) -> dict[str, Any]:
        """The company details as the settings service takes them."""
        values = {name: getattr(self, name).data or "" for name in TEXT_FIELDS}
        chosen = self.default_currency.data
        values["default_currency"] = (
            (self.other_currency.data or "").strip().upper() if chosen == OTHER else chosen
        )
        values["allow_account_credit"] = bool(self.allow_account_credit.data)
        values["quote_auto_convert"] = self.quote_auto_convert.data
        return values

    def logo_upload(self) -> tuple[bytes | None, str | None]:
        """(bytes, declared type) of an uploaded logo, or (None, None). Reads at most one byte
        more than the limit, so an oversized file is refused without holding all of it."""
        upload = self.logo.data
        if not upload or not getattr(upload, "filename", ""):
            return None, None
        data = upload.read(MAX_LOGO_BYTES + 1)
        return (data or None), upload.mimetype

    def show_errors(self, errors: dict[str, str]) -> None:
        """Attach a service's ValidationFailed messages to the fields they are about."""
        for name, message in errors.items():
            if name == "default_currency" and self.default_currency.data == OTHER:
                name = "other_currency"
            field = self._fields.get(name)
            if field is not None:
                field.errors = [*field.errors, message]
            else:
                self.form_errors.append(message)
