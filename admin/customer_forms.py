"""Admin forms for customers, their portal users and the catalog (products and tax rates).
They hold what staff typed; the services check it and the forms show their messages in place."""

from __future__ import annotations

from typing import Any

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    EmailField,
    FieldList,
    Form,
    FormField,
    SelectChoice,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import Length
from wtforms.widgets import CheckboxInput, ListWidget

from admin.forms import COMMON_CURRENCIES
from billing.models import Account, PortalRole, Product, TaxRate
from billing.money import Money

LOCALES = [
    SelectChoice("en_US", "English (United States)"),
    SelectChoice("en_GB", "English (United Kingdom)"),
    SelectChoice("en_CA", "English (Canada)"),
    SelectChoice("en_AU", "English (Australia)"),
    SelectChoice("de_DE", "Deutsch (Deutschland)"),
    SelectChoice("de_AT", "Deutsch (Österreich)"),
    SelectChoice("de_CH", "Deutsch (Schweiz)"),
    SelectChoice("fr_FR", "Français (France)"),
    SelectChoice("fr_CA", "Français (Canada)"),
    SelectChoice("es_ES", "Español (España)"),
    SelectChoice("es_MX", "Español (México)"),
    SelectChoice("it_IT", "Italiano (Italia)"),
    SelectChoice("nl_NL", "Nederlands (Nederland)"),
    SelectChoice("pt_BR", "Português (Brasil)"),
    SelectChoice("sv_SE", "Svenska (Sverige)"),
    SelectChoice("pl_PL", "Polski (Polska)"),
    SelectChoice("ja_JP", "日本語 (日本)"),
]
ROLE_CHOICES = [
    SelectChoice(PortalRole.OWNER.value, "Owner: everything, including users"),
    SelectChoice(PortalRole.BILLING.value, "Billing: sees and pays invoices"),
    SelectChoice(PortalRole.VIEWER.value, "Viewer: sees invoices only"),
]
PRICE_ROWS = 3


def _max(length: int) -> Length:
    return Length(max=length, message=f"Use at most {length:,} characters.")


class MultiCheckboxField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


def show_errors(form: FlaskForm, errors: dict[str, str]) -> None:
    """Attach a service's ValidationFailed messages to the fields they are about."""
    form.failed = True  # nested errors (price rows) are not in form.errors
    for name, message in errors.items():
        field = form._fields.get(name)
        if field is None and "-" in name:  # prices-0-amount
            top, index, sub = name.split("-", 2)
            entries = getattr(form._fields.get(top), "entries", [])
            if index.isdigit() and int(index) < len(entries):
                field = entries[int(index)].form._fields.get(sub)
        if field is not None:
            field.errors = [*field.errors, message]
        else:
            form.form_errors.append(message)


class CustomerForm(FlaskForm):
    name = StringField("Legal name", validators=[_max(200)])
    billing_email = EmailField("Billing email", validators=[_max(320)])
    invoice_cc = TextAreaField("Also send invoices to", validators=[_max(3500)])
    address = TextAreaField("Address", validators=[_max(2000)])
    tax_id = StringField("Tax ID", validators=[_max(64)])
    currency = SelectField("Currency", validate_choice=False)
    locale = SelectField("Language and region", choices=LOCALES, validate_choice=False)
    payment_terms_days = StringField("Payment terms (days)", default="30", validators=[_max(5)])

    FIELDS = (
        "name", "billing_email", "invoice_cc", "address", "tax_id", "currency", "locale",
        "payment_terms_days",
    )  # fmt: skip

    def __init__(self, *args, account: Account | None = None, default_currency="USD", **kwargs):
        super().__init__(*args, **kwargs)
        currencies = list(dict.fromkeys([default_currency, *COMMON_CURRENCIES]))
        if account is not None and account.currency not in currencies:
            currencies.insert(0, account.currency)
        self.currency.choices = [SelectChoice(c, c) for c in currencies]
        if account is not None and account.locale not in {c.value for c in LOCALES}:
            self.locale.choices = [SelectChoice(account.locale, account.locale), *LOCALES]
        if not self.is_submitted():
            if account is not None:
                for name in self.FIELDS:
                    getattr(self, name).data = str(getattr(account, name) or "")
            else:
                self.currency.data = default_currency

    def values(self) -> dict[str, Any]:
        return {name: getattr(self, name).data or "" for name in self.FIELDS}


