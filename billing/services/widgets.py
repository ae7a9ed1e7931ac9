"""The Pay Now widget: a card payment form that other web sites embed in an <iframe>.

Staff configure it in admin (`save_widget`): a title, the currency, a fixed amount or limits for
an amount the payer types, the web origins allowed to frame it, and whether each payment also
becomes a paid invoice. The public page at /widget/<public_key> takes an amount, a description,
the payer's name and email and a card (Stripe.js; the card number never reaches Paydesk).

Paying reuses the card flows of billing.services.card_payments: the card is set up for this
payment only (a SetupIntent without a customer, tagged with the widget's id, so a card set up
elsewhere cannot be charged here), the payment is committed as pending before the processor is
asked (idempotency key and metadata from its id), 3-D Secure finishes in the browser, and
reconciliation and webhooks settle a lost answer. The payer gets payments-core's receipt email.

Each payment belongs to the customer account whose billing email (and currency) matches the
payer's email, or to a new account made for them. With "create an invoice" on, an invoice with
one line (the description) is finalized for the amount before charging (account credit is not
applied to it: the card pays it in full), and the payment is allocated to it, so it is paid the
moment the charge succeeds by whichever path learns of it first. If the charge is declined, the
invoice is voided at once; one whose payment fails later (3-D Secure abandoned) is voided by
`void_unpaid_widget_invoices`, a periodic job.

Every attempt (setting up a card, paying) counts toward a per-IP limit, so the public page cannot
be used to test stolen cards: WIDGET_MAX_ATTEMPTS per WIDGET_WINDOW.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from billing import audit
from billing.errors import (
    AuthenticationRequired,
    GatewayPermanent,
    InvalidTransition,
    NotFound,
    PaymentDeclined,
    RateLimited,
    ValidationFailed,
)
from billing.formatting import format_money
from billing.gateways.base import CardDetails, PaymentGateway, SetupResult
from billing.models import (
    Account,
    AttemptKind,
    AuthAttempt,
    Invoice,
    InvoiceStatus,
    Payment,
    PaymentMethod,
    PaymentStatus,
    PayWidget,
    Realm,
    WidgetPayment,
)
from billing.money import Money, check_currency, exponent
from billing.services import card_payments
from billing.services import invoices as invoice_service

SETUP_METADATA = "paydesk_widget_id"
WIDGET_MAX_ATTEMPTS = 10
WIDGET_WINDOW = timedelta(minutes=15)
DEFAULT_MAX_UNITS = 10_000  # a payer-entered amount is at most this many whole units by default
MAX_ORIGINS = 20
PAYER_LOCK_CLASS = 0x7061  # advisory lock namespace (PostgreSQL): finding or creating a payer
FAILED = (PaymentStatus.FAILED, PaymentStatus.CANCELED)


# --- configuration (admin) --------------------------------------------------------------------


def get_widget(session: Session) -> PayWidget | None:
    """The widget (there is one per installation), or None before staff set it up. Read-only."""
    return session.scalar(select(PayWidget).order_by(PayWidget.id).limit(1))


def clean_origins(lines: str) -> tuple[list[str], str | None]:
    """(the origins as scheme://host[:port], or the first problem) from one-a-line text."""
    origins: list[str] = []
    for raw in (lines or "").replace(",", "\n").splitlines():
        text = raw.strip().rstrip("/")
        if not text:
            continue
        parts = urlsplit(text)
        if (
            parts.scheme not in {"http", "https"}
            or not parts.hostname
            or parts.path
            or parts.query
            or parts.fragment
            or parts.username
            or any(c in text for c in " ;'\"")
        ):
            return [], f"{raw.strip()!r} is not a web origin like https://www.example.com"
        origin = f"{parts.scheme}://{parts.netloc.lower()}"
        if origin not in origins:
            origins.append(origin)
    if len(origins) > MAX_ORIGINS:
        return [], f"List at most {MAX_ORIGINS} origins."
    return origins, None


def save_widget(
    session: Session, *, values: dict[str, Any], now: datetime, actor: str
) -> PayWidget:
    """Create or update the widget. `values`: title, currency, fixed_amount_minor (None: the
    payer enters the amount), min_amount_minor, max_amount_minor (None: the defaults),
    allowed_origins (text, one a line), create_invoice, is_active. Raises ValidationFailed
    ({field: message}) and changes nothing. Audited. Commits."""
    errors: dict[str, str] = {}
    title = str(values.get("title") or "").strip()
    if not title:
        errors["title"] = "Give the widget a title, e.g. “Pay Acme Ltd”."
    elif len(title) > 100:
        errors["title"] = "Use at most 100 characters."
    try:
        currency = check_currency(str(values.get("currency") or ""))
    except ValueError:
        errors["currency"] = "Enter a three-letter ISO 4217 code, such as USD or EUR."
        currency = "USD"
    unit = 10 ** exponent(currency)
    fixed = values.get("fixed_amount_minor")
    minimum = values.get("min_amount_minor") or unit
    maximum = values.get("max_amount_minor") or DEFAULT_MAX_UNITS * unit
    if fixed is not None and fixed <= 0:
        errors["fixed_amount"] = "A fixed amount must be more than zero."
    if minimum <= 0:
        errors["min_amount"] = "The smallest amount must be more than zero."
    if maximum < minimum:
        errors["max_amount"] = "The largest amount cannot be below the smallest."
    origins, problem = clean_origins(str(values.get("allowed_origins") or ""))
    if problem:
        errors["allowed_origins"] = problem
    if errors:
        raise ValidationFailed(errors)
    widget = session.scalar(select(PayWidget).order_by(PayWidget.id).limit(1).with_for_update())
    created = widget is None
    if widget is None:
        widget = PayWidget(public_key=secrets.token_urlsafe(18), created_at=now)
        session.add(widget)
    before = None if created else _snapshot(widget)
    widget.title = title
    widget.currency = currency
    widget.fixed_amount_minor = fixed
    widget.min_amount_minor = minimum
    widget.max_amount_minor = maximum
    widget.allowed_origins = "\n".join(origins)
    widget.create_invoice = bool(values.get("create_invoice"))
    widget.is_active = bool(values.get("is_active", True))
    widget.updated_at = now
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="widget.created" if created else "widget.updated",
        subject=widget,
        now=now,
        before=before,
        after=_snapshot(widget),
    )
    session.commit()
    return widget


