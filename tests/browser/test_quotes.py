"""Quotes in a real browser: a customer accepts one in the portal and its invoice appears; staff
build and send one, the customer accepts it from the emailed link, and staff convert it."""

from __future__ import annotations

import re
import time
from decimal import Decimal

import pytest

pytest.importorskip("playwright.sync_api", reason="browser tests skipped: playwright missing")

from playwright.sync_api import expect

from billing.clock import utcnow
from billing.models import QuoteConversion, TaxRate
from tests.factories import PASSWORD
from tests.quote_helpers import make_quote, set_auto_convert


def _wait_for(predicate, *, seconds: float = 10):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if result := predicate():
            return result
        time.sleep(0.05)
    raise AssertionError("timed out waiting")


def test_customer_accepts_a_quote_and_the_invoice_appears(
    page, session, make, sign_in_with_password, shot
):
    set_auto_convert(session, QuoteConversion.FINALIZE)
    account = make.account(name="Acme Corp")
    ada = make.portal_user(account, name="Ada Lovelace")
    quote = make_quote(session, account, now=utcnow())
    sign_in_with_password(ada.email)

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Quotes").click()
    page.wait_for_url("**/quotes")
    shot("list")
    page.get_by_role("link", name=quote.number).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(f"Quote {quote.number}")
    expect(page.get_by_role("region", name="Quote summary")).to_contain_text("$6,106.25")
    shot("quote")

    # Accepting without a name is refused beside the field.
    page.get_by_role("button", name="Accept quote").click()
    expect(page.locator("#name-error")).to_contain_text("Type your full name")
    page.get_by_label("Your full name").fill("Ada Lovelace")
    page.get_by_role("button", name="Accept quote").click()
    expect(page.get_by_role("status").first).to_contain_text("you accepted quote")
    expect(page.get_by_text("Accepted by Ada Lovelace")).to_be_visible()
    shot("accepted")

    page.get_by_role("link", name=re.compile(r"^INV-\d{4}-\d{4}$")).click()
    page.wait_for_url("**/invoices/*")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Invoice INV-")
    expect(page.get_by_role("region", name="Amounts")).to_contain_text("Total$6,106.25")
    shot("invoice")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Invoices").click()
    expect(page.get_by_role("table")).to_contain_text("$6,106.25")


def test_staff_send_a_quote_the_customer_accepts_by_link_and_staff_convert_it(
    page, context, session, make, mailbox, shot
):
    make.account(name="Acme Corp", billing_email="ap@acme.test")
    staff = make.staff_user(name="Alex Morgan")
    session.add(TaxRate(name="Sales tax", percentage=Decimal(10), created_at=utcnow()))
    session.commit()
    year = utcnow().year
    page.goto("/admin/login")
    page.get_by_label("Email").fill(staff.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/admin/customers")

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Quotes").click()
    shot("admin-empty")
    page.get_by_role("link", name="New quote").first.click()
    page.get_by_label("Customer", exact=True).select_option(label="Acme Corp (USD)")
    page.get_by_label("Valid until").fill(
        utcnow().date().replace(year=utcnow().year + 1).isoformat()
    )
    page.get_by_label("Line 1: description").fill("Brand workshop")
    page.get_by_label("Line 1: unit price").fill("1800")
    rows = page.locator("tr.line-row")
    page.get_by_label("Line 2: description").fill("Design (hours)")
    page.get_by_label("Line 2: quantity").fill("7.5")
    page.get_by_label("Line 2: unit price").fill("125")
    rows.nth(1).get_by_label("Sales tax 10%").check()
    shot("admin-new")
    page.get_by_role("button", name="Save draft").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Draft quote")
    page.get_by_role("button", name="Send to customer").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(f"Q-{year}-")
    shot("admin-sent")

    message = _wait_for(lambda: mailbox.to("ap@acme.test"))[0]
    body = message.get_body(("plain",)).get_content()
    link = re.search(r"http://127\.0\.0\.1:\d+/quote/[\w-]+", body).group(0)

    customer = context.browser.new_page(base_url=None)
    customer.goto(link)
    expect(customer.get_by_role("heading", level=1)).to_contain_text(f"Quote Q-{year}-")
    expect(customer.get_by_role("region", name="Quote summary")).to_contain_text("$2,831.25")
    customer.get_by_label("Your full name").fill("Ada Lovelace")
    customer.get_by_role("button", name="Accept quote").click()
    expect(customer.get_by_text("Accepted by Ada Lovelace")).to_be_visible()
    shot("link-accepted", customer)
    customer.close()

    page.reload()
    expect(page.get_by_role("region", name="Accepted by Ada Lovelace")).to_be_visible()
    page.get_by_label("Make it").select_option("finalize")
    shot("admin-accepted")
    page.get_by_role("button", name="Convert to invoice").click()
    page.wait_for_url("**/admin/invoices/*")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Invoice INV-")
    expect(page.get_by_role("region", name="Amounts")).to_contain_text("$2,831.25")
    shot("admin-invoice")