class InviteForm(FlaskForm):
    email = EmailField("Email", validators=[_max(320)])
    name = StringField("Name", validators=[_max(200)])
    role = SelectField("Role", choices=ROLE_CHOICES, default="billing", validate_choice=False)


class RoleForm(FlaskForm):
    role = SelectField("Role", choices=ROLE_CHOICES, validate_choice=False)


class TaxRateForm(FlaskForm):
    name = StringField("Name", validators=[_max(100)])
    percentage = StringField("Percentage", validators=[_max(12)])
    is_inclusive = BooleanField("Included in prices (the price already contains this tax)")
    is_active = BooleanField("Offer it on new invoice lines", default=True)

    def __init__(self, *args, rate: TaxRate | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        if rate is not None and not self.is_submitted():
            self.name.data = rate.name
            self.percentage.data = f"{rate.percentage.normalize():f}"
            self.is_inclusive.data = rate.is_inclusive
            self.is_active.data = rate.is_active

    def values(self) -> dict[str, Any]:
        return {
            "name": self.name.data,
            "percentage": self.percentage.data,
            "is_inclusive": bool(self.is_inclusive.data),
            "is_active": bool(self.is_active.data),
        }


class PriceForm(Form):
    currency = SelectField("Currency", validate_choice=False)
    amount = StringField("Unit price", validators=[_max(30)])


class ProductForm(FlaskForm):
    name = StringField("Name", validators=[_max(200)])
    description = TextAreaField("Description", validators=[_max(2000)])
    is_active = BooleanField("Offer it on new invoice lines", default=True)
    prices = FieldList(FormField(PriceForm), min_entries=PRICE_ROWS)
    tax_rate_ids = MultiCheckboxField("Usual taxes", choices=[], validate_choice=False)

    def __init__(
        self, *args, product: Product | None = None, tax_rates=(), default_currency="USD", **kwargs
    ):
        super().__init__(*args, **kwargs)
        self.tax_rate_ids.choices = [
            SelectChoice(str(t.id), t.label) for t in tax_rates if t.is_active
        ]
        if product is not None and not self.is_submitted():
            self.name.data, self.description.data = product.name, product.description
            self.is_active.data = product.is_active
            self.tax_rate_ids.data = [str(t.id) for t in product.tax_rates]
            while self.prices.entries:
                self.prices.pop_entry()
            for price in product.prices:
                amount = Money(price.unit_amount_minor, price.currency).major
                self.prices.append_entry({"currency": price.currency, "amount": f"{amount:f}"})
            while len(self.prices.entries) < max(PRICE_ROWS, len(product.prices) + 1):
                self.prices.append_entry()
        elif not self.is_submitted():
            self.prices.entries[0].form.currency.data = default_currency
        currencies = list(dict.fromkeys([default_currency, *COMMON_CURRENCIES]))
        for entry in self.prices.entries:
            chosen = entry.form.currency.data
            options = currencies if not chosen or chosen in currencies else [chosen, *currencies]
            entry.form.currency.choices = [SelectChoice("", "—")] + [
                SelectChoice(c, c) for c in options
            ]

    def values(self) -> dict[str, Any]:
        return {
            "name": self.name.data,
            "description": self.description.data,
            "is_active": bool(self.is_active.data),
            "prices": [(e.form.currency.data, e.form.amount.data) for e in self.prices.entries],
            "tax_rate_ids": list(self.tax_rate_ids.data or []),
        }
