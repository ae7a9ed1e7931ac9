"""Admin forms for quotes and API keys. A quote is built in the same editor as an invoice
(admin/document_forms.py: catalog or free-form lines, quantities with decimals, discounts per
line and per quote, several taxes per line), with a last day it can be accepted instead of
payment terms."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from flask_wtf import FlaskForm
from wtforms import SelectChoice, SelectField, SelectMultipleField, StringField, TextAreaField
from wtforms.widgets import CheckboxInput, ListWidget

from admin.document_forms import DocumentForm, _max, parse_day
from billing.models import SCOPES, Quote, QuoteConversion
from billing.services.api_keys import MAX_NAME as MAX_KEY_NAME

VALID_DAYS = 30  # a new quote's default validity


class QuoteForm(DocumentForm):
    """The quote editor: the shared document fields plus the last day it can be accepted."""

    expiry_date = StringField("Valid until", validators=[_max(10)])
    discount = StringField("Quote discount", validators=[_max(30)])
    memo = TextAreaField("Notes for the customer", validators=[_max(5000)])

    def __init__(self, *args, quote: Quote | None = None, **kwargs):
        super().__init__(*args, document=quote, **kwargs)

    def _prefill_terms(self, quote: Quote | None, today: date) -> None:
        valid_until = quote.expiry_date if quote else today + timedelta(days=VALID_DAYS)
        self.expiry_date.data = valid_until.isoformat()

    def _terms_values(self, errors: dict[str, str]) -> dict[str, Any]:
        try:
            return {"expiry_date": parse_day(self.expiry_date.data, "last day it is valid")}
        except ValueError as exc:
            errors["expiry_date"] = str(exc)
            return {}


class QuoteConvertForm(FlaskForm):
    mode = SelectField(
        "Make it",
        choices=[
            SelectChoice(QuoteConversion.DRAFT.value, "A draft invoice"),
            SelectChoice(QuoteConversion.FINALIZE.value, "A finalized invoice"),
        ],
    )


class ApiKeyCreateForm(FlaskForm):
    name = StringField("Name", validators=[_max(MAX_KEY_NAME)])
    scopes = SelectMultipleField(
        "Permissions",
        choices=[SelectChoice(scope, f"{scope} — {meaning}") for scope, meaning in SCOPES.items()],
        widget=ListWidget(prefix_label=False),
        option_widget=CheckboxInput(),
        validate_choice=False,
    )
