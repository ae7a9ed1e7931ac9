"""Signing in and out, for customers (Realm.PORTAL) and staff (Realm.STAFF) alike.

- Passwords are argon2 hashes; unknown emails cost the same time and get the same answer.
- Sessions: a random token in the (signed) cookie, its SHA-256 in `auth_sessions`. Signing out
  deletes the row, so a replayed cookie is worthless.
- Magic links and password resets: single-use tokens stored as hashes, valid for 15 and 60
  minutes. Opening a link only shows a button; the POST that follows redeems it.
- Rate limits: `max_failures` failed attempts for one email or one IP within `window` refuse
  further attempts (RateLimited) until the oldest counted failure leaves the window.

Every public function commits its own transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import NamedTuple

from sqlalchemy import bindparam, delete, func, null, or_, select
from sqlalchemy.orm import Session

from billing import passwords
from billing.db import PrecompiledStatement
from billing.errors import AuthenticationFailed, RateLimited, TokenInvalid, ValidationFailed
from billing.models import (
    Account,
    AttemptKind,
    AuthAttempt,
    AuthSession,
    LoginToken,
    PortalUser,
    Realm,
    StaffUser,
    TokenPurpose,
)
from billing.services import emails
from billing.tokens import hash_token, new_token

USER_MODELS: dict[Realm, type[PortalUser] | type[StaffUser]] = {
    Realm.PORTAL: PortalUser,
    Realm.STAFF: StaffUser,
}
TOKEN_LIFETIMES = {
    TokenPurpose.MAGIC_LINK: timedelta(minutes=15),
    TokenPurpose.PASSWORD_RESET: timedelta(minutes=60),
    TokenPurpose.INVITATION: timedelta(days=7),
}
LINK_PATHS = {
    (Realm.PORTAL, TokenPurpose.MAGIC_LINK): "/login/link/",
    (Realm.PORTAL, TokenPurpose.PASSWORD_RESET): "/reset/",
    (Realm.STAFF, TokenPurpose.MAGIC_LINK): "/admin/login/link/",
    (Realm.STAFF, TokenPurpose.PASSWORD_RESET): "/admin/reset/",
    (Realm.PORTAL, TokenPurpose.INVITATION): "/invite/",
}


@dataclass(frozen=True)
class Limits:
    max_failures: int = 5
    window: timedelta = timedelta(minutes=15)
    session_lifetime: timedelta = timedelta(hours=12)


User = PortalUser | StaffUser


def normalize_email(unsafe_email: str) -> str:
    return (unsafe_email or "").strip().lower()[:320]


def _owner(user: User) -> dict[str, int]:
    key = "portal_user_id" if user.realm == Realm.PORTAL else "staff_user_id"
    return {key: user.id}


def _find_user(session: Session, realm: Realm, email: str) -> User | None:
    model = USER_MODELS[realm]
    user = session.scalar(select(model).where(model.email == email))
    if user is None or not user.is_active:
        return None
    if realm == Realm.PORTAL and not user.account_id:
        return None
    return user


def _check_rate_limit(
    session: Session,
    *,
    realm: Realm,
    kind: AttemptKind,
    email: str,
    ip: str,
    now: datetime,
    limits: Limits,
) -> None:
    """Raise RateLimited when this email or this IP used up its attempts of `kind`."""
    since = now - limits.window
    for column, value in ((AuthAttempt.email, email), (AuthAttempt.ip, ip)):
        if not value:
            continue
        oldest, count = session.execute(
            select(func.min(AuthAttempt.at), func.count()).where(
                column == value,
                AuthAttempt.realm == realm,
                AuthAttempt.kind == kind,
                AuthAttempt.succeeded.is_(False),
                AuthAttempt.at > since,
            )
        ).one()
        if count >= limits.max_failures:
            retry = int((oldest + limits.window - now).total_seconds()) + 1
            raise RateLimited(retry)


def _note_attempt(
    session: Session,
    *,
    realm: Realm,
    kind: AttemptKind,
    email: str,
    ip: str,
    now: datetime,
    succeeded: bool,
) -> None:
    session.add(
        AuthAttempt(realm=realm, kind=kind, email=email, ip=ip, at=now, succeeded=succeeded)
    )


def sign_in_with_password(
    session: Session,
    *,
    realm: Realm,
    unsafe_email: str,
    password: str,
    ip: str,
    now: datetime,
    limits: Limits,
) -> tuple[User, str]:
    """Check the password and start a session; returns (user, session token).

    Raises RateLimited before checking anything when the limit is reached, AuthenticationFailed
    for a wrong email or password (the same for both). Commits the attempt either way.
    """
    email = normalize_email(unsafe_email)
    kind = AttemptKind.PASSWORD
    _check_rate_limit(session, realm=realm, kind=kind, email=email, ip=ip, now=now, limits=limits)
    user = _find_user(session, realm, email)
    ok = passwords.verify_password(user.password_hash if user else None, password)
    _note_attempt(session, realm=realm, kind=kind, email=email, ip=ip, now=now, succeeded=ok)
    if not ok or user is None:
        session.commit()
        raise AuthenticationFailed("That email and password do not match an account.")
    token = _start_session(session, user, ip=ip, now=now, limits=limits)
    session.commit()
    return user, token


def _start_session(session: Session, user: User, *, ip: str, now: datetime, limits: Limits) -> str:
    token = new_token()
    user.last_login_at = now
    session.add(
        AuthSession(
            token_hash=hash_token(token),
            created_at=now,
            expires_at=now + limits.session_lifetime,
            ip=ip,
            **_owner(user),
        )
    )
    return token


class SessionUser(NamedTuple):
    """Who holds a session: what signed-in pages use of the person, read on every request
    without loading ORM objects. The account fields are None for staff."""

    realm: Realm
    id: int
    email: str
    name: str
    role: str
    account_id: int | None
    account_name: str | None
    account_locale: str | None

    @classmethod
    def of(cls, user: User) -> SessionUser:
        """The same record for a loaded user (right after signing in)."""
        account = getattr(user, "account", None)
        return cls(
            user.realm,
            user.id,
            user.email,
            user.name,
            user.role,
            account and account.id,
            account and account.name,
            account and account.locale,
        )


def _session_user_statement(realm: Realm) -> PrecompiledStatement:
    """The user-for-session query of `realm`: SessionUser's columns but the realm."""
    model = USER_MODELS[realm]
    if realm == Realm.PORTAL:
        owner_column = AuthSession.portal_user_id
        account_columns = (PortalUser.account_id, Account.name, Account.locale)
    else:
        owner_column = AuthSession.staff_user_id
        account_columns = (null(), null(), null())
    query = (
        select(model.id, model.email, model.name, model.role, *account_columns)
        .join(AuthSession, owner_column == model.id)
        .where(
            AuthSession.token_hash == bindparam("token_hash"),
            AuthSession.expires_at > bindparam("now"),
            model.is_active.is_(True),
        )
    )
    if realm == Realm.PORTAL:
        query = query.join(Account, Account.id == PortalUser.account_id)
    return PrecompiledStatement(query)


