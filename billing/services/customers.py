"""Customer accounts and the people who may sign in to their portal, managed by staff.

- `create_customer` / `update_customer`: billing details (legal name, billing email, address,
  tax id), currency, locale, payment terms (net days for new invoices) and extra CC addresses
  for invoice emails. Every value is checked first; a bad one changes nothing and its message
  names the field. Saving the same values again is a no-op (no audit entry).
- `invite_portal_user`: a new portal user gets a single-use link (7 days) to choose a password
  and sign in (billing/services/auth.py issues it); inviting a person who never accepted sends a
  fresh link and kills the old one.
- `change_portal_user_role`, `deactivate_portal_user` (their sessions end at once; sign-in and
  links stop working) and `reactivate_portal_user`.

Each public function is one transaction with an audit entry about the account or the user.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from babel.core import Locale, UnknownLocaleError
from email_validator import EmailNotValidError, validate_email
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from billing import audit, queries
from billing.errors import NotFound, ValidationFailed
from billing.models import Account, AuthSession, LoginToken, PortalRole, PortalUser
from billing.money import check_currency
from billing.services import auth

MAX_CC = 10
MAX_TERMS_DAYS = 3650
# field -> (maximum length, required, label)
TEXT_FIELDS: dict[str, tuple[int, bool, str]] = {
    "name": (200, True, "Legal name"),
    "billing_email": (320, True, "Billing email"),
    "address": (2000, False, "Address"),
    "tax_id": (64, False, "Tax ID"),
}
FIELDS = (*TEXT_FIELDS, "currency", "locale", "payment_terms_days", "invoice_cc")


def _clean_text(value: Any) -> str:
    return str(value or "").replace("\r\n", "\n").replace("\r", "\n").strip()


def check_email(value: str) -> str:
    """The address, normalised to lower case; raises ValueError with a message for people."""
    try:
        # Syntax only (no DNS); reserved test domains are fine.
        result = validate_email(value, check_deliverability=False, test_environment=True)
    except EmailNotValidError:
        raise ValueError("Enter an email address like billing@example.com.") from None
    return result.normalized.lower()


def _check_cc(text: str) -> str:
    """One address per line (commas and semicolons work too), checked and de-duplicated."""
    parts = [p.strip() for p in text.replace(",", "\n").replace(";", "\n").splitlines()]
    addresses: list[str] = []
    for part in filter(None, parts):
        try:
            address = check_email(part)
        except ValueError:
            raise ValueError(f"“{part[:80]}” is not an email address.") from None
        if address not in addresses:
            addresses.append(address)
    if len(addresses) > MAX_CC:
        raise ValueError(f"Add at most {MAX_CC} addresses.")
    return "\n".join(addresses)


def _validate(unsafe: dict[str, Any]) -> dict[str, Any]:
    """Clean values for an account; raises ValidationFailed listing every bad field."""
    errors: dict[str, str] = {}
    clean: dict[str, Any] = {}
    for field, (max_length, required, label) in TEXT_FIELDS.items():
        text = _clean_text(unsafe.get(field))
        if required and not text:
            errors[field] = f"{label} is required."
        elif len(text) > max_length:
            errors[field] = f"{label} can be at most {max_length} characters."
        clean[field] = text
    if clean["billing_email"] and "billing_email" not in errors:
        try:
            clean["billing_email"] = check_email(clean["billing_email"])
        except ValueError as exc:
            errors["billing_email"] = str(exc)
    try:
        clean["currency"] = check_currency(str(unsafe.get("currency") or ""))
    except ValueError:
        errors["currency"] = "Enter a three-letter ISO 4217 code, such as USD or EUR."
    try:
        locale = str(unsafe.get("locale") or "").strip()[:16]
        clean["locale"] = str(Locale.parse(locale))
        if not clean["locale"] or len(clean["locale"]) > 16:
            raise ValueError
    except (ValueError, TypeError, UnknownLocaleError):
        errors["locale"] = "Choose a language and region, such as en_US or de_DE."
    try:
        days = int(str(unsafe.get("payment_terms_days", "")).strip())
        if not 0 <= days <= MAX_TERMS_DAYS:
            raise ValueError
        clean["payment_terms_days"] = days
    except ValueError:
        errors["payment_terms_days"] = f"Enter a whole number of days from 0 to {MAX_TERMS_DAYS}."
    cc = _clean_text(unsafe.get("invoice_cc"))
    if len(cc) > MAX_CC * 330:
        errors["invoice_cc"] = f"Add at most {MAX_CC} addresses."
    else:
        try:
            clean["invoice_cc"] = _check_cc(cc)
        except ValueError as exc:
            errors["invoice_cc"] = str(exc)
    if errors:
        raise ValidationFailed(errors)
    return clean


def _snapshot(account: Account) -> dict[str, Any]:
    return {field: getattr(account, field) for field in FIELDS}


def create_customer(
    session: Session, *, values: dict[str, Any], now: datetime, actor: str
) -> Account:
    """A new customer account from `values` (name, billing_email, address, tax_id, currency,
    locale, payment_terms_days, invoice_cc). Raises ValidationFailed (nothing written). Commits
    with an audit entry."""
    clean = _validate(values)
    account = Account(**clean, created_at=now)
    session.add(account)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="account.created",
        subject=account,
        now=now,
        account_id=account.id,
        after=_snapshot(account),
    )
    session.commit()
    return account


def update_customer(
    session: Session, *, account_id: int, values: dict[str, Any], now: datetime, actor: str
) -> Account:
    """Change a customer's details (the same fields as create_customer). Invoices already
    written keep their currency and terms. Raises ValidationFailed (nothing changed), NotFound.
    Saving the same values is a no-op. Commits with an audit entry of what changed."""
    account = session.scalar(select(Account).where(Account.id == account_id).with_for_update())
    if account is None:
        raise NotFound(f"account {account_id}")
    try:
        clean = _validate(values)
    except ValidationFailed:
        session.rollback()
        raise
    before = _snapshot(account)
    changed = {k: v for k, v in clean.items() if before[k] != v}
    if not changed:
        session.rollback()
        return account
    for field, value in changed.items():
        setattr(account, field, value)
    account.updated_at = now
    audit.record(
        session,
        actor=actor,
        action="account.updated",
        subject=account,
        now=now,
        account_id=account.id,
        before={k: before[k] for k in changed},
        after=changed,
    )
    session.commit()
    return account


def _role(unsafe_role: Any) -> PortalRole:
    try:
        return PortalRole(str(unsafe_role or ""))
    except ValueError:
        raise ValidationFailed({"role": "Choose owner, billing or viewer."}) from None


def invite_portal_user(
    session: Session,
    *,
    account_id: int,
    unsafe_email: str,
    name: str,
    role: Any,
    now: datetime,
    actor: str,
    base_url: str,
) -> PortalUser:
    """Give a person access to the customer's portal: a portal user without a password and an
    emailed set-password link that expires in 7 days. Inviting someone of this account who has
    not accepted yet sends a new link (the old one stops working). Raises ValidationFailed (bad
    email, name or role; the email already belongs to someone who signed up, or to another
    customer's user), NotFound. Commits with an audit entry."""
    account = queries.get_account(session, account_id)
    errors: dict[str, str] = {}
    email = ""
    try:
        email = check_email(str(unsafe_email or "").strip()[:320])
    except ValueError as exc:
        errors["email"] = str(exc)
    name = _clean_text(name)
    if len(name) > 200:
        errors["name"] = "Use at most 200 characters."
    try:
        role = _role(role)
    except ValidationFailed as exc:
        errors |= exc.errors
    if errors:
        raise ValidationFailed(errors)
    user = session.scalar(
        select(PortalUser).where(PortalUser.email == email).with_for_update(of=PortalUser)
    )
    action = "portal_user.invited"
    if user is not None:
        if user.account_id != account_id:
            session.rollback()
            raise ValidationFailed({"email": "This email already signs in for another customer."})
        if user.password_hash is not None:
            session.rollback()
            raise ValidationFailed({"email": "This person already has portal access."})
        action = "portal_user.reinvited"
        user.name, user.role, user.is_active = name or user.name, role, True
    else:
        user = PortalUser(
            account_id=account_id,
            email=email,
            name=name,
            role=role,
            password_hash=None,
            is_active=True,
            created_at=now,
        )
        session.add(user)
    session.flush()
    auth.issue_invitation(
        session,
        user=user,
        context={"company_name": queries.company(session).name, "account_name": account.name},
        base_url=base_url,
        now=now,
    )
    audit.record(
        session,
        actor=actor,
        action=action,
        subject=user,
        now=now,
        account_id=account_id,
        after={"email": email, "role": str(role)},
    )
    session.commit()
    return user


def _lock_user(session: Session, portal_user_id: int, account_id: int | None) -> PortalUser:
    user = session.scalar(
        select(PortalUser).where(PortalUser.id == portal_user_id).with_for_update(of=PortalUser)
    )
    if user is None or (account_id is not None and user.account_id != account_id):
        raise NotFound(f"portal user {portal_user_id}")
    return user


def change_portal_user_role(
    session: Session,
    *,
    portal_user_id: int,
    role: Any,
    now: datetime,
    actor: str,
    account_id: int | None = None,
) -> PortalUser:
    """Make a portal user an owner, billing contact or viewer. No-op when unchanged. Raises
    ValidationFailed (unknown role), NotFound (also for a user of another `account_id`).
    Commits with an audit entry."""
    new_role = _role(role)
    user = _lock_user(session, portal_user_id, account_id)
    if user.role == new_role:
        session.rollback()
        return user
    before = str(user.role)
    user.role = new_role
    audit.record(
        session,
        actor=actor,
        action="portal_user.role_changed",
        subject=user,
        now=now,
        account_id=user.account_id,
        before={"role": before},
        after={"role": str(new_role)},
    )
    session.commit()
    return user


def _set_active(
    session: Session, portal_user_id: int, active: bool, now, actor, account_id
) -> PortalUser:
    user = _lock_user(session, portal_user_id, account_id)
    if user.is_active == active:
        session.rollback()
        return user
    user.is_active = active
    if not active:
        session.execute(delete(AuthSession).where(AuthSession.portal_user_id == user.id))
        for token in session.scalars(
            select(LoginToken).where(
                LoginToken.portal_user_id == user.id, LoginToken.used_at.is_(None)
            )
        ):
            token.used_at = now
    audit.record(
        session,
        actor=actor,
        action="portal_user.reactivated" if active else "portal_user.deactivated",
        subject=user,
        now=now,
        account_id=user.account_id,
        before={"is_active": not active},
        after={"is_active": active},
    )
    session.commit()
    return user


def deactivate_portal_user(
    session: Session,
    *,
    portal_user_id: int,
    now: datetime,
    actor: str,
    account_id: int | None = None,
) -> PortalUser:
    """Stop a portal user from signing in: their sessions end now and unused links die.
    Idempotent. Raises NotFound. Commits with an audit entry."""
    return _set_active(session, portal_user_id, False, now, actor, account_id)


def reactivate_portal_user(
    session: Session,
    *,
    portal_user_id: int,
    now: datetime,
    actor: str,
    account_id: int | None = None,
) -> PortalUser:
    """Let a deactivated portal user sign in again. Idempotent. Raises NotFound. Commits."""
    return _set_active(session, portal_user_id, True, now, actor, account_id)