def _snapshot(widget: PayWidget) -> dict[str, Any]:
    return {
        "title": widget.title,
        "currency": widget.currency,
        "fixed_amount_minor": widget.fixed_amount_minor,
        "min_amount_minor": widget.min_amount_minor,
        "max_amount_minor": widget.max_amount_minor,
        "allowed_origins": widget.allowed_origins,
        "create_invoice": widget.create_invoice,
        "is_active": widget.is_active,
    }


@dataclass(frozen=True)
class WidgetActivity:
    widget: PayWidget | None
    recent: list[tuple[WidgetPayment, Payment]]


def widget_activity(session: Session, *, limit: int = 20) -> WidgetActivity:
    """The widget and its latest payments (newest first), for the admin page. Read-only."""
    widget = get_widget(session)
    recent = []
    if widget is not None:
        recent = [
            (row, payment)
            for row, payment in session.execute(
                select(WidgetPayment, Payment)
                .join(Payment, Payment.id == WidgetPayment.payment_id)
                .where(WidgetPayment.widget_id == widget.id)
                .order_by(WidgetPayment.id.desc())
                .limit(limit)
            )
        ]
    return WidgetActivity(widget=widget, recent=recent)


# --- the public page --------------------------------------------------------------------------


def widget_for_key(session: Session, public_key: str) -> PayWidget:
    """The active widget with this public key; NotFound otherwise (the page answers 404)."""
    widget = session.scalar(select(PayWidget).where(PayWidget.public_key == public_key))
    if widget is None or not widget.is_active:
        raise NotFound("widget")
    return widget


def _count_attempt(session: Session, *, ip: str, now: datetime) -> None:
    """Refuse (RateLimited) once this IP used its attempts in the window; else count this one
    (in the caller's transaction)."""
    since = now - WIDGET_WINDOW
    oldest, count = session.execute(
        select(func.min(AuthAttempt.at), func.count()).where(
            AuthAttempt.ip == ip, AuthAttempt.kind == AttemptKind.WIDGET, AuthAttempt.at > since
        )
    ).one()
    if count >= WIDGET_MAX_ATTEMPTS:
        session.rollback()
        raise RateLimited(int((oldest + WIDGET_WINDOW - now).total_seconds()) + 1)
    session.add(
        AuthAttempt(
            realm=Realm.PORTAL, kind=AttemptKind.WIDGET, email="", ip=ip, at=now, succeeded=False
        )
    )


