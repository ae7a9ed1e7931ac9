"""Saved cards: a customer's cards at the processor, as the portal shows them.

Cards are added with a SetupIntent confirmed in the browser by Stripe.js (`start_card_setup`,
then `finish_card_setup` with the SetupIntent id), removed (detached at the processor) and one
is the default. The account gets a processor customer the first time it needs one. Webhooks
keep the rows in step (`card_detached`, `card_updated`, and setup_intent.succeeded finishing a
setup whose browser went away). Card numbers never reach Paydesk.

Processor calls sit between commits; every public function that changes rows commits once and
writes an audit entry.
"""

from __future__ import annotations

import secrets
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from billing import audit
from billing.errors import NotFound, ValidationFailed
from billing.gateways.base import CardDetails, PaymentGateway, SetupResult
from billing.models import Account, SavedCard

ACCOUNT_METADATA = "paydesk_account_id"


def active_cards(session: Session, *, account_id: int) -> list[SavedCard]:
    """The account's cards, default first, then newest. Read-only."""
    return list(
        session.scalars(
            select(SavedCard)
            .where(SavedCard.account_id == account_id, SavedCard.removed_at.is_(None))
            .order_by(SavedCard.is_default.desc(), SavedCard.id.desc())
        )
    )


def get_card(session: Session, *, account_id: int, card_id: int) -> SavedCard:
    """One active card of the account; NotFound otherwise (another account's id too)."""
    card = session.scalar(
        select(SavedCard).where(
            SavedCard.id == card_id,
            SavedCard.account_id == account_id,
            SavedCard.removed_at.is_(None),
        )
    )
    if card is None:
        raise NotFound(f"card {card_id}")
    return card


def ensure_customer(
    session: Session, gateway: PaymentGateway, *, account_id: int, now: datetime, actor: str
) -> str:
    """The account's processor customer id, creating the customer on first need. The
    processor call happens outside any open transaction; if two requests race, the first
    stored id wins (the idempotency key makes it the same customer at Stripe). Commits."""
    account = session.get(Account, account_id)
    if account is None:
        raise NotFound(f"account {account_id}")
    if account.processor_customer_id:
        return account.processor_customer_id
    session.rollback()
    customer_id = gateway.create_customer(
        name=account.name,
        email=account.billing_email,
        idempotency_key=f"account:{account_id}:customer",
        metadata={ACCOUNT_METADATA: str(account_id)},
    )
    account = session.scalar(select(Account).where(Account.id == account_id).with_for_update())
    if account.processor_customer_id:
        session.rollback()
        return account.processor_customer_id
    account.processor_customer_id = customer_id
    audit.record(
        session,
        actor=actor,
        action="account.processor_customer_linked",
        subject=account,
        now=now,
        account_id=account_id,
        after={"processor": gateway.name},
    )
    session.commit()
    return customer_id


def start_card_setup(
    session: Session, gateway: PaymentGateway, *, account_id: int, now: datetime, actor: str
) -> SetupResult:
    """A SetupIntent for the account's customer (created on first need); the browser confirms
    it with Stripe.js. Raises GatewayRetryable / GatewayPermanent."""
    customer_id = ensure_customer(session, gateway, account_id=account_id, now=now, actor=actor)
    return gateway.create_setup_intent(
        customer_id=customer_id,
        idempotency_key=f"account:{account_id}:setup:{secrets.token_hex(8)}",
        metadata={ACCOUNT_METADATA: str(account_id)},
    )


def finish_card_setup(
    session: Session,
    gateway: PaymentGateway,
    *,
    account_id: int,
    setup_intent_id: str,
    now: datetime,
    actor: str,
) -> SavedCard:
    """Save the card of a SetupIntent the browser confirmed. The SetupIntent must belong to
    this account's customer and have succeeded (so nobody saves a card they did not enter).
    Idempotent: a card already saved is returned as it is. Raises ValidationFailed,
    PaymentDeclined (the bank refused to attach the card), Gateway*. Commits."""
    account = session.get(Account, account_id)
    if account is None:
        raise NotFound(f"account {account_id}")
    customer_id = account.processor_customer_id
    session.rollback()
    setup = gateway.retrieve_setup_intent(setup_intent_id) if setup_intent_id else None
    if (
        setup is None
        or not customer_id
        or setup.customer_id != customer_id
        or setup.status != "succeeded"
        or not setup.payment_method_id
    ):
        raise ValidationFailed({"card": "The card was not confirmed. Enter it again."})
    card = gateway.attach_card(payment_method_id=setup.payment_method_id, customer_id=customer_id)
    return save_card(session, account_id=account_id, card=card, now=now, actor=actor)


