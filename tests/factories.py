"""Factories for tests: realistic records made through the domain services where one exists,
so totals, numbers and audit entries are what production would write."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from sqlalchemy.orm import Session

from billing.models import Account, PaymentMethod, PortalRole, PortalUser, StaffRole, StaffUser
from billing.passwords import hash_password
from billing.services import invoices as invoice_service
from billing.services import payments as payment_service

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
PASSWORD = "correct horse battery"
_counter = itertools.count(1)
_hash_cache: dict[str, str] = {}


def _hash(password: str) -> str:
    """argon2 is slow on purpose; tests reuse one hash per password."""
    if password not in _hash_cache:
        _hash_cache[password] = hash_password(password)
    return _hash_cache[password]


class Factories:
    def __init__(self, session: Session) -> None:
        self.session = session

    def account(self, **values) -> Account:
        n = next(_counter)
        account = Account(
            **{
                "name": f"Customer {n} Ltd",
                "billing_email": f"billing{n}@example.test",
                "address": f"{n} Main Street\nSpringfield",
                "currency": "USD",
                "locale": "en_US",
                "created_at": NOW,
            }
            | values
        )
        self.session.add(account)
        self.session.commit()
        return account

    def portal_user(
        self, account: Account | None = None, *, password: str | None = PASSWORD, **values
    ) -> PortalUser:
        account = account or self.account()
        n = next(_counter)
        user = PortalUser(
            **{
                "account_id": account.id,
                "email": f"user{n}@example.test",
                "name": f"User {n}",
                "role": PortalRole.OWNER,
                "password_hash": _hash(password) if password else None,
                "created_at": NOW,
            }
            | values
        )
        self.session.add(user)
        self.session.commit()
        return user

    def staff_user(self, *, password: str | None = PASSWORD, **values) -> StaffUser:
        n = next(_counter)
        user = StaffUser(
            **{
                "email": f"staff{n}@paydesk.test",
                "name": f"Staff {n}",
                "role": StaffRole.ADMIN,
                "password_hash": _hash(password) if password else None,
                "created_at": NOW,
            }
            | values
        )
        self.session.add(user)
        self.session.commit()
        return user

    def invoice(
        self,
        account: Account | None = None,
        *,
        lines: list[tuple[str, str, int, str]] | None = None,
        issue_date: date = date(2026, 11, 1),
        days: int = 30,
        finalize: bool = True,
        paid_minor: int = 0,
        status: str | None = None,
        discount_minor: int = 0,
        memo: str = "",
    ):
        """An invoice: finalized by default; `paid_minor` records a check against it;
        `status` may be 'void' or 'uncollectible'. Lines are (description, qty, unit, tax%)."""
        account = account or self.account()
        lines = lines or [("Consulting", "2", 15000, "10"), ("Support plan", "1", 4999, "0")]
        invoice = invoice_service.create_draft(
            self.session,
            account=account,
            lines=[
                invoice_service.DraftLine(d, Decimal(q), unit, Decimal(t))
                for d, q, unit, t in lines
            ],
            issue_date=issue_date,
            due_date=issue_date + timedelta(days=days),
            discount_minor=discount_minor,
            memo=memo,
            now=NOW,
            actor="test",
        )
        if finalize:
            invoice_service.finalize_invoice(
                self.session, invoice_id=invoice.id, now=NOW, actor="test"
            )
        if paid_minor:
            self.payment(invoice, paid_minor)
        if status == "void":
            invoice_service.void_invoice(self.session, invoice_id=invoice.id, now=NOW, actor="test")
        elif status == "uncollectible":
            invoice_service.mark_uncollectible(
                self.session, invoice_id=invoice.id, now=NOW, actor="test"
            )
        self.session.refresh(invoice)
        return invoice

    def payment(
        self, invoice, amount_minor: int | None = None, method: PaymentMethod = PaymentMethod.CHECK
    ):
        return payment_service.record_offline_payment(
            self.session,
            invoice_id=invoice.id,
            amount_minor=invoice.amount_due_minor if amount_minor is None else amount_minor,
            method=method,
            received_date=NOW.date(),
            reference="CHK-1001",
            now=NOW,
            actor="test",
        )
