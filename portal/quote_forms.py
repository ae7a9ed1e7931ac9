"""Forms a customer answers a quote with (in the portal or through its emailed link). They only
carry the text; the quotes service decides what is acceptable."""

from flask_wtf import FlaskForm
from wtforms import StringField, TextAreaField
from wtforms.validators import Length

from billing.services.quotes import MAX_NAME, MAX_REASON


class QuoteAcceptForm(FlaskForm):
    name = StringField(
        "Your full name",
        validators=[Length(max=MAX_NAME, message=f"Use at most {MAX_NAME} characters.")],
    )


class QuoteDeclineForm(FlaskForm):
    reason = TextAreaField(
        "Why are you declining?",
        validators=[Length(max=MAX_REASON, message=f"Use at most {MAX_REASON:,} characters.")],
    )


def show_errors(form: FlaskForm, errors: dict[str, str]) -> None:
    """Put a service's ValidationFailed messages beside the fields they are about."""
    for name, message in errors.items():
        field = form._fields.get(name)
        if field is not None:
            field.errors = [*field.errors, message]