_SESSION_USER = {realm: _session_user_statement(realm) for realm in Realm}


def user_for_session(
    session: Session, *, realm: Realm, token: str, now: datetime
) -> SessionUser | None:
    """The active user signed in with `token` in `realm`, or None. One precompiled query (it
    runs on every signed-in request), in the session's transaction. Read-only."""
    rows = _SESSION_USER[realm].rows(session, {"token_hash": hash_token(token), "now": now})
    return SessionUser(realm, *rows[0]) if rows else None


def sign_out(session: Session, *, token: str) -> None:
    """End the session holding `token` (idempotent: an unknown token is a no-op). Commits."""
    session.execute(delete(AuthSession).where(AuthSession.token_hash == hash_token(token)))
    session.commit()


def request_link(
    session: Session,
    *,
    realm: Realm,
    purpose: TokenPurpose,
    unsafe_email: str,
    ip: str,
    now: datetime,
    limits: Limits,
    base_url: str,
) -> None:
    """Email a magic sign-in or password-reset link to the user with this email, if any.

    Answers the same way for unknown emails (nothing is sent). Every request counts toward the
    rate limit (RateLimited). Commits.
    """
    email = normalize_email(unsafe_email)
    kind = AttemptKind.LINK_REQUEST
    _check_rate_limit(session, realm=realm, kind=kind, email=email, ip=ip, now=now, limits=limits)
    _note_attempt(session, realm=realm, kind=kind, email=email, ip=ip, now=now, succeeded=False)
    user = _find_user(session, realm, email)
    if user is not None:
        token = new_token()
        lifetime = TOKEN_LIFETIMES[purpose]
        session.add(
            LoginToken(
                token_hash=hash_token(token),
                purpose=purpose,
                created_at=now,
                expires_at=now + lifetime,
                **_owner(user),
            )
        )
        emails.queue_email(
            session,
            to=user.email,
            template=purpose.value,
            context={
                "name": user.name,
                "link": base_url.rstrip("/") + LINK_PATHS[realm, purpose] + token,
                "minutes": int(lifetime.total_seconds() // 60),
                "realm": realm.value,
            },
            account_id=getattr(user, "account_id", None),
            sensitive=True,
            now=now,
        )
    session.commit()


def _live_token(
    session: Session,
    *,
    realm: Realm,
    purpose: TokenPurpose,
    token: str,
    now: datetime,
    lock: bool = False,
) -> LoginToken | None:
    query = select(LoginToken).where(
        LoginToken.token_hash == hash_token(token),
        LoginToken.purpose == purpose,
        LoginToken.used_at.is_(None),
        LoginToken.expires_at > now,
        (LoginToken.portal_user_id if realm == Realm.PORTAL else LoginToken.staff_user_id).is_not(
            None
        ),
    )
    return session.scalar(query.with_for_update() if lock else query)


def check_link(
    session: Session,
    *,
    realm: Realm,
    purpose: TokenPurpose,
    token: str,
    ip: str,
    now: datetime,
    limits: Limits,
) -> None:
    """Raise TokenInvalid unless `token` is a live link (the GET that shows the button).

    Unknown tokens count toward the IP's limit (RateLimited). Commits only a failure record.
    """
    _redeem_guard(
        session,
        realm=realm,
        token_ok=_live_token(session, realm=realm, purpose=purpose, token=token, now=now)
        is not None,
        ip=ip,
        now=now,
        limits=limits,
    )


def _redeem_guard(
    session: Session, *, realm: Realm, token_ok: bool, ip: str, now: datetime, limits: Limits
) -> None:
    kind = AttemptKind.LINK_REDEEM
    _check_rate_limit(session, realm=realm, kind=kind, email="", ip=ip, now=now, limits=limits)
    if not token_ok:
        _note_attempt(session, realm=realm, kind=kind, email="", ip=ip, now=now, succeeded=False)
        session.commit()
        raise TokenInvalid("This link is invalid, has already been used, or has expired.")


def _consume(
    session: Session,
    *,
    realm: Realm,
    purpose: TokenPurpose,
    token: str,
    ip: str,
    now: datetime,
    limits: Limits,
) -> User:
    row = _live_token(session, realm=realm, purpose=purpose, token=token, now=now, lock=True)
    user = session.get(USER_MODELS[realm], row.user_id) if row else None
    _redeem_guard(
        session,
        realm=realm,
        token_ok=user is not None and user.is_active,
        ip=ip,
        now=now,
        limits=limits,
    )
    row.used_at = now
    return user


def sign_in_with_link(
    session: Session, *, realm: Realm, token: str, ip: str, now: datetime, limits: Limits
) -> tuple[User, str]:
    """Redeem a magic link once and start a session; raises TokenInvalid, RateLimited. Commits."""
    user = _consume(
        session,
        realm=realm,
        purpose=TokenPurpose.MAGIC_LINK,
        token=token,
        ip=ip,
        now=now,
        limits=limits,
    )
    session_token = _start_session(session, user, ip=ip, now=now, limits=limits)
    session.commit()
    return user, session_token


def reset_password(
    session: Session,
    *,
    realm: Realm,
    token: str,
    new_password: str,
    ip: str,
    now: datetime,
    limits: Limits,
    purpose: TokenPurpose = TokenPurpose.PASSWORD_RESET,
) -> tuple[User, str]:
    """Set a new password with a reset link (or, with purpose INVITATION, an invitation link),
    end every other session of the user and sign in.

    Raises ValidationFailed for a weak password (the link stays usable), TokenInvalid,
    RateLimited. Commits.
    """
    problem = passwords.password_problem(new_password)
    if problem:
        raise ValidationFailed({"password": problem})
    user = _consume(
        session,
        realm=realm,
        purpose=purpose,
        token=token,
        ip=ip,
        now=now,
        limits=limits,
    )
    user.password_hash = passwords.hash_password(new_password)
    session.execute(
        delete(AuthSession).where(
            *[getattr(AuthSession, column) == value for column, value in _owner(user).items()]
        )
    )
    session_token = _start_session(session, user, ip=ip, now=now, limits=limits)
    session.commit()
    return user, session_token


def issue_invitation(
    session: Session, *, user: PortalUser, context: dict, base_url: str, now: datetime
) -> None:
    """Write a single-use invitation link (7 days) for a portal user and queue its email, in the
    caller's transaction (the caller commits). Earlier unused invitations of the user stop
    working. `context` adds what the email names (company_name, account_name)."""
    for old in session.scalars(
        select(LoginToken).where(
            LoginToken.portal_user_id == user.id,
            LoginToken.purpose == TokenPurpose.INVITATION,
            LoginToken.used_at.is_(None),
        )
    ):
        old.used_at = now
    token = new_token()
    lifetime = TOKEN_LIFETIMES[TokenPurpose.INVITATION]
    path = LINK_PATHS[Realm.PORTAL, TokenPurpose.INVITATION]
    session.add(
        LoginToken(
            token_hash=hash_token(token),
            purpose=TokenPurpose.INVITATION,
            created_at=now,
            expires_at=now + lifetime,
            portal_user_id=user.id,
        )
    )
    emails.queue_email(
        session,
        to=user.email,
        template="invitation",
        context={
            "name": user.name,
            "link": base_url.rstrip("/") + path + token,
            "days": lifetime.days,
        }
        | context,
        account_id=user.account_id,
        sensitive=True,
        now=now,
    )


def forget_old_attempts(session: Session, *, now: datetime, keep: timedelta) -> int:
    """Delete attempts and expired sessions/tokens older than `keep` (a periodic job). Commits."""
    cutoff = now - keep
    counts = [
        session.execute(delete(AuthAttempt).where(AuthAttempt.at < cutoff)).rowcount,
        session.execute(delete(AuthSession).where(AuthSession.expires_at < now)).rowcount,
        session.execute(
            delete(LoginToken).where(
                or_(LoginToken.expires_at < cutoff, LoginToken.used_at < cutoff)
            )
        ).rowcount,
    ]
    session.commit()
    return sum(counts)
