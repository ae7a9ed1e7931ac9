"""A customer's invoices in a real browser: open one, its PDF, other accounts, a phone screen."""

from __future__ import annotations

import io
from datetime import date

import pytest

pytest.importorskip("playwright.sync_api", reason="browser tests skipped: playwright missing")

from playwright.sync_api import expect
from pypdf import PdfReader

from tests.browser.conftest import HOME
from tests.factories import PASSWORD

LINES = [
    ("Annual hosting", "1", 24000, "0"),  # $240.00
    ("Setup fee", "2", 7550, "10"),  # $151.00, tax $15.10
    ("Support hours", "10", 2000, "0"),  # $200.00
]
# Subtotal $591.00 + tax $15.10 = total $606.10


def test_open_invoice_and_its_pdf(page, context, make, sign_in_with_password, shot):
    account = make.account(name="Bluebird Bakery")
    user = make.portal_user(account)
    invoice = make.invoice(account, lines=LINES, paid_minor=6110)  # due $606.10 - 61.10 = $545.00
    sign_in_with_password(user.email)

    page.goto("/invoices")
    page.get_by_role("link", name=invoice.number, exact=True).click()
    page.wait_for_url(f"**/invoices/{invoice.id}")
    expect(page.get_by_role("heading", level=1)).to_contain_text(f"Invoice {invoice.number}")
    amounts = page.get_by_role("region", name="Amounts")
    expect(amounts).to_contain_text("Total$606.10")
    expect(amounts).to_contain_text("Paid$61.10")
    expect(amounts).to_contain_text("Amount due$545.00")
    shot("invoice")
    # Each line as a person reads it (checked at the end, so the PDF is checked either way).
    items = page.get_by_role("table").filter(has_text="Description").get_by_role("row")
    expect(items).to_have_count(1 + len(LINES))
    lines_seen = [row.get_by_role("cell").all_inner_texts() for row in items.all()[1:]]
    totals = page.get_by_role("table", name="Totals")
    expect(totals.get_by_role("row").filter(has_text="Tax")).to_contain_text("$15.10")
    expect(totals.get_by_role("row").filter(has_text="Amount due")).to_contain_text("$545.00")

    download = page.get_by_role("link", name="Download PDF")
    href = download.get_attribute("href")
    assert href == f"/invoices/{invoice.id}.pdf"
    # Chromium shows the PDF inline in its viewer (no download event).
    with page.expect_response(lambda r: r.url.endswith(href)) as opened:
        download.click()
    page.wait_for_url(f"**{href}")
    assert opened.value.status == 200
    assert opened.value.headers["content-type"] == "application/pdf"
    # (No screenshot here: the viewer paints asynchronously, out of Playwright's reach.)

    # The same bytes through the context's request client (it carries the session cookie).
    response = context.request.get(href)
    assert response.status == 200
    assert response.headers["content-type"] == "application/pdf"
    assert response.headers["content-disposition"].startswith("inline")
    assert invoice.number in response.headers["content-disposition"]
    text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(response.body())).pages)
    for expected in (invoice.number, "Bluebird Bakery", "Annual hosting", "Support hours",
                     "$545.00"):
        assert expected in text, f"{expected!r} not in the PDF text:\n{text}"

    expected_lines = [
        ["Annual hosting", "1", "$240.00", "0%", "$240.00"],
        ["Setup fee", "2", "$75.50", "10%", "$151.00"],
        ["Support hours", "10", "$20.00", "0%", "$200.00"],
    ]
    assert lines_seen == expected_lines, f"the invoice page shows the lines as {lines_seen}"


def test_another_accounts_invoice_is_not_found(page, context, make, sign_in_with_password, shot):
    mine = make.account(name="Account A Ltd")
    user = make.portal_user(mine)
    my_invoice = make.invoice(mine)
    theirs = make.account(name="Secret Competitor Corp")
    their_invoice = make.invoice(theirs, lines=[("Confidential retainer", "1", 99900, "0")])
    sign_in_with_password(user.email)

    for path in (f"/invoices/{their_invoice.id}", f"/invoices/{their_invoice.id}.pdf"):
        response = page.goto(path)
        assert response is not None and response.status == 404, path
        assert response.headers["content-type"].startswith("text/html")
        expect(page.get_by_role("heading", name="Not found")).to_be_visible()
        content = page.content()
        for secret in (their_invoice.number, "Secret Competitor Corp", "Confidential retainer",
                       "$999.00"):
            assert secret not in content, (path, secret)
        step = "pdf" if path.endswith(".pdf") else "page"
        shot(f"404-{step}")

    # Their PDF is not served to a request client with this session either.
    assert context.request.get(f"/invoices/{their_invoice.id}.pdf").status == 404
    # …while the customer's own invoice still opens.
    assert page.goto(f"/invoices/{my_invoice.id}").status == 200
    expect(page.get_by_role("heading", level=1)).to_contain_text(my_invoice.number)


def open_invoices_on_a_phone(new_context, make, shot, account_name, email, amount_minor, case):
    """Six open invoices, overdue whatever today is (the "Overdue" badge is the widest status);
    sign in on a 390x844 phone; return the page showing /invoices."""
    account = make.account(name=account_name)
    user = make.portal_user(account, email=email)
    for n in range(6):
        make.invoice(account, lines=[(f"Item {n}", "1", amount_minor * (n + 1), "0")],
                     issue_date=date(2026, 1, 5))
    context = new_context(viewport={"width": 390, "height": 844}, device_scale_factor=2,
                          is_mobile=True, has_touch=True)
    phone = context.new_page()

    phone.goto("/login")
    phone.get_by_label("Email").fill(user.email)
    phone.get_by_label("Password").fill(PASSWORD)
    phone.get_by_role("button", name="Sign in").click()
    phone.wait_for_url(HOME)
    shot(f"{case}-home", phone)

    phone.goto("/invoices")
    expect(phone.get_by_role("heading", name="Invoices", exact=True)).to_be_visible()
    expect(phone.get_by_role("row")).to_have_count(7)  # header + 6 invoices
    shot(f"{case}-invoices", phone)
    return phone


@pytest.mark.parametrize(
    ("account_name", "email", "amount_minor"),
    [
        pytest.param("Bluebird Bakery", "ann@bluebird.test", 12345, id="typical"),
        pytest.param("Extraordinarily Long Company Name Holdings International Ltd",
                     "a.very.long.mailbox.name@example.test", 1234567, id="long-names"),
    ],
)
def test_invoice_list_fits_a_phone_screen(new_context, make, shot, account_name, email,
                                          amount_minor):
    case = "long" if len(account_name) > 30 else "typical"
    phone = open_invoices_on_a_phone(new_context, make, shot, account_name, email,
                                     amount_minor, case)
    widths = phone.evaluate(
        "({scroll: document.documentElement.scrollWidth, inner: window.innerWidth})"
    )
    assert widths["scroll"] <= widths["inner"] + 1, widths


def test_amount_due_is_fully_visible_on_a_phone(new_context, make, shot):
    """The amount a customer owes must not be cut off on a phone ("$740.7" for $740.70)."""
    phone = open_invoices_on_a_phone(new_context, make, shot, "Bluebird Bakery",
                                     "ann@bluebird.test", 12345, "amounts")
    for row in phone.get_by_role("row").all()[1:]:
        expect(row.get_by_role("cell").last).to_be_in_viewport(ratio=1)
