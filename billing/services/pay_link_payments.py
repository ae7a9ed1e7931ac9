"""Paying through a pay link: a card entered on the public page pays that one invoice.

The card is set up for this payment only (a SetupIntent without a customer, tagged with the
invoice), so the payer never sees or adds to the account's saved cards. Each step goes
through `invoice_for_token`, which rate-limits unknown tokens per IP; declined cards count as
failures of that IP too, so the public page cannot be used to test stolen cards. Charging,
3-D Secure and exactly-once application are billing.services.card_payments'.
"""

from __future__ import annotations

import secrets
from datetime import datetime

from sqlalchemy.orm import Session

from billing.errors import InvalidTransition, PaymentDeclined
from billing.gateways.base import PaymentGateway, SetupResult
from billing.models import AttemptKind, AuthAttempt, Invoice, Payment, Realm
from billing.services import card_payments, pay_links
from billing.services.auth import Limits
from billing.services.processor_settings import allows_partial_payments

SETUP_METADATA = "paydesk_pay_link_invoice_id"


def _payable_invoice(session: Session, *, token: str, ip: str, now: datetime, limits: Limits):
    invoice = pay_links.invoice_for_token(session, token=token, ip=ip, now=now, limits=limits)
    if not pay_links.is_payable(invoice):
        session.rollback()
        raise InvalidTransition("This invoice is not open for payment any more.")
    return invoice


def start_setup(
    session: Session,
    gateway: PaymentGateway,
    *,
    token: str,
    ip: str,
    now: datetime,
    limits: Limits,
) -> SetupResult:
    """A one-time SetupIntent for paying the link's invoice (the browser confirms it).
    Raises TokenInvalid, RateLimited, InvalidTransition (paid or void), Gateway*."""
    invoice = _payable_invoice(session, token=token, ip=ip, now=now, limits=limits)
    invoice_id = invoice.id
    session.rollback()
    return gateway.create_setup_intent(
        customer_id=None,
        idempotency_key=f"pay_link:{invoice_id}:setup:{secrets.token_hex(8)}",
        metadata={SETUP_METADATA: str(invoice_id)},
    )


def pay_invoice(
    session: Session,
    gateway: PaymentGateway,
    *,
    token: str,
    ip: str,
    unsafe_amount: str | None,
    setup_intent_id: str,
    now: datetime,
    limits: Limits,
    base_url: str,
) -> Payment:
    """Pay the link's invoice (the amount due, or `unsafe_amount` such as "120.50" where
    partial payments are allowed) with the card of a SetupIntent made by `start_setup`.
    Raises TokenInvalid, RateLimited, InvalidTransition, ValidationFailed, PaymentDeclined
    (counted against the IP), AuthenticationRequired (3-D Secure), Gateway*. Commits."""
    invoice: Invoice = _payable_invoice(session, token=token, ip=ip, now=now, limits=limits)
    link = pay_links.live_link_for_token(session, token=token, now=now)
    allow_partial = allows_partial_payments(session)
    shares = card_payments.parse_shares(
        [invoice], [str(invoice.id)], {str(invoice.id): unsafe_amount or ""}
    )
    try:
        return card_payments.pay_one_time(
            session,
            gateway,
            invoice=invoice,
            amount_minor=shares[0].amount_minor,
            setup_intent_id=setup_intent_id,
            setup_metadata=(SETUP_METADATA, str(invoice.id)),
            allow_partial=allow_partial,
            now=now,
            actor=f"pay_link:{link.id}",
            base_url=base_url,
        )
    except PaymentDeclined:
        _count_failure(session, ip=ip, now=now)
        raise


def _count_failure(session: Session, *, ip: str, now: datetime) -> None:
    session.add(
        AuthAttempt(
            realm=Realm.PORTAL,
            kind=AttemptKind.PAY_LINK,
            email="",
            ip=ip,
            at=now,
            succeeded=False,
        )
    )
    session.commit()
