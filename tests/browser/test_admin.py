"""Staff sign in to the admin at /admin/login in a real browser."""

from __future__ import annotations

import re

import pytest

pytest.importorskip("playwright.sync_api", reason="browser tests skipped: playwright missing")

from playwright.sync_api import expect

from tests.factories import PASSWORD


def test_staff_sign_in_lands_in_admin(page, make, shot):
    staff = make.staff_user(name="Daffy Admin")

    page.goto("/admin/login")
    expect(page.get_by_role("heading", name="Staff sign-in")).to_be_visible()
    shot("login")
    page.get_by_label("Email").fill(staff.email)
    page.get_by_label("Password").fill(PASSWORD)
    with page.expect_navigation() as navigation:
        page.get_by_role("button", name="Sign in").click()

    response = navigation.value  # the page the redirects end on
    expect(page).to_have_url(re.compile(r"^http://127\.0\.0\.1:\d+/admin(/|$)"))
    expect(page).not_to_have_url(re.compile(r"/admin/login"))
    shot("landing")
    assert response is not None and response.status < 400, (response.status, page.url)
    expect(page.locator(".error-code")).to_have_count(0)
