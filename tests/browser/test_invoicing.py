"""Staff create, finalize and send an invoice in a real browser; the email with its PDF and pay
link arrives at the test SMTP server and the pay link opens the invoice. Then a partial credit
note, and every step is on the invoice's history."""

from __future__ import annotations

import io
import re
import time

import pytest

pytest.importorskip("playwright.sync_api", reason="browser tests skipped: playwright missing")

from playwright.sync_api import expect
from pypdf import PdfReader

from billing.services import catalog
from tests.factories import NOW, PASSWORD


def wait_for_mail(mailbox, count: int, deadline: float = 10.0):
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        if len(mailbox.messages) >= count:
            return mailbox.messages
        time.sleep(0.05)
    raise AssertionError(f"expected {count} emails, got {len(mailbox.messages)}")


def test_staff_create_finalize_send_and_credit_an_invoice(
    page, make, session, mailbox, live_server, shot
):
    staff = make.staff_user(name="Alex Morgan")
    account = make.account(
        name="Acme Corp", billing_email="ap@acme.test", invoice_cc="cfo@acme.test"
    )
    vat = catalog.save_tax_rate(
        session,
        tax_rate_id=None,
        values={"name": "Sales tax", "percentage": "8.25"},
        now=NOW,
        actor="t",
    )
    catalog.save_product(
        session,
        product_id=None,
        values={
            "name": "Development (hour)",
            "prices": [("USD", "150.00")],
            "tax_rate_ids": [str(vat.id)],
        },
        now=NOW,
        actor="t",
    )

    page.goto("/admin/login")
    page.get_by_label("Email").fill(staff.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.goto(f"/admin/customers/{account.id}")
    page.get_by_role("link", name="New invoice").click()
    expect(page.get_by_role("heading", name="New invoice")).to_be_visible()

    rows = page.locator("tr.line-row")
    rows.nth(0).get_by_label("Line 1: product").select_option(label="Development (hour)")
    expect(rows.nth(0).get_by_label("Line 1: description")).to_have_value("Development (hour)")
    expect(rows.nth(0).get_by_label("Line 1: unit price")).to_have_value("150.00")
    rows.nth(0).get_by_label("Line 1: quantity").fill("10")
    rows.nth(1).get_by_label("Line 2: description").fill("Code review")
    rows.nth(1).get_by_label("Line 2: quantity").fill("2.5")
    rows.nth(1).get_by_label("Line 2: unit price").fill("120.00")
    rows.nth(1).get_by_label("Line 2: discount (10% or an amount)").fill("10%")
    rows.nth(1).get_by_label("Sales tax 8.25%").check()
    page.get_by_role("button", name="Add lines").click()  # JavaScript adds a row in place
    expect(page.locator("tr.line-row")).to_have_count(4)
    page.locator("tr.line-row").nth(3).get_by_label("Line 4: description").fill("Travel")
    page.locator("tr.line-row").nth(3).get_by_label("Line 4: unit price").fill("240")
    page.get_by_label("Invoice discount").fill("50.00")
    shot("editor")
    page.get_by_role("button", name="Save draft").click()

    expect(page.get_by_role("heading", name=re.compile(r"Invoice Draft \d+"))).to_be_visible()
    # Subtotal 1,500.00 + 300.00 + 240.00 = 2,040.00; 10% off line 2 (30.00); the 50.00 is
    # shared over 1,500 / 270 / 240 as 37.31 / 6.72 / 5.97; 8.25% of 1,462.69 = 120.67 and of
    # 263.28 = 21.72: total 2,040.00 - 80.00 + 142.39 = 2,102.39.
    expect(page.get_by_text("\u2212$80.00")).to_be_visible()  # 30.00 + 50.00 of discounts
    expect(page.locator(".stat").filter(has_text="Total")).to_contain_text("$2,102.39")
    shot("draft")
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Finalize").click()
    expect(page.get_by_text("is finalized")).to_be_visible()
    number = re.search(r"INV-\d{4}-\d{4}", page.get_by_role("heading").first.inner_text()).group(0)
    page.get_by_role("button", name="Send to customer").click()
    expect(page.get_by_text("Sent to ap@acme.test, cfo@acme.test")).to_be_visible()
    shot("sent")

    [message] = wait_for_mail(mailbox, 1)
    assert message["To"] == "ap@acme.test" and message["Cc"] == "cfo@acme.test"
    assert number in message["Subject"]
    [attachment] = list(message.iter_attachments())
    pdf_text = PdfReader(io.BytesIO(attachment.get_content())).pages[0].extract_text()
    assert number in pdf_text and "Acme Corp" in pdf_text and "Sales tax 8.25%" in pdf_text
    link = re.search(r"https?://\S+/pay/[\w-]+", message.get_body(("plain",)).get_content())
    assert link and link.group(0).startswith(live_server.url)

    payer = page.context.new_page()
    payer.goto(link.group(0))
    expect(payer.get_by_text(number).first).to_be_visible()
    shot("pay-link", payer)
    payer.close()

    page.get_by_role("link", name="Credit note").click()
    page.get_by_label("Amount (tax included)").fill("100.00")
    page.get_by_label("Reason (printed on the credit note)").fill("Travel was cheaper")
    page.get_by_role("button", name="Issue credit note").click()
    expect(
        page.get_by_role("heading", name=re.compile(r"Credit note CN-\d{4}-0001"))
    ).to_be_visible()
    shot("credit-note")
    wait_for_mail(mailbox, 2)
    page.get_by_role("link", name=number).first.click()
    history = page.locator("ol.timeline")
    for action in ["invoice.credited", "invoice.sent", "invoice.finalized", "invoice.created"]:
        expect(history.get_by_text(action, exact=True)).to_be_visible()
    shot("history")
