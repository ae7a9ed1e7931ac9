"""Who is signed in. flask-login stores "<realm>:<session token>" in the signed session cookie;
each request looks the token's hash up in auth_sessions, so signing out (which deletes the row)
really ends the session, even for a copied cookie.

Customers and staff sign in separately: views declare which realm they need with
`portal_login_required` or `staff_login_required` (optionally with roles).
"""

from __future__ import annotations

from functools import wraps

from flask import abort, current_app, redirect, request, url_for
from flask_login import current_user

from billing.clock import utcnow
from billing.models import PortalRole, PortalUser, Realm, StaffRole, StaffUser
from billing.services import auth as auth_service
from web.extensions import db, login_manager


class SignedInUser:
    """The signed-in person (a SessionUser record, see billing.services.auth) plus the session
    token; the record's fields read as attributes (`id`, `realm`, `role`, `account_id`, ...)."""

    is_authenticated = True
    is_anonymous = False
    is_active = True  # only active users' sessions load

    def __init__(self, user: auth_service.SessionUser, token: str) -> None:
        self.user = user
        self.token = token

    @classmethod
    def signing_in(cls, user: PortalUser | StaffUser, token: str) -> SignedInUser:
        """The person who just signed in with `token`, from their loaded row."""
        return cls(auth_service.SessionUser.of(user), token)

    def get_id(self) -> str:
        return f"{self.user.realm}:{self.token}"

    def __getattr__(self, name: str):
        return getattr(self.user, name)


@login_manager.user_loader
def _load_user(session_id: str) -> SignedInUser | None:
    realm_text, _, token = session_id.partition(":")
    if realm_text not in Realm.__members__.values() or not token:
        return None
    user = auth_service.user_for_session(
        db.session, realm=Realm(realm_text), token=token, now=utcnow()
    )
    return SignedInUser(user, token) if user else None


def limits() -> auth_service.Limits:
    return current_app.extensions["paydesk.auth_limits"]


def client_ip() -> str:
    """The client's address (ProxyFix, when configured, makes this the real one)."""
    return (request.remote_addr or "unknown")[:45]


def _login_required(realm: Realm, login_endpoint: str, roles: frozenset[str] | None = None):
    def decorator(view):
        @wraps(view)
        def wrapped(*args, **kwargs):
            if not current_user.is_authenticated or current_user.realm != realm:
                return redirect(url_for(login_endpoint, next=request.full_path.rstrip("?")))
            if roles is not None and current_user.role not in roles:
                abort(403)
            return view(*args, **kwargs)

        return wrapped

    return decorator


portal_login_required = _login_required(Realm.PORTAL, "portal.login")
staff_login_required = _login_required(Realm.STAFF, "admin.login")


def staff_role_required(*roles: StaffRole):
    return _login_required(Realm.STAFF, "admin.login", frozenset(roles))


def portal_role_required(*roles: PortalRole):
    """A signed-in customer whose role is one of `roles` (others get 403)."""
    return _login_required(Realm.PORTAL, "portal.login", frozenset(roles))


# Who may pay and manage cards in the portal: everyone but viewers (who only look).
CAN_PAY = (PortalRole.OWNER, PortalRole.BILLING)
