"""Admin → Settings → Payments: keys saved encrypted and never shown back, blank keeps, only
admins change, audited without secrets; Test connection; rotation of the encryption key; the
invoice page's pay link card."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select

from billing.clock import utcnow
from billing.models import AuditEntry, PayLink, ProcessorSettings, StaffRole
from billing.secrets import Cipher
from tests.admin import sign_in_staff
from tests.conftest import ROOT
from tests.helpers import post_form
from tests.localstripe_fixture import TEST_ENCRYPTION_KEY

SECRET = "sk_test_abcdefghijklmnop1234"
WEBHOOK = "whsec_abcdefghijklmn5678"
PAGE = "/admin/settings/payments"


@pytest.fixture
def settings_overrides(localstripe):
    # Keys come from the database here (none from the environment), Stripe is localstripe.
    return {"stripe_api_base": localstripe.base_url, "encryption_keys": (TEST_ENCRYPTION_KEY,)}


def save(client, **values):
    data = {
        "secret_key": "",
        "publishable_key": "pk_test_abcdefgh",
        "webhook_secret": "",
        "allow_partial_payments": "y",
    } | values
    return post_form(client, PAGE, data)


def test_keys_are_encrypted_never_shown_and_blank_keeps_them(client, make, session):
    sign_in_staff(client, make)
    assert save(client, secret_key=SECRET, webhook_secret=WEBHOOK).status_code == 302
    row = session.scalar(select(ProcessorSettings))
    assert SECRET not in (row.stripe_secret_key_encrypted or "")
    assert Cipher([TEST_ENCRYPTION_KEY]).decrypt(row.stripe_secret_key_encrypted) == SECRET
    page = client.get(PAGE).get_data(as_text=True)
    assert SECRET not in page and WEBHOOK not in page
    assert "sk_…••••1234" in page and "whsec_…••••5678" in page
    assert save(client, allow_partial_payments="").status_code == 302  # blank secrets: kept
    session.expire_all()
    row = session.scalar(select(ProcessorSettings))
    assert Cipher([TEST_ENCRYPTION_KEY]).decrypt(row.stripe_secret_key_encrypted) == SECRET
    assert row.allow_partial_payments is False
    entries = session.scalars(
        select(AuditEntry).where(AuditEntry.action == "processor_settings.updated")
    )
    dumped = json.dumps([e.after for e in entries])
    assert "secret_key" in dumped and SECRET not in dumped and WEBHOOK not in dumped


def test_staff_are_shown_the_webhook_address_to_give_stripe(client, make, settings):
    sign_in_staff(client, make)
    address = settings.base_url.rstrip("/") + "/hooks/stripe"
    assert f"<code>{address}</code>" in client.get(PAGE).get_data(as_text=True)
    events = client.get("/admin/webhooks").get_data(as_text=True)
    assert f"When Stripe sends events to {address}" in events


def test_wrong_key_shapes_are_refused_per_field(client, make, session):
    sign_in_staff(client, make)
    response = save(client, secret_key="pk_live_oops", webhook_secret="nope")
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "starts with sk_" in html and "starts with whsec_" in html
    assert session.scalar(select(ProcessorSettings)) is None


def test_only_admins_change_or_test(client, make):
    sign_in_staff(client, make, role=StaffRole.ACCOUNTANT)
    page = client.get(PAGE)
    assert page.status_code == 200 and "Only administrators" in page.get_data(as_text=True)
    assert save(client, secret_key=SECRET).status_code == 403
    assert post_form(client, f"{PAGE}/test", {}, form_path=PAGE).status_code == 403


def test_test_connection_reports_success_and_the_exact_error(client, make, app):
    sign_in_staff(client, make)
    missing = post_form(client, f"{PAGE}/test", {}, form_path=PAGE, follow_redirects=True)
    assert "The connection failed: Card payments are not set up" in missing.get_data(as_text=True)
    save(client, secret_key=SECRET)
    ok = post_form(client, f"{PAGE}/test", {}, form_path=PAGE, follow_redirects=True)
    assert "Connected to Stripe: Test server at" in ok.get_data(as_text=True)


def test_rotate_keys_reencrypts_with_the_first_key(client, make, session, database_url):
    sign_in_staff(client, make)
    save(client, secret_key=SECRET, webhook_secret=WEBHOOK)
    new_key = Fernet.generate_key().decode()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAYDESK_")} | {
        "PAYDESK_SECRET_KEY": "x" * 40,
        "PAYDESK_DATABASE_URL": database_url,
        "PAYDESK_ENCRYPTION_KEYS": f"{new_key},{TEST_ENCRYPTION_KEY}",
    }
    done = subprocess.run(
        [sys.executable, "manage.py", "rotate-keys"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "Re-encrypted 2 stored secrets" in done.stdout
    session.expire_all()
    row = session.scalar(select(ProcessorSettings))
    assert (
        Cipher([new_key]).decrypt(row.stripe_secret_key_encrypted) == SECRET
    )  # old key not needed
    assert Cipher([new_key]).decrypt(row.stripe_webhook_secret_encrypted) == WEBHOOK


def test_invoice_page_pay_link_card_creates_regenerates_and_revokes(client, make, session):
    invoice = make.invoice(issue_date=utcnow().date())  # its pay link is alive by the real clock
    sign_in_staff(client, make)
    path = f"/admin/invoices/{invoice.id}"
    assert "Create pay link" in client.get(path).get_data(as_text=True)
    post_form(client, f"{path}/pay-link/regenerate", {}, form_path=path)
    html = client.get(path).get_data(as_text=True)
    first = html.split('id="pay-link-url" type="text" value="')[1].split('"')[0]
    assert first.startswith("http://localhost/pay/") and "Copy" in html
    assert client.get(first.removeprefix("http://localhost")).status_code == 200
    post_form(client, f"{path}/pay-link/regenerate", {}, form_path=path)
    second = (
        client.get(path)
        .get_data(as_text=True)
        .split('id="pay-link-url" type="text" value="')[1]
        .split('"')[0]
    )
    assert second != first
    assert client.get(first.removeprefix("http://localhost")).status_code == 410
    post_form(client, f"{path}/pay-link/revoke", {}, form_path=path)
    assert client.get(second.removeprefix("http://localhost")).status_code == 410
    assert all(link.revoked_at for link in session.scalars(select(PayLink)))
    actions = set(
        session.scalars(select(AuditEntry.action).where(AuditEntry.subject_type == "pay_links"))
    )
    assert actions == {"pay_link.regenerated", "pay_link.revoked"}


def test_read_only_staff_cannot_touch_pay_links(client, make):
    invoice = make.invoice(issue_date=utcnow().date())  # its pay link is alive by the real clock
    sign_in_staff(client, make, role=StaffRole.READ_ONLY)
    path = f"/admin/invoices/{invoice.id}"
    assert "Create pay link" not in client.get(path).get_data(as_text=True)
    assert post_form(client, f"{path}/pay-link/regenerate", {}, form_path=path).status_code == 403
