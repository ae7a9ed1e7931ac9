"""Signing in as a customer (the staff realm runs the same code; see test_staff_sign_in)."""

import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from billing.clock import utcnow
from billing.errors import TokenInvalid
from billing.models import AuthSession, Email, LoginToken, Realm, TokenPurpose
from billing.services import auth as auth_service
from billing.tokens import hash_token
from tests.factories import PASSWORD
from tests.helpers import csrf_token, post_form, sign_in

LINK = re.compile(r"http://localhost(/(?:admin/)?(?:login/link|reset)/[\w-]+)")


def latest_link(session, to: str) -> str:
    email = session.scalars(
        select(Email).where(Email.to_address == to).order_by(Email.id.desc())
    ).first()
    return LINK.search(email.text_body).group(1)


def test_password_sign_in_and_sign_out_ends_the_session_for_a_replayed_cookie(client, make):
    user = make.portal_user()
    sign_in(client, user.email)
    assert client.get("/invoices").status_code == 200
    stolen_cookie = client.get_cookie("paydesk_session").value
    post_form(client, "/logout", {}, form_path="/")
    assert client.get("/invoices").status_code == 302
    client.set_cookie("paydesk_session", stolen_cookie)
    response = client.get("/invoices")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_session_cookie_flags(client, make):
    user = make.portal_user()
    response = sign_in(client, user.email)
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Secure" not in cookie  # the plain-HTTP demo cannot use it


@pytest.mark.parametrize("settings_overrides", [{"base_url": "https://billing.example"}])
def test_session_cookie_is_secure_over_https(client):
    response = client.get("/login", base_url="https://billing.example")
    assert "Secure" in response.headers["Set-Cookie"]
    assert "max-age=31536000" in response.headers["Strict-Transport-Security"]


def test_wrong_password_and_unknown_email_get_the_same_answer(client, make):
    user = make.portal_user()
    wrong = post_form(client, "/login", {"email": user.email, "password": "nope nope nope"})
    unknown = post_form(client, "/login", {"email": "who@nowhere.test", "password": "nope nope"})
    assert wrong.status_code == unknown.status_code == 200
    message = "That email and password do not match an account."
    assert message in wrong.get_data(as_text=True) and message in unknown.get_data(as_text=True)
    assert client.get("/invoices").status_code == 302


def test_five_failures_for_one_email_lock_it_for_a_while(client, make, session):
    user = make.portal_user()
    for _ in range(5):
        post_form(client, "/login", {"email": user.email, "password": "wrong password"})
    response = post_form(client, "/login", {"email": user.email, "password": PASSWORD})
    assert response.status_code == 429
    assert "Too many attempts" in response.get_data(as_text=True)
    assert client.get("/invoices").status_code == 302
    # Fifteen minutes later the same password works again.
    limits = auth_service.Limits()
    auth_service.sign_in_with_password(
        session,
        realm=Realm.PORTAL,
        unsafe_email=user.email,
        password=PASSWORD,
        ip="10.9.9.9",
        now=utcnow() + timedelta(minutes=16),
        limits=limits,
    )


def test_five_failures_from_one_ip_lock_every_email(client, make):
    user = make.portal_user()
    for n in range(5):
        post_form(client, "/login", {"email": f"guess{n}@x.test", "password": "wrong password"})
    response = post_form(client, "/login", {"email": user.email, "password": PASSWORD})
    assert response.status_code == 429


def test_csrf_is_required(client, make):
    user = make.portal_user()
    response = client.post("/login", data={"email": user.email, "password": PASSWORD})
    assert response.status_code == 400
    assert client.get("/invoices").status_code == 302


def test_magic_link_get_only_shows_a_button_post_signs_in_once(client, make, session):
    user = make.portal_user(password=None)
    response = post_form(client, "/login/link", {"email": user.email})
    assert response.status_code == 302
    path = latest_link(session, user.email)
    token = path.rsplit("/", 1)[1]
    # Only the hash is stored.
    assert session.scalar(select(LoginToken).where(LoginToken.token_hash == hash_token(token)))
    assert session.scalar(select(func.count()).where(LoginToken.token_hash == token)) == 0

    page = client.get(path)
    assert page.status_code == 200 and "Finish signing in" in page.get_data(as_text=True)
    assert client.get("/invoices").status_code == 302  # the GET did not sign in
    assert post_form(client, path, {}).status_code == 302
    assert client.get("/invoices").status_code == 200

    other = client.application.test_client()
    assert other.get(path).status_code == 410  # single use


