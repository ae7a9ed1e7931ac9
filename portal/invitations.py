"""Accepting an invitation to the portal: the emailed link (7 days, single use) opens a form to
choose a password; saving it signs the new user in. Opening the link only shows the form (mail
scanners fetch links); unknown, used or expired links are counted per IP like sign-in links."""

from __future__ import annotations

from flask import flash, redirect, render_template, session, url_for
from flask_login import login_user

from billing.clock import utcnow
from billing.errors import RateLimited, TokenInvalid, ValidationFailed
from billing.models import Realm, TokenPurpose
from billing.services import auth as auth_service
from web.auth import SignedInUser, client_ip, limits
from web.extensions import db
from web.forms import NewPasswordForm

PAGE = {"realm": Realm.PORTAL.value, "bp": "portal"}


def invitation_accept(token: str):
    form = NewPasswordForm()
    try:
        if form.validate_on_submit():
            user, session_token = auth_service.reset_password(
                db.session,
                realm=Realm.PORTAL,
                token=token,
                new_password=form.password.data,
                ip=client_ip(),
                now=utcnow(),
                limits=limits(),
                purpose=TokenPurpose.INVITATION,
            )
            session.clear()  # a fresh session (and CSRF token) after signing in
            session.permanent = True
            login_user(SignedInUser.signing_in(user, session_token))
            flash("Welcome! Your password is saved and you are signed in.", "success")
            return redirect(url_for("portal.home"))
        auth_service.check_link(
            db.session,
            realm=Realm.PORTAL,
            purpose=TokenPurpose.INVITATION,
            token=token,
            ip=client_ip(),
            now=utcnow(),
            limits=limits(),
        )
    except ValidationFailed as exc:
        form.password.errors = [exc.errors["password"]]
    except (TokenInvalid, RateLimited) as exc:
        return render_template("auth/link_invalid.html", message=str(exc), **PAGE), (
            429 if isinstance(exc, RateLimited) else 410
        )
    return render_template("auth/invitation.html", form=form, **PAGE)
