"""People who sign in: portal users (customers, one account each) and staff users (the business).

Both share the credential columns; sign-in, magic links, resets and sessions are one code path
parameterised by `Realm`. Sessions and one-time tokens are stored only as SHA-256 hashes.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Boolean, CheckConstraint, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from billing.db import Base
from billing.models._columns import fk, instant, pk
from billing.models.account import Account


class Realm(StrEnum):
    PORTAL = "portal"
    STAFF = "staff"


class PortalRole(StrEnum):
    OWNER = "owner"
    BILLING = "billing"
    VIEWER = "viewer"


class StaffRole(StrEnum):
    ADMIN = "admin"
    ACCOUNTANT = "accountant"
    READ_ONLY = "read_only"


class _Credentials:
    """Columns every person who signs in has. Emails are stored lower-cased."""

    id: Mapped[int] = pk()
    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="", server_default="")
    password_hash: Mapped[str | None] = mapped_column(String(255))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True, server_default="1")
    created_at: Mapped[datetime] = instant(nullable=False)
    last_login_at: Mapped[datetime | None] = instant()


class PortalUser(_Credentials, Base):
    __tablename__ = "portal_users"
    realm = Realm.PORTAL

    account_id: Mapped[int] = fk("accounts.id")
    role: Mapped[PortalRole] = mapped_column(String(16), default=PortalRole.VIEWER)
    account: Mapped[Account] = relationship(lazy="joined")

    __table_args__ = (CheckConstraint("role IN ('owner', 'billing', 'viewer')", name="role"),)


class StaffUser(_Credentials, Base):
    __tablename__ = "staff_users"
    realm = Realm.STAFF

    role: Mapped[StaffRole] = mapped_column(String(16), default=StaffRole.READ_ONLY)

    __table_args__ = (CheckConstraint("role IN ('admin', 'accountant', 'read_only')", name="role"),)


class PortalIdentity(Base):
    """An external (OpenID Connect) identity linked to a portal user: issuer + subject."""

    __tablename__ = "portal_identities"

    id: Mapped[int] = pk()
    portal_user_id: Mapped[int] = fk("portal_users.id", ondelete="CASCADE")
    issuer: Mapped[str] = mapped_column(String(500))
    subject: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = instant(nullable=False)

    __table_args__ = (
        UniqueConstraint("issuer", "subject", name="uq_portal_identities_issuer_subject"),
    )


class _BelongsToUser:
    """Exactly one of portal_user_id / staff_user_id is set."""

    portal_user_id: Mapped[int | None] = fk("portal_users.id", nullable=True, ondelete="CASCADE")
    staff_user_id: Mapped[int | None] = fk("staff_users.id", nullable=True, ondelete="CASCADE")

    @property
    def realm(self) -> Realm:
        return Realm.PORTAL if self.portal_user_id is not None else Realm.STAFF

    @property
    def user_id(self) -> int:
        return self.portal_user_id if self.portal_user_id is not None else self.staff_user_id


_ONE_OWNER = "(portal_user_id IS NULL) <> (staff_user_id IS NULL)"


class AuthSession(_BelongsToUser, Base):
    """A signed-in browser. The cookie holds a random token; only its hash is stored, and
    signing out deletes the row, so a replayed cookie no longer works."""

    __tablename__ = "auth_sessions"

    id: Mapped[int] = pk()
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = instant(nullable=False)
    expires_at: Mapped[datetime] = instant(nullable=False)
    ip: Mapped[str] = mapped_column(String(45), default="", server_default="")

    __table_args__ = (CheckConstraint(_ONE_OWNER, name="one_owner"),)


class TokenPurpose(StrEnum):
    MAGIC_LINK = "magic_link"
    PASSWORD_RESET = "password_reset"  # noqa: S105 (a purpose, not a secret)
    INVITATION = "invitation"  # a new portal user sets a password and signs in


class LoginToken(_BelongsToUser, Base):
    """A single-use emailed link (magic sign-in, password reset or invitation), stored as a
    hash."""

    __tablename__ = "login_tokens"

    id: Mapped[int] = pk()
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    purpose: Mapped[TokenPurpose] = mapped_column(String(16))
    created_at: Mapped[datetime] = instant(nullable=False)
    expires_at: Mapped[datetime] = instant(nullable=False)
    used_at: Mapped[datetime | None] = instant()

    __table_args__ = (
        CheckConstraint(_ONE_OWNER, name="one_owner"),
        CheckConstraint(
            "purpose IN ('magic_link', 'password_reset', 'invitation')", name="purpose"
        ),
    )


class AttemptKind(StrEnum):
    PASSWORD = "password"  # noqa: S105 — a sign-in with a password; failures count
    LINK_REQUEST = "link_request"  # asking for a magic link or reset link; every request counts
    LINK_REDEEM = "link_redeem"  # opening or using an emailed link; failures count
    PAY_LINK = "pay_link"  # opening a public pay link; unknown tokens count
    QUOTE_LINK = "quote_link"  # opening an emailed quote link; unknown tokens count
    WIDGET = "widget"  # a card attempt through the Pay Now widget; every attempt counts


class AuthAttempt(Base):
    """One sign-in or token request, counted by email and by IP for rate limiting."""

    __tablename__ = "auth_attempts"

    id: Mapped[int] = pk()
    realm: Mapped[Realm] = mapped_column(String(8))
    kind: Mapped[AttemptKind] = mapped_column(String(16))
    email: Mapped[str] = mapped_column(String(320))
    ip: Mapped[str] = mapped_column(String(45))
    at: Mapped[datetime] = instant(nullable=False)
    succeeded: Mapped[bool] = mapped_column(Boolean)

    __table_args__ = (
        Index("ix_auth_attempts_email_at", "email", "at"),
        Index("ix_auth_attempts_ip_at", "ip", "at"),
    )
