"""The Pay Now widget over HTTP: only its route may be framed, and only by the configured
origins; it needs no cookie or CSRF token; staff configure it and copy its snippet in admin."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from billing.models import PayWidget, StaffRole
from billing.services import widgets
from tests.admin import sign_in_staff
from tests.factories import NOW
from tests.helpers import post_form
from tests.money_back import RefundingFakeGateway


@pytest.fixture
def settings_overrides():
    return {"stripe_publishable_key": "pk_test_widget"}


@pytest.fixture
def gateway():
    return RefundingFakeGateway()


@pytest.fixture
def app(settings, gateway):
    from web.app import create_app
    from web.extensions import db

    application = create_app(settings, gateway=gateway)
    yield application
    db.factory.kw["bind"].dispose()


@pytest.fixture
def widget(session):
    return widgets.save_widget(
        session,
        values={
            "title": "Pay Bluebird",
            "currency": "USD",
            "allowed_origins": "https://shop.example.com\nhttp://localhost:8080",
        },
        now=NOW,
        actor="staff:1",
    )


def test_only_the_widget_route_may_be_framed_by_the_configured_origins(client, widget):
    response = client.get(f"/widget/{widget.public_key}")
    assert response.status_code == 200
    policy = response.headers["Content-Security-Policy"]
    assert "frame-ancestors https://shop.example.com http://localhost:8080" in policy
    assert "frame-ancestors 'none'" not in policy
    assert "X-Frame-Options" not in response.headers
    for path in ["/login", "/admin/login", f"/widget/{widget.public_key}x"]:
        other = client.get(path)
        assert "frame-ancestors 'none'" in other.headers["Content-Security-Policy"], path
        assert other.headers["X-Frame-Options"] == "DENY", path


def test_a_widget_without_origins_cannot_be_framed_but_still_opens(client, session, widget):
    widget.allowed_origins = ""
    session.commit()
    response = client.get(f"/widget/{widget.public_key}")
    assert response.status_code == 200
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]


def test_a_paused_or_unknown_widget_is_404(client, session, widget):
    assert client.get("/widget/nope").status_code == 404
    widget.is_active = False
    session.commit()
    assert client.get(f"/widget/{widget.public_key}").status_code == 404


def test_posting_needs_no_cookie_or_csrf_token_and_explains_mistakes(app, widget, gateway):
    stranger = app.test_client(use_cookies=False)
    response = stranger.post(
        f"/widget/{widget.public_key}",
        data={"amount": "abc", "description": "", "name": "G", "email": "x"},
    )
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    for message in [
        "Nothing was charged",
        "Enter an amount such as 125.00.",
        "Say what the payment is for",
        "Enter an email address like you@example.com.",
    ]:
        assert message in html, message
    assert "frame-ancestors https://shop.example.com" in response.headers["Content-Security-Policy"]
    setup = stranger.post(f"/widget/{widget.public_key}/setup")
    assert setup.status_code == 200 and setup.get_json()["client_secret"]


def test_paying_shows_thanks_inside_the_frame(app, widget, gateway):
    setup = gateway.succeeded_setup(
        "4242424242424242", customer_id=None, metadata={widgets.SETUP_METADATA: str(widget.id)}
    )
    response = app.test_client(use_cookies=False).post(
        f"/widget/{widget.public_key}",
        data={
            "amount": "12.00",
            "description": "Order 7",
            "name": "Grace Hopper",
            "email": "grace@example.test",
            "setup_intent_id": setup,
        },
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "Thank you!" in html and "$12.00" in html


def test_a_forged_confirm_ticket_is_404(client, widget):
    response = client.post(f"/widget/{widget.public_key}/confirm/1")
    assert response.status_code == 404


def test_admin_configures_the_widget_and_copies_a_named_iframe(client, make, session):
    sign_in_staff(client, make)
    page = client.get("/admin/settings/widget").get_data(as_text=True)
    assert "Create widget" in page and "No widget payments yet" in page
    response = post_form(
        client,
        "/admin/settings/widget",
        {
            "title": "Pay Bluebird",
            "currency": "EUR",
            "amount_mode": "fixed",
            "fixed_amount": "49.00",
            "min_amount": "",
            "max_amount": "",
            "allowed_origins": "https://shop.example.com",
            "create_invoice": "y",
            "is_active": "y",
        },
    )
    assert response.status_code == 302
    widget = session.scalar(select(PayWidget))
    assert (widget.currency, widget.fixed_amount_minor, widget.create_invoice) == (
        "EUR",
        4900,
        True,
    )
    page = client.get("/admin/settings/widget").get_data(as_text=True)
    snippet = re.search(r'<textarea id="widget-snippet"[^>]*>(.*?)</textarea>', page, re.S).group(1)
    assert "&lt;iframe name=&#34;paydesk-pay-now&#34;" in snippet
    assert f"/widget/{widget.public_key}" in snippet

    bad = post_form(
        client,
        "/admin/settings/widget",
        {
            "title": "",
            "currency": "EUR",
            "amount_mode": "payer",
            "min_amount": "5",
            "max_amount": "1",
            "allowed_origins": "ftp://nope",
        },
    )
    assert bad.status_code == 422
    html = bad.get_data(as_text=True)
    assert "Give the widget a title" in html and "not a web origin" in html


def test_read_only_staff_cannot_change_the_widget(client, make):
    sign_in_staff(client, make, role=StaffRole.READ_ONLY)
    assert "Only administrators can change it" in client.get("/admin/settings/widget").get_data(
        as_text=True
    )
    response = post_form(
        client,
        "/admin/settings/widget",
        {"title": "x", "currency": "USD"},
        form_path="/admin/settings/widget",
    )
    assert response.status_code == 403
