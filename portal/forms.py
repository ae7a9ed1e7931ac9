"""The portal's payment forms. Invoice choices and amounts are parsed by the payment service;
these forms carry the CSRF token and what Stripe.js put in the page."""

from flask_wtf import FlaskForm
from wtforms import HiddenField, StringField
from wtforms.validators import Length, Optional


class CardForm(FlaskForm):
    """Saving a card: Stripe.js confirmed a SetupIntent and put its id here."""

    setup_intent_id = HiddenField("Card", validators=[Length(max=255)])


class PayForm(FlaskForm):
    """Paying: `card` is a saved card's id or "new" (then Stripe.js fills setup_intent_id)."""

    card = StringField("Card", validators=[Optional(), Length(max=20)])
    setup_intent_id = HiddenField("New card", validators=[Length(max=255)])


class PayLinkForm(FlaskForm):
    """Paying through a pay link: always a card entered now; an amount when partial is allowed."""

    amount = StringField("Amount", validators=[Optional(), Length(max=30)])
    setup_intent_id = HiddenField("Card", validators=[Length(max=255)])