def start_setup(
    session: Session, gateway: PaymentGateway, *, public_key: str, ip: str, now: datetime
) -> SetupResult:
    """A one-time SetupIntent for a widget payment (the browser confirms it with Stripe.js).
    Counts toward the IP's limit. Raises NotFound, RateLimited, Gateway*. Commits the count."""
    widget = widget_for_key(session, public_key)
    widget_id = widget.id
    _count_attempt(session, ip=ip, now=now)
    session.commit()
    return gateway.create_setup_intent(
        customer_id=None,
        idempotency_key=f"widget:{widget_id}:setup:{secrets.token_hex(8)}",
        metadata={SETUP_METADATA: str(widget_id)},
    )


@dataclass(frozen=True)
class PayerInput:
    unsafe_amount: str
    description: str
    name: str
    email: str


def amount_for(widget: PayWidget, unsafe_amount: str) -> int:
    """The amount to charge: the fixed one, or the payer's within the widget's limits. Raises
    ValidationFailed({"amount": …})."""
    if widget.fixed_amount_minor is not None:
        return widget.fixed_amount_minor
    try:
        amount = Money.parse(unsafe_amount or "", widget.currency).amount_minor
    except ValueError as exc:
        raise ValidationFailed({"amount": str(exc)}) from None
    low, high = widget.min_amount_minor, widget.max_amount_minor
    if not low <= amount <= high:
        raise ValidationFailed(
            {
                "amount": f"Enter an amount between {format_money(low, widget.currency)} and "
                f"{format_money(high, widget.currency)}."
            }
        )
    return amount


def _check_payer(widget: PayWidget, payer: PayerInput) -> tuple[int, str, str, str]:
    errors: dict[str, str] = {}
    amount = 0
    try:
        amount = amount_for(widget, payer.unsafe_amount)
    except ValidationFailed as exc:
        errors.update(exc.errors)
    description = " ".join((payer.description or "").split())
    name = " ".join((payer.name or "").split())
    email = (payer.email or "").strip().lower()
    if not description:
        errors["description"] = "Say what the payment is for, e.g. an order or invoice number."
    elif len(description) > 500:
        errors["description"] = "Use at most 500 characters."
    if not name:
        errors["name"] = "Enter your name."
    elif len(name) > 200:
        errors["name"] = "Use at most 200 characters."
    try:
        validate_email(email, check_deliverability=False, test_environment=True)
    except EmailNotValidError:
        errors["email"] = "Enter an email address like you@example.com."
    if len(email) > 320:
        errors["email"] = "Use at most 320 characters."
    if errors:
        raise ValidationFailed(errors)
    return amount, description, name, email


