"""The Pay Now widget in a real browser, inside an <iframe> on another site (localhost vs
127.0.0.1: different sites, so no cookie of ours reaches the frame): pay with a card through
localstripe's Stripe.js, see the thank-you in the frame, and staff see the payment and its paid
invoice. A site that is not listed cannot show the widget at all."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

pytest.importorskip("playwright.sync_api", reason="browser tests skipped: playwright missing")

from playwright.sync_api import expect
from sqlalchemy import select

from billing.models import Invoice, InvoiceStatus, Payment, PaymentStatus, WidgetPayment
from billing.services import widgets
from tests.conftest import free_port
from tests.factories import NOW, PASSWORD
from tests.localstripe_fixture import stripe_overrides


@pytest.fixture
def settings_overrides(live_port, smtp, localstripe):
    return {"base_url": f"http://127.0.0.1:{live_port}", "smtp_url": smtp[0]} | stripe_overrides(
        localstripe.base_url
    )


class HostSite:
    """Someone else's web site: one page that embeds whatever `html` says."""

    def __init__(self) -> None:
        self.port = free_port()
        self.html = ""
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                body = site.html.encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def origin(self) -> str:
        return f"http://localhost:{self.port}"


@pytest.fixture
def host_site() -> Iterator[HostSite]:
    site = HostSite()
    yield site
    site.server.shutdown()
    site.server.server_close()


def type_card(frame, number: str) -> None:
    element = frame.locator("#card-element")
    element.locator("input[placeholder=number]").type(number)
    element.locator("input[placeholder=exp_month]").type("12")
    element.locator("input[placeholder=exp_year]").type("30")
    element.locator("input[placeholder=cvc]").type("123")
    element.locator("input[placeholder=postal_code]").type("10001")


def test_pay_through_the_widget_on_another_site(
    page, session, make, host_site, live_server, shot, mailbox
):
    widget = widgets.save_widget(
        session,
        values={
            "title": "Pay Bluebird Bakery",
            "currency": "USD",
            "allowed_origins": host_site.origin,
            "create_invoice": True,
        },
        now=NOW,
        actor="staff:1",
    )
    host_site.html = (
        "<!doctype html><title>Bluebird</title><h1>Bluebird Bakery</h1>"
        f'<iframe name="paydesk-pay-now" title="Pay" src="{live_server.url}/widget/'
        f'{widget.public_key}" width="100%" height="900"></iframe>'
    )
    page.goto(f"{host_site.origin}/")
    frame = page.frame_locator("iframe[name=paydesk-pay-now]")
    expect(frame.get_by_role("heading", name="Pay Bluebird Bakery")).to_be_visible()
    frame.get_by_label("Amount (USD)").fill("42.50")
    frame.get_by_label("What is this payment for?").fill("Wedding cake deposit")
    frame.get_by_label("Your name").fill("Grace Hopper")
    frame.get_by_label("Your email").fill("grace@example.test")
    type_card(frame, "4242424242424242")
    shot("filled")
    frame.get_by_role("button", name="Pay").click()
    expect(frame.get_by_role("heading", name="Thank you!")).to_be_visible(timeout=15000)
    expect(frame.get_by_role("status")).to_contain_text("$42.50")
    page.evaluate("window.scrollTo(0, 0)")  # the host page stayed scrolled to the Pay button
    shot("thanks")

    session.expire_all()
    payment = session.scalar(select(Payment))
    row = session.scalar(select(WidgetPayment))
    assert (payment.status, payment.amount_minor) == (PaymentStatus.SUCCEEDED, 4250)
    invoice = session.get(Invoice, row.invoice_id)
    assert (invoice.status, invoice.amount_paid_minor) == (InvoiceStatus.PAID, 4250)
    (receipt,) = mailbox.to("grace@example.test")
    assert payment.receipt_number in receipt["Subject"]

    # Staff see it in admin.
    staff = make.staff_user(name="Ada Admin")
    admin = page.context.new_page()
    admin.goto(f"{live_server.url}/admin/login")
    admin.get_by_label("Email").fill(staff.email)
    admin.get_by_label("Password").fill(PASSWORD)
    admin.get_by_role("button", name="Sign in").click()
    admin.goto(f"{live_server.url}/admin/settings/widget")
    table = admin.get_by_role("table")
    expect(table).to_contain_text("Grace Hopper")
    expect(table).to_contain_text("Wedding cake deposit")
    expect(table).to_contain_text("$42.50")
    shot("admin", admin)


def test_a_site_that_is_not_listed_cannot_show_the_widget(page, session, host_site, live_server):
    widget = widgets.save_widget(
        session,
        values={"title": "Pay Bluebird", "currency": "USD", "allowed_origins": "https://a.test"},
        now=NOW,
        actor="staff:1",
    )
    host_site.html = (
        f'<iframe name="paydesk-pay-now" src="{live_server.url}/widget/{widget.public_key}">'
        "</iframe>"
    )
    with page.expect_console_message(lambda m: "frame-ancestors" in m.text, timeout=15000) as msg:
        page.goto(f"{host_site.origin}/")
    assert "https://a.test" in msg.value.text  # Chromium names the directive that refused it
    frame = page.frame_locator("iframe[name=paydesk-pay-now]")
    expect(frame.get_by_role("heading", name="Pay Bluebird")).to_have_count(0)


def test_3d_secure_and_a_decline_inside_the_frame(page, session, host_site, live_server, shot):
    widget = widgets.save_widget(
        session,
        values={
            "title": "Pay Bluebird",
            "currency": "USD",
            "allowed_origins": host_site.origin,
            "fixed_amount_minor": 1500,
            "create_invoice": True,
        },
        now=NOW,
        actor="staff:1",
    )
    host_site.html = (
        f'<iframe name="paydesk-pay-now" title="Pay" src="{live_server.url}/widget/'
        f'{widget.public_key}" width="100%" height="900"></iframe>'
    )
    page.goto(f"{host_site.origin}/")
    frame = page.frame_locator("iframe[name=paydesk-pay-now]")

    def fill(number: str) -> None:
        frame.get_by_label("What is this payment for?").fill("Order 9")
        frame.get_by_label("Your name").fill("Grace Hopper")
        frame.get_by_label("Your email").fill("grace@example.test")
        type_card(frame, number)
        frame.get_by_role("button", name="Pay $15.00").click()

    fill("4000000000000341")
    alert = frame.get_by_role("alert").filter(has_text="declined")
    expect(alert).to_contain_text("Try another card or contact your bank.")
    shot("declined")
    session.expire_all()
    assert session.scalar(select(Invoice.status)) == InvoiceStatus.VOID  # made for it, voided

    fill("4000002500003155")
    frame.get_by_role("button", name="Complete authentication").click()  # saving the card
    expect(frame.get_by_role("heading", name="Confirm the payment with your bank")).to_be_visible()
    frame.get_by_role("button", name="Complete authentication").click()  # the payment
    expect(frame.get_by_role("heading", name="Thank you!")).to_be_visible(timeout=15000)
    session.expire_all()
    statuses = sorted(str(s) for s in session.scalars(select(Invoice.status)))
    assert statuses == ["paid", "void"]
