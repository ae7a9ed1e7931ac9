"""Admin forms for invoices and credit notes: the draft editor (the shared document editor of
admin/document_forms.py with payment terms and a footer) and the credit note form."""

from __future__ import annotations

from datetime import date
from typing import Any

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    RadioField,
    SelectChoice,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.widgets import CheckboxInput, ListWidget

from admin.document_forms import DocumentForm, _max, parse_amount, parse_day
from billing.models import CreditNoteKind, CreditSettlement, Invoice

NET, DATE = "net", "date"


class MultiCheckboxField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class InvoiceEditForm(DocumentForm):
    """The draft invoice editor: the shared document fields plus payment terms and a footer."""

    terms = RadioField(
        "Payment terms",
        choices=[SelectChoice(NET, "Net days"), SelectChoice(DATE, "Due date")],
        default=NET,
        validate_choice=False,
    )
    net_days = StringField("Days to pay", validators=[_max(5)])
    due_date = StringField("Due date", validators=[_max(10)])
    discount = StringField("Invoice discount", validators=[_max(30)])
    footer = TextAreaField("Footer", validators=[_max(2000)])

    def __init__(self, *args, invoice: Invoice | None = None, **kwargs):
        super().__init__(*args, document=invoice, **kwargs)

    def _prefill_terms(self, invoice: Invoice | None, today: date) -> None:
        if invoice is None:
            self.net_days.data = str(self._terms.get(self.account_id.data or "", 30))
            self.terms.data = NET
            return
        self.due_date.data = invoice.due_date.isoformat()
        if invoice.net_days is not None:
            self.terms.data, self.net_days.data = NET, str(invoice.net_days)
        else:
            self.terms.data = DATE
            self.net_days.data = str((invoice.due_date - invoice.issue_date).days)
        self.footer.data = invoice.footer

    def _terms_values(self, errors: dict[str, str]) -> dict[str, Any]:
        values: dict[str, Any] = {"footer": self.footer.data or ""}
        if self.terms.data == DATE:
            values["net_days"] = None
            try:
                values["due_date"] = parse_day(self.due_date.data, "due date")
            except ValueError as exc:
                errors["due_date"] = str(exc)
        else:
            text = (self.net_days.data or "").strip()
            if not text.isdigit() or len(text) > 4:
                errors["net_days"] = "Enter a whole number of days, e.g. 30."
            else:
                values["net_days"] = int(text)
        return values


class CreditNoteForm(FlaskForm):
    failed = False
    kind = RadioField(
        "What to credit",
        choices=[
            SelectChoice(CreditNoteKind.AMOUNT.value, "An amount"),
            SelectChoice(CreditNoteKind.LINES.value, "Chosen lines"),
            SelectChoice(CreditNoteKind.FULL.value, "Everything not yet credited"),
        ],
        default=CreditNoteKind.AMOUNT.value,
        validate_choice=False,
    )
    amount = StringField("Amount (tax included)", validators=[_max(30)])
    line_ids = MultiCheckboxField("Lines", choices=[], validate_choice=False)
    reason = TextAreaField("Reason (printed on the credit note)", validators=[_max(2000)])
    settlement = RadioField(
        "The customer has paid: give the money back as",
        choices=[
            SelectChoice(CreditSettlement.REFUND.value, "A refund of their payment"),
            SelectChoice(
                CreditSettlement.ACCOUNT_CREDIT.value, "Account credit for their next invoices"
            ),
        ],
        validate_choice=False,
    )
    payment_id = SelectField("Refund through", choices=[], validate_choice=False)
    send = BooleanField("Email the credit note to the customer", default=True)

    def __init__(self, *args, invoice: Invoice, payments=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.invoice = invoice
        self.line_ids.choices = [
            SelectChoice(str(line.id), line.description) for line in invoice.lines
        ]
        self.payment_id.choices = [SelectChoice("", "The most recent payment that can take it")] + [
            SelectChoice(str(p.id), f"{p.receipt_number} · {p.method.replace('_', ' ')}")
            for p, _ in payments
        ]

    def values(self) -> tuple[dict[str, Any], dict[str, str]]:
        """(keyword arguments for issue_credit_note, {field: message})."""
        errors: dict[str, str] = {}
        try:
            kind = CreditNoteKind(self.kind.data or "")
        except ValueError:
            errors["kind"] = "Choose what to credit."
            kind = CreditNoteKind.AMOUNT
        values: dict[str, Any] = {"kind": kind, "reason": self.reason.data or ""}
        if kind == CreditNoteKind.AMOUNT:
            try:
                values["amount_minor"] = parse_amount(self.amount.data, self.invoice.currency)
            except ValueError as exc:
                errors["amount"] = str(exc)
        if kind == CreditNoteKind.LINES:
            ids = []
            for unsafe in self.line_ids.data or []:
                if not str(unsafe).isdigit():
                    errors["lines"] = "Choose lines of this invoice."
                else:
                    ids.append(int(unsafe))
            values["line_ids"] = tuple(ids)
        settlement = self.settlement.data
        if settlement:
            try:
                values["settlement"] = CreditSettlement(settlement)
            except ValueError:
                errors["settlement"] = "Choose a refund or account credit."
        payment = (self.payment_id.data or "").strip()
        if payment:
            if payment.isdigit():
                values["payment_id"] = int(payment)
            else:
                errors["payment_id"] = "Choose one of this invoice's payments."
        values["send"] = bool(self.send.data)
        return values, errors

    def show_errors(self, errors: dict[str, str]) -> None:
        self.failed = True
        for name, message in errors.items():
            field = self._fields.get({"lines": "line_ids"}.get(name, name))
            if field is not None:
                field.errors = [*field.errors, message]
            else:
                self.form_errors.append(message)
