"""Who can reach the admin: signed-in staff only. Unknown ids are 404."""

import re

import pytest

from billing.models import StaffRole
from tests.admin import sign_in_staff
from tests.helpers import post_form, sign_in

PAGES = [
    "/admin/",
    "/admin/customers",
    "/admin/invoices",
    "/admin/payments",
    "/admin/emails",
    "/admin/settings",
]


@pytest.fixture
def admin_client(client, make):
    sign_in_staff(client, make)
    return client


@pytest.fixture
def records(make):
    account = make.account(name="Acme Corp")
    invoice = make.invoice(account)
    payment = make.payment(invoice, 1000)
    return account, invoice, payment


def detail_pages(records):
    account, invoice, payment = records
    return [
        f"/admin/customers/{account.id}",
        f"/admin/invoices/{invoice.id}",
        f"/admin/invoices/{invoice.id}.pdf",
        f"/admin/payments/{payment.id}",
        f"/admin/payments/{payment.id}/receipt.pdf",
    ]


def test_every_page_renders_for_an_admin(admin_client, records):
    for path in PAGES[1:] + detail_pages(records):
        response = admin_client.get(path)
        assert response.status_code == 200, path
    assert admin_client.get("/admin/").headers["Location"].endswith("/admin/customers")


@pytest.mark.parametrize("role", [StaffRole.ACCOUNTANT, StaffRole.READ_ONLY])
def test_other_staff_roles_can_read(client, make, records, role):
    sign_in_staff(client, make, role=role)
    for path in PAGES[1:] + detail_pages(records):
        assert client.get(path).status_code == 200, (role, path)


def test_anonymous_visitors_are_sent_to_the_staff_sign_in(client, records):
    for path in PAGES + detail_pages(records):
        response = client.get(path)
        assert response.status_code == 302, path
        assert response.headers["Location"].startswith("/admin/login"), path


def test_a_signed_in_customer_cannot_reach_the_admin(client, make, records):
    user = make.portal_user(records[0])
    sign_in(client, user.email)
    assert client.get("/invoices").status_code == 200  # signed in to the portal
    for path in PAGES + detail_pages(records):
        response = client.get(path)
        assert response.status_code == 302, path
        assert response.headers["Location"].startswith("/admin/login"), path
    # Posting to settings is refused the same way, and changes nothing.
    response = post_form(client, "/admin/settings", {"name": "Hacked"}, form_path="/invoices")
    assert response.status_code == 302 and "Hacked" not in client.get("/").get_data(as_text=True)


def test_unknown_ids_are_404(admin_client):
    for path in [
        "/admin/customers/999999",
        "/admin/invoices/999999",
        "/admin/invoices/999999.pdf",
        "/admin/payments/999999",
        "/admin/payments/999999/receipt.pdf",
        "/admin/emails/999999",
    ]:
        response = admin_client.get(path)
        assert response.status_code == 404, path
        assert "Not found" in response.get_data(as_text=True)


def test_layout_nav_marks_the_current_page_and_names_who_is_signed_in(admin_client):
    html = admin_client.get("/admin/invoices").get_data(as_text=True)
    assert '<a href="/admin/invoices" aria-current="page">Invoices</a>' in html
    assert 'aria-current="page">Customers' not in html
    for label in ["Customers", "Invoices", "Payments", "Email log", "Settings"]:
        assert f">{label}</a>" in html
    assert 'Ada Admin<span class="who-role"> · Admin</span>' in html
    assert 'action="/admin/logout"' in html


def test_sign_out(admin_client):
    response = post_form(admin_client, "/admin/logout", {}, form_path="/admin/customers")
    assert response.status_code == 302
    assert admin_client.get("/admin/customers").status_code == 302


def test_pages_carry_no_inline_styles_or_scripts(admin_client, records):
    for path in PAGES[1:] + detail_pages(records)[:1] + detail_pages(records)[1:2]:
        html = admin_client.get(path).get_data(as_text=True)
        inline_scripts = re.findall(r"<script(?![^>]*\bsrc=)[^>]*>", html)
        assert " style=" not in html and not inline_scripts, path