def save_card(
    session: Session, *, account_id: int, card: CardDetails, now: datetime, actor: str
) -> SavedCard:
    """Record a card attached to the account's customer. The first card becomes the default.
    Idempotent (unique processor id). Commits."""
    existing = session.scalar(
        select(SavedCard).where(SavedCard.processor_payment_method_id == card.payment_method_id)
    )
    if existing is not None:
        session.rollback()
        if existing.account_id != account_id:
            raise ValidationFailed({"card": "That card cannot be used here."})
        return existing
    has_default = session.scalar(
        select(SavedCard.id).where(
            SavedCard.account_id == account_id,
            SavedCard.removed_at.is_(None),
            SavedCard.is_default.is_(True),
        )
    )
    saved = SavedCard(
        account_id=account_id,
        processor_payment_method_id=card.payment_method_id,
        brand=card.brand or "card",
        last4=card.last4[-4:],
        exp_month=card.exp_month or 1,
        exp_year=card.exp_year,
        is_default=has_default is None,
        created_at=now,
    )
    session.add(saved)
    try:
        audit.record(
            session,
            actor=actor,
            action="card.added",
            subject=saved,
            now=now,
            account_id=account_id,
            after={"brand": saved.brand, "last4": saved.last4, "expiry": saved.expiry},
        )
        session.commit()
    except IntegrityError:
        session.rollback()  # saved concurrently (the webhook and the browser both finished it)
        return session.scalar(
            select(SavedCard).where(SavedCard.processor_payment_method_id == card.payment_method_id)
        )
    return saved


def _lock_cards(session: Session, account_id: int) -> list[SavedCard]:
    return list(
        session.scalars(
            select(SavedCard)
            .where(SavedCard.account_id == account_id, SavedCard.removed_at.is_(None))
            .order_by(SavedCard.id.desc())
            .with_for_update()
        )
    )


def remove_card(
    session: Session,
    gateway: PaymentGateway,
    *,
    account_id: int,
    card_id: int,
    now: datetime,
    actor: str,
) -> None:
    """Detach the card at the processor and stop showing it; the newest other card becomes the
    default if this one was. Raises NotFound. Commits."""
    card = get_card(session, account_id=account_id, card_id=card_id)
    payment_method_id = card.processor_payment_method_id
    session.rollback()
    gateway.detach_card(payment_method_id)
    _mark_removed(session, payment_method_id, now=now, actor=actor)


def _mark_removed(session: Session, payment_method_id: str, *, now: datetime, actor: str) -> bool:
    card = session.scalar(
        select(SavedCard)
        .where(SavedCard.processor_payment_method_id == payment_method_id)
        .with_for_update()
    )
    if card is None or card.removed_at is not None:
        session.rollback()
        return False
    was_default = card.is_default
    card.removed_at = now
    card.is_default = False
    if was_default:
        others = [c for c in _lock_cards(session, card.account_id) if c.id != card.id]
        if others:
            others[0].is_default = True
    audit.record(
        session,
        actor=actor,
        action="card.removed",
        subject=card,
        now=now,
        account_id=card.account_id,
        after={"last4": card.last4},
    )
    session.commit()
    return True


def set_default_card(
    session: Session, *, account_id: int, card_id: int, now: datetime, actor: str
) -> SavedCard:
    """Make one active card the default. Idempotent; raises NotFound. Commits."""
    cards = _lock_cards(session, account_id)
    chosen = next((c for c in cards if c.id == card_id), None)
    if chosen is None:
        session.rollback()
        raise NotFound(f"card {card_id}")
    if chosen.is_default:
        session.rollback()
        return chosen
    for card in cards:
        card.is_default = card.id == card_id
    audit.record(
        session,
        actor=actor,
        action="card.made_default",
        subject=chosen,
        now=now,
        account_id=account_id,
        after={"last4": chosen.last4},
    )
    session.commit()
    return chosen


def card_detached(session: Session, *, payment_method_id: str, now: datetime) -> bool:
    """A card was detached at the processor (webhook): stop offering it. Idempotent; returns
    whether anything changed. Commits."""
    return _mark_removed(session, payment_method_id, now=now, actor="system")


def card_updated(session: Session, *, card: CardDetails, now: datetime) -> bool:
    """New expiry (or brand) from the processor (webhook). Idempotent. Commits."""
    saved = session.scalar(
        select(SavedCard)
        .where(SavedCard.processor_payment_method_id == card.payment_method_id)
        .with_for_update()
    )
    if saved is None:
        session.rollback()
        return False
    new = (card.brand or saved.brand, card.last4 or saved.last4, card.exp_month, card.exp_year)
    if (saved.brand, saved.last4, saved.exp_month, saved.exp_year) == new:
        session.rollback()
        return False
    saved.brand, saved.last4, saved.exp_month, saved.exp_year = new
    audit.record(
        session,
        actor="system",
        action="card.updated",
        subject=saved,
        now=now,
        account_id=saved.account_id,
        after={"brand": saved.brand, "last4": saved.last4, "expiry": saved.expiry},
    )
    session.commit()
    return True
