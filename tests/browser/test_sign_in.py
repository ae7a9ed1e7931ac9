"""Signing in to the customer portal with a password, and signing out, in a real browser."""

from __future__ import annotations

import re

import pytest

pytest.importorskip("playwright.sync_api", reason="browser tests skipped: playwright missing")

from playwright.sync_api import expect

from tests.browser.conftest import HOME, LOGIN
from tests.factories import PASSWORD


def assert_signed_out(context) -> None:
    """A request from the same browser context (same cookies) is sent to the sign-in page."""
    response = context.request.get("/invoices", max_redirects=0)
    assert response.status == 302
    assert response.headers["location"].startswith("/login")


def test_sign_in_see_balance_and_invoices_then_sign_out(page, context, make, shot):
    account = make.account(name="Acme Rockets Inc")
    user = make.portal_user(account, name="Wile Coyote")
    first = make.invoice(account, lines=[("Rocket skates", "1", 12000, "0")])  # $120.00
    second = make.invoice(account, lines=[("Giant magnet", "3", 5000, "0")])  # $150.00
    third = make.invoice(account, paid_minor=10000)  # $379.99 - $100.00 = $279.99
    # Outstanding: 120.00 + 150.00 + 279.99 = $549.99

    page.goto("/login")
    expect(page.get_by_role("heading", name="Sign in to your billing portal")).to_be_visible()
    shot("login")
    page.get_by_label("Email").fill(user.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()

    page.wait_for_url(HOME)
    expect(page.get_by_role("heading", name="Welcome, Wile Coyote")).to_be_visible()
    expect(page.get_by_text("Billing for Acme Rockets Inc")).to_be_visible()
    summary = page.get_by_role("region", name="Account summary")
    expect(summary).to_contain_text("Outstanding (USD)")
    expect(summary).to_contain_text("$549.99")
    expect(summary).to_contain_text("3 unpaid invoices")
    shot("home")

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Invoices").click()
    page.wait_for_url("**/invoices")
    expect(page.get_by_role("heading", name="Invoices", exact=True)).to_be_visible()
    for invoice in (first, second, third):
        expect(page.get_by_role("link", name=invoice.number, exact=True)).to_be_visible()
    row = page.get_by_role("row").filter(has_text=third.number)
    expect(row).to_contain_text("$279.99")
    shot("invoices")

    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(LOGIN)
    expect(page.get_by_role("status")).to_have_text("You have been signed out.")
    shot("signed-out")

    page.goto("/invoices")
    expect(page).to_have_url(LOGIN)
    expect(page.get_by_label("Password")).to_be_visible()
    assert_signed_out(context)


def test_wrong_password_shows_error_and_signs_nobody_in(page, context, make, shot):
    user = make.portal_user()

    page.goto("/login")
    page.get_by_label("Email").fill(user.email)
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Sign in").click()

    expect(page.get_by_role("alert")).to_have_text(
        "That email and password do not match an account."
    )
    expect(page).to_have_url(LOGIN)
    expect(page.get_by_label("Email")).to_have_value(user.email)
    expect(page.get_by_label("Password")).to_have_value("")  # never echoed back
    shot("error")
    assert_signed_out(context)


def test_login_page_keyboard_and_labels(page, make, shot):
    """Labels name the inputs; a person can sign in with the keyboard alone; Skip to content."""
    user = make.portal_user()

    page.goto("/login")
    email = page.get_by_label("Email")
    password = page.get_by_label("Password")
    expect(email).to_have_attribute("type", "email")
    expect(password).to_have_attribute("type", "password")
    expect(email).to_have_attribute("autocomplete", "username")
    expect(password).to_have_attribute("autocomplete", "current-password")
    skip = page.get_by_role("link", name="Skip to content")
    expect(skip).to_have_count(1)
    expect(skip).to_have_attribute("href", "#main")

    # The email field has autofocus; Tab reaches the password, Enter submits.
    expect(email).to_be_focused()
    page.keyboard.type(user.email)
    page.keyboard.press("Tab")
    expect(password).to_be_focused()
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url(HOME)

    # On a page without autofocus the first Tab lands on the skip link, which then shows.
    page.keyboard.press("Tab")
    expect(skip).to_be_focused()
    expect(skip).to_be_in_viewport()
    shot("skip-link-focused")
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/#main$"))
