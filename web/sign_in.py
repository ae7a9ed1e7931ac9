"""Sign-in, magic-link, password-reset and sign-out views, registered on the portal blueprint
(customers) and the admin blueprint (staff) by `register`: one implementation, two realms."""

from __future__ import annotations

from flask import (
    Blueprint,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import current_user, login_user, logout_user

from billing.clock import utcnow
from billing.errors import AuthenticationFailed, RateLimited, TokenInvalid, ValidationFailed
from billing.models import Realm, TokenPurpose
from billing.services import auth as auth_service
from web.auth import SignedInUser, client_ip, limits
from web.extensions import db
from web.forms import ConfirmForm, LinkRequestForm, NewPasswordForm, SignInForm

LINK_SENT = (
    "If an account uses that email, a link is on its way. It works once and expires in "
    "{minutes} minutes."
)


def _safe_next(default: str) -> str:
    target = request.args.get("next", "")
    if target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return default


def _start(user, token: str) -> None:
    session.clear()  # no fixation: a fresh session (and CSRF token) after signing in
    session.permanent = True
    login_user(SignedInUser.signing_in(user, token))


def register(blueprint: Blueprint, realm: Realm, home_endpoint: str) -> None:
    """Add login, login_link, login_link_redeem, reset_request, reset, logout to `blueprint`."""
    name = blueprint.name
    page = {"realm": realm.value, "bp": name}

    def _home():
        return url_for(home_endpoint)

    @blueprint.route("/login", methods=["GET", "POST"], endpoint="login")
    def login():
        if current_user.is_authenticated and current_user.realm == realm:
            return redirect(_home())
        form = SignInForm()
        if form.validate_on_submit():
            try:
                user, token = auth_service.sign_in_with_password(
                    db.session,
                    realm=realm,
                    unsafe_email=form.email.data,
                    password=form.password.data,
                    ip=client_ip(),
                    now=utcnow(),
                    limits=limits(),
                )
            except (AuthenticationFailed, RateLimited) as exc:
                flash(str(exc), "error")
                return render_template("auth/login.html", form=form, **page), (
                    429 if isinstance(exc, RateLimited) else 200
                )
            _start(user, token)
            return redirect(_safe_next(_home()))
        return render_template("auth/login.html", form=form, **page)

    def _request_link(purpose: TokenPurpose, template: str):
        form = LinkRequestForm()
        if form.validate_on_submit():
            try:
                auth_service.request_link(
                    db.session,
                    realm=realm,
                    purpose=purpose,
                    unsafe_email=form.email.data,
                    ip=client_ip(),
                    now=utcnow(),
                    limits=limits(),
                    base_url=current_app.extensions["paydesk.settings"].base_url,
                )
            except RateLimited as exc:
                flash(str(exc), "error")
                return render_template(template, form=form, **page), 429
            minutes = int(auth_service.TOKEN_LIFETIMES[purpose].total_seconds() // 60)
            flash(LINK_SENT.format(minutes=minutes), "info")
            return redirect(url_for(f"{name}.login"))
        return render_template(template, form=form, **page)

    @blueprint.route("/login/link", methods=["GET", "POST"], endpoint="login_link")
    def login_link():
        return _request_link(TokenPurpose.MAGIC_LINK, "auth/link_request.html")

    @blueprint.route("/login/link/<token>", methods=["GET", "POST"], endpoint="login_link_redeem")
    def login_link_redeem(token: str):
        """GET only shows a button (mail scanners fetch links); the POST signs in."""
        form = ConfirmForm()
        try:
            if form.validate_on_submit():
                user, session_token = auth_service.sign_in_with_link(
                    db.session,
                    realm=realm,
                    token=token,
                    ip=client_ip(),
                    now=utcnow(),
                    limits=limits(),
                )
                _start(user, session_token)
                return redirect(_home())
            auth_service.check_link(
                db.session,
                realm=realm,
                purpose=TokenPurpose.MAGIC_LINK,
                token=token,
                ip=client_ip(),
                now=utcnow(),
                limits=limits(),
            )
        except (TokenInvalid, RateLimited) as exc:
            return render_template("auth/link_invalid.html", message=str(exc), **page), (
                429 if isinstance(exc, RateLimited) else 410
            )
        return render_template("auth/link_redeem.html", form=form, **page)

    @blueprint.route("/reset", methods=["GET", "POST"], endpoint="reset_request")
    def reset_request():
        return _request_link(TokenPurpose.PASSWORD_RESET, "auth/reset_request.html")

    @blueprint.route("/reset/<token>", methods=["GET", "POST"], endpoint="reset")
    def reset(token: str):
        form = NewPasswordForm()
        try:
            if form.validate_on_submit():
                user, session_token = auth_service.reset_password(
                    db.session,
                    realm=realm,
                    token=token,
                    new_password=form.password.data,
                    ip=client_ip(),
                    now=utcnow(),
                    limits=limits(),
                )
                _start(user, session_token)
                flash("Your password has been changed.", "info")
                return redirect(_home())
            auth_service.check_link(
                db.session,
                realm=realm,
                purpose=TokenPurpose.PASSWORD_RESET,
                token=token,
                ip=client_ip(),
                now=utcnow(),
                limits=limits(),
            )
        except ValidationFailed as exc:
            form.password.errors = [exc.errors["password"]]
        except (TokenInvalid, RateLimited) as exc:
            return render_template("auth/link_invalid.html", message=str(exc), **page), (
                429 if isinstance(exc, RateLimited) else 410
            )
        return render_template("auth/reset.html", form=form, **page)

    @blueprint.post("/logout", endpoint="logout")
    def logout():
        if ConfirmForm().validate_on_submit() and current_user.is_authenticated:
            auth_service.sign_out(db.session, token=current_user.token)
            logout_user()
            session.clear()
            flash("You have been signed out.", "info")
        return redirect(url_for(f"{name}.login"))