def test_magic_link_expires_after_15_minutes(make, session):
    user = make.portal_user()
    now = utcnow()
    auth_service.request_link(
        session,
        realm=Realm.PORTAL,
        purpose=TokenPurpose.MAGIC_LINK,
        unsafe_email=user.email,
        ip="1.2.3.4",
        now=now,
        limits=auth_service.Limits(),
        base_url="http://localhost",
    )
    token = latest_link(session, user.email).rsplit("/", 1)[1]
    with pytest.raises(TokenInvalid):
        auth_service.sign_in_with_link(
            session,
            realm=Realm.PORTAL,
            token=token,
            ip="1.2.3.4",
            now=now + timedelta(minutes=15, seconds=1),
            limits=auth_service.Limits(),
        )


def test_unknown_email_gets_the_same_link_answer_and_no_email(client, make, session):
    known = make.portal_user()
    a = post_form(client, "/login/link", {"email": known.email}, follow_redirects=True)
    b = post_form(client, "/login/link", {"email": "ghost@x.test"}, follow_redirects=True)
    assert "a link is on its way" in a.get_data(as_text=True)
    assert "a link is on its way" in b.get_data(as_text=True)
    assert session.scalar(select(func.count()).select_from(Email)) == 1


def test_link_requests_are_rate_limited(client, make):
    user = make.portal_user()
    for _ in range(5):
        post_form(client, "/login/link", {"email": user.email})
    assert post_form(client, "/login/link", {"email": user.email}).status_code == 429


def test_unknown_tokens_are_rate_limited_per_ip(client):
    statuses = [client.get(f"/login/link/guess{n}").status_code for n in range(6)]
    assert statuses == [410] * 5 + [429]


def test_a_staff_link_does_not_work_in_the_portal(client, make, session):
    staff = make.staff_user()
    post_form(client, "/admin/login/link", {"email": staff.email})
    token = latest_link(session, staff.email).rsplit("/", 1)[1]
    assert client.get(f"/login/link/{token}").status_code == 410


def test_password_reset_changes_the_password_and_ends_other_sessions(client, make, session, app):
    user = make.portal_user()
    elsewhere = app.test_client()
    sign_in(elsewhere, user.email)
    post_form(client, "/reset", {"email": user.email})
    path = latest_link(session, user.email)
    weak = post_form(client, path, {"password": "short", "confirm": "short"})
    assert "at least 10" in weak.get_data(as_text=True)
    response = post_form(
        client, path, {"password": "a brand new secret", "confirm": "a brand new secret"}
    )
    assert response.status_code == 302
    assert client.get("/invoices").status_code == 200
    assert elsewhere.get("/invoices").status_code == 302  # the other session ended
    fresh = app.test_client()
    sign_in(fresh, user.email, "a brand new secret")
    old = post_form(app.test_client(), "/login", {"email": user.email, "password": PASSWORD})
    assert old.status_code == 200 and "do not match" in old.get_data(as_text=True)
    assert session.scalar(select(func.count()).select_from(AuthSession)) == 2


def test_staff_sign_in_is_separate(client, make):
    staff = make.staff_user()
    customer = make.portal_user()
    assert (
        post_form(client, "/login", {"email": staff.email, "password": PASSWORD}).status_code == 200
    )
    sign_in(client, customer.email)
    response = client.get("/admin/")
    assert response.status_code == 302 and "/admin/login" in response.headers["Location"]
    sign_in(client, staff.email, admin=True)
    assert client.get("/invoices").status_code == 302  # staff are not customers


def test_next_parameter_only_redirects_within_the_site(client, make):
    user = make.portal_user()
    token = csrf_token(client, "/login")
    response = client.post(
        "/login?next=//evil.test/x",
        data={"csrf_token": token, "email": user.email, "password": PASSWORD},
    )
    assert response.headers["Location"] == "/"
