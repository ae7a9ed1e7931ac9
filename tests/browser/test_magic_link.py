"""Signing in with a link from an email, read from a real SMTP server, in a real browser."""

from __future__ import annotations

import re
import time

import pytest

pytest.importorskip("playwright.sync_api", reason="browser tests skipped: playwright missing")

from playwright.sync_api import expect

from tests.browser.conftest import HOME, LOGIN


def wait_for_mail(mailbox, address: str, timeout: float = 5.0):
    """The one message sent to `address`, waiting for it to arrive (polls, up to `timeout`)."""
    deadline = time.monotonic() + timeout
    while not mailbox.to(address):
        assert time.monotonic() < deadline, f"no email to {address} within {timeout} s"
        time.sleep(0.05)
    messages = mailbox.to(address)
    assert len(messages) == 1, [m["Subject"] for m in messages]
    return messages[0]


def test_magic_link_from_email_signs_in_once(page, context, make, mailbox, live_server, shot):
    account = make.account(name="Roadrunner Supplies")
    user = make.portal_user(account, name="Road Runner", password=None)

    page.goto("/login")
    page.get_by_role("link", name="Email me a sign-in link").click()
    expect(page.get_by_role("heading", name="Sign in with an emailed link")).to_be_visible()
    shot("request")
    page.get_by_label("Email").fill(user.email)
    page.get_by_role("button", name="Email me a link").click()

    page.wait_for_url(LOGIN)
    expect(page.get_by_role("status")).to_contain_text("a link is on its way")
    shot("sent")

    message = wait_for_mail(mailbox, user.email)
    text = message.get_body(preferencelist=("plain",)).get_content()
    links = re.findall(rf"{re.escape(live_server.url)}/login/link/\S+", text)
    assert len(links) == 1, text
    link = links[0]

    # Opening the link (as a mail scanner would) must not sign anyone in.
    page.goto(link)
    expect(page.get_by_role("heading", name="Finish signing in")).to_be_visible()
    shot("finish")
    before = context.request.get("/invoices", max_redirects=0)
    assert before.status == 302 and before.headers["location"].startswith("/login")

    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(HOME)
    expect(page.get_by_role("heading", name="Welcome, Road Runner")).to_be_visible()
    expect(page.get_by_text("Billing for Roadrunner Supplies")).to_be_visible()

    # The link works once.
    response = page.goto(link)
    assert response is not None and response.status == 410
    expect(page.get_by_role("heading", name="This link cannot be used")).to_be_visible()
    expect(page.get_by_role("button", name="Sign in")).to_have_count(0)
    shot("used")