def account_for_payer(
    session: Session, widget: PayWidget, *, name: str, email: str, now: datetime
) -> Account:
    """The account whose billing email (lower-cased) and currency match, else a new one.
    Commits when it creates one.

    Two first-time payments from one email at once must not make two accounts: on PostgreSQL
    the look-up and the insert run under a transaction-scoped advisory lock on (currency,
    email), so the second waits for the first's commit and then finds its account (the lock
    ends with the transaction: the caller's next commit when the account existed). (A unique
    index cannot say this: staff may create several accounts with one billing email.) SQLite,
    the one-process demo, serialises its writers anyway."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(
            select(
                func.pg_advisory_xact_lock(
                    PAYER_LOCK_CLASS, func.hashtext(f"{widget.currency}:{email}")
                )
            )
        )
    account = session.scalar(
        select(Account)
        .where(func.lower(Account.billing_email) == email, Account.currency == widget.currency)
        .order_by(Account.id)
        .limit(1)
    )
    if account is not None:
        return account
    account = Account(
        name=name, billing_email=email, currency=widget.currency, locale="en_US", created_at=now
    )
    session.add(account)
    session.flush()
    audit.record(
        session,
        actor=f"widget:{widget.id}",
        action="account.created",
        subject=account,
        now=now,
        account_id=account.id,
        after={"name": name, "billing_email": email, "source": "pay_now_widget"},
    )
    session.commit()
    return account


def _widget_invoice(
    session: Session, widget: PayWidget, account: Account, *, description: str, amount: int, now
) -> Invoice:
    actor = f"widget:{widget.id}"
    draft = invoice_service.create_draft(
        session,
        account=account,
        lines=[invoice_service.DraftLine(description[:500], Decimal(1), amount)],
        issue_date=now.date(),
        due_date=now.date(),
        currency=widget.currency,
        memo="Paid with the Pay Now widget.",
        now=now,
        actor=actor,
    )
    return invoice_service.finalize_invoice(
        session, invoice_id=draft.id, now=now, actor=actor, apply_credit=False
    )


def _pending_payment(
    session: Session,
    *,
    account: Account,
    card: CardDetails,
    amount: int,
    currency: str,
    description: str,
    processor: str,
    now: datetime,
    actor: str,
) -> Payment:
    """A pending card payment applied to no invoice (nothing is charged yet). Commits."""
    payment = Payment(
        account_id=account.id,
        method=PaymentMethod.CARD,
        status=PaymentStatus.PENDING,
        currency=currency,
        amount_minor=amount,
        received_date=now.date(),
        reference=description[:200],
        processor=processor,
        processor_payment_method_id=card.payment_method_id,
        card_brand=card.brand,
        card_last4=card.last4,
        created_at=now,
    )
    session.add(payment)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="payment.started",
        subject=payment,
        now=now,
        account_id=account.id,
        after={"amount_minor": amount, "currency": currency, "card_last4": card.last4},
    )
    session.commit()
    return payment


def pay_with_widget(
    session: Session,
    gateway: PaymentGateway,
    *,
    public_key: str,
    payer: PayerInput,
    setup_intent_id: str,
    ip: str,
    now: datetime,
    base_url: str,
) -> Payment:
    """Pay through the widget with the card of a SetupIntent made by `start_setup`.

    Returns the succeeded payment. Raises NotFound (no such active widget), RateLimited,
    ValidationFailed (per field: amount, description, name, email, card; nothing is written),
    PaymentDeclined (the invoice made for it, if any, is voided), AuthenticationRequired
    (3-D Secure: the browser finishes it, then `confirm_widget_payment`), GatewayRetryable
    (the payment stays pending: reconciliation settles it, never charging twice),
    GatewayPermanent. Commits at every step."""
    widget = widget_for_key(session, public_key)
    _count_attempt(session, ip=ip, now=now)
    session.commit()
    amount, description, name, email = _check_payer(widget, payer)
    setup = gateway.retrieve_setup_intent(setup_intent_id) if setup_intent_id else None
    if (
        setup is None
        or setup.metadata.get(SETUP_METADATA) != str(widget.id)
        or setup.status != "succeeded"
        or not setup.payment_method_id
    ):
        raise ValidationFailed({"card": "The card was not confirmed. Enter it again."})
    card = gateway.retrieve_card(setup.payment_method_id)
    actor = f"widget:{widget.id}"
    account = account_for_payer(session, widget, name=name, email=email, now=now)
    invoice = None
    if widget.create_invoice:
        invoice = _widget_invoice(
            session, widget, account, description=description, amount=amount, now=now
        )
        payment = card_payments.start_card_payment(
            session,
            account_id=account.id,
            shares=[card_payments.Share(invoice.id, amount)],
            card=card,
            allow_partial=False,
            processor=gateway.name,
            now=now,
            actor=actor,
        )
    else:
        payment = _pending_payment(
            session,
            account=account,
            card=card,
            amount=amount,
            currency=widget.currency,
            description=description,
            processor=gateway.name,
            now=now,
            actor=actor,
        )
    session.add(
        WidgetPayment(
            widget_id=widget.id,
            payment_id=payment.id,
            invoice_id=invoice.id if invoice else None,
            payer_name=name,
            payer_email=email,
            description=description,
            ip=ip,
            created_at=now,
        )
    )
    session.commit()
    try:
        payment, result = card_payments.charge_payment(
            session, gateway, payment_id=payment.id, now=now, actor=actor, base_url=base_url
        )
    except (PaymentDeclined, GatewayPermanent):
        _void_if_unpaid(session, payment.id, now=now)
        raise
    if payment.status == PaymentStatus.REQUIRES_ACTION and result is not None:
        raise AuthenticationRequired(result.client_secret, result.payment_intent_id, payment.id)
    return payment


def _widget_payment(session: Session, widget: PayWidget, payment_id: int) -> WidgetPayment:
    row = session.scalar(
        select(WidgetPayment).where(
            WidgetPayment.payment_id == payment_id, WidgetPayment.widget_id == widget.id
        )
    )
    if row is None:
        raise NotFound(f"payment {payment_id}")
    return row


def client_secret_for(
    session: Session, gateway: PaymentGateway, *, public_key: str, payment_id: int
) -> str | None:
    """The client secret to finish 3-D Secure for a widget payment still waiting for it, or
    None. Another widget's or nobody's payment is NotFound. Read-only."""
    widget = widget_for_key(session, public_key)
    row = _widget_payment(session, widget, payment_id)
    account_id = session.scalar(select(Payment.account_id).where(Payment.id == row.payment_id))
    return card_payments.client_secret_for(
        session, gateway, payment_id=payment_id, account_id=account_id
    )


def confirm_widget_payment(
    session: Session,
    gateway: PaymentGateway,
    *,
    public_key: str,
    payment_id: int,
    now: datetime,
    base_url: str,
) -> Payment:
    """After 3-D Secure in the browser: settle the widget payment from the processor. Same
    errors as card_payments.confirm_card_payment; a declined one voids its invoice. Commits."""
    widget = widget_for_key(session, public_key)
    row = _widget_payment(session, widget, payment_id)
    account_id = session.scalar(select(Payment.account_id).where(Payment.id == row.payment_id))
    try:
        return card_payments.confirm_card_payment(
            session,
            gateway,
            payment_id=payment_id,
            account_id=account_id,
            now=now,
            actor=f"widget:{widget.id}",
            base_url=base_url,
        )
    except PaymentDeclined:
        _void_if_unpaid(session, payment_id, now=now)
        raise


def payment_summary(session: Session, *, public_key: str, payment_id: int) -> Payment:
    """A widget payment for its thank-you page (NotFound for another widget's). Read-only."""
    widget = widget_for_key(session, public_key)
    row = _widget_payment(session, widget, payment_id)
    return session.get(Payment, row.payment_id)


def _void_if_unpaid(session: Session, payment_id: int, *, now: datetime) -> bool:
    """Void the invoice made for a widget payment that failed, if it is still unpaid."""
    session.rollback()
    row = session.scalar(select(WidgetPayment).where(WidgetPayment.payment_id == payment_id))
    if row is None or row.invoice_id is None:
        return False
    status = session.scalar(select(Payment.status).where(Payment.id == payment_id))
    invoice = session.get(Invoice, row.invoice_id, populate_existing=True)
    if status not in FAILED or invoice.status != InvoiceStatus.OPEN or invoice.amount_paid_minor:
        session.rollback()
        return False
    try:
        invoice_service.void_invoice(
            session, invoice_id=invoice.id, now=now, actor=f"widget:{row.widget_id}"
        )
    except InvalidTransition:
        session.rollback()
        return False
    return True


def void_unpaid_widget_invoices(session: Session, *, now: datetime, limit: int = 200) -> int:
    """Void the open, unpaid invoices made for widget payments that failed or were canceled
    (e.g. 3-D Secure abandoned, canceled by reconciliation); returns how many. Idempotent:
    a voided invoice is not found again. Commits per invoice."""
    payment_ids = list(
        session.scalars(
            select(WidgetPayment.payment_id)
            .join(Payment, Payment.id == WidgetPayment.payment_id)
            .join(Invoice, Invoice.id == WidgetPayment.invoice_id)
            .where(
                Payment.status.in_(FAILED),
                Invoice.status == InvoiceStatus.OPEN,
                Invoice.amount_paid_minor == 0,
            )
            .order_by(WidgetPayment.id)
            .limit(limit)
        )
    )
    session.rollback()
    return sum(_void_if_unpaid(session, pid, now=now) for pid in payment_ids)
