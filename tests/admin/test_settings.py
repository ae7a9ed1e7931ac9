"""Company settings: admins save (audited), other staff read; bad input changes nothing."""

import io
import os

import pytest
from PIL import Image
from sqlalchemy import func, select

from billing import queries
from billing.errors import ValidationFailed
from billing.models import AuditEntry, CompanySettings, StaffRole
from billing.services.company import MAX_LOGO_BYTES, update_company_settings
from tests.admin import sign_in_staff
from tests.factories import NOW
from tests.helpers import post_form

VALUES = {
    "name": "Paydesk Demo LLC",
    "address": "1 Market St\r\nSan Francisco",
    "email": "billing@demo.test",
    "phone": "+1 555 0100",
    "tax_id": "US-123",
    "default_currency": "EUR",
    "other_currency": "",
    "invoice_footer": "Bank: 123-456",
}


def image_bytes(fmt: str = "PNG", size=(120, 40)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, (47, 91, 234)).save(buffer, format=fmt)
    return buffer.getvalue()


def upload(data: bytes, filename: str, mime: str = "image/png"):
    return (io.BytesIO(data), filename, mime)


def audit_count(session) -> int:
    return session.scalar(select(func.count()).where(AuditEntry.subject_type == "company_settings"))


def company_row(session):
    session.expire_all()
    return session.scalar(select(CompanySettings))


def save(client, data: dict, **kwargs):
    return post_form(client, "/admin/settings", data, content_type="multipart/form-data", **kwargs)


@pytest.fixture
def admin(client, make):
    return sign_in_staff(client, make)


def test_admin_sees_an_editable_form(client, admin):
    html = client.get("/admin/settings").get_data(as_text=True)
    assert 'enctype="multipart/form-data"' in html and "Save settings" in html
    assert 'name="csrf_token"' in html and 'type="file"' in html
    assert "<fieldset >" in html or "<fieldset>" in html  # not disabled
    for label in [
        "Company name",
        "Address",
        "Billing email",
        "Phone",
        "Tax ID",
        "Default currency",
        "Invoice footer",
        "Upload a logo",
    ]:
        assert label in html, label
    assert '<option selected value="USD">' in html  # the default before anything is saved


def test_save_updates_settings_and_is_audited(client, admin, session):
    logo = image_bytes()
    response = save(client, VALUES | {"logo": upload(logo, "logo.png")}, follow_redirects=True)
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "Settings saved." in html
    assert "Paydesk Demo LLC" in html and "Current logo of Paydesk Demo LLC" in html

    company = company_row(session)
    assert company.name == "Paydesk Demo LLC"
    assert company.address == "1 Market St\nSan Francisco"
    assert company.default_currency == "EUR" and company.invoice_footer == "Bank: 123-456"
    assert company.logo == logo and company.logo_mime == "image/png"
    served = client.get("/brand/logo")
    assert served.data == logo and served.mimetype == "image/png"

    entry = session.scalars(
        select(AuditEntry).where(AuditEntry.subject_type == "company_settings")
    ).one()
    assert entry.actor == f"staff:{admin.id}" and entry.subject_id == company.id
    assert entry.after["name"] == "Paydesk Demo LLC" and entry.after["logo_changed"] is True
    assert entry.before["name"] == "Your Company"
    assert "logo" not in entry.after and "logo_mime" not in entry.after

    # Saving again unchanged is a no-op; removing the logo is audited.
    save(client, VALUES)
    assert audit_count(session) == 1
    response = save(client, VALUES | {"remove_logo": "y"}, follow_redirects=True)
    assert "Settings saved." in response.get_data(as_text=True)
    company = company_row(session)
    assert company.logo is None and company.logo_mime is None
    assert client.get("/brand/logo").status_code == 404
    assert audit_count(session) == 2


def test_other_currency_code_and_jpeg_logo(client, admin, session):
    jpeg = image_bytes("JPEG")
    data = VALUES | {
        "default_currency": "other",
        "other_currency": "thb",
        "logo": upload(jpeg, "me.jpg", "image/jpeg"),
    }
    assert save(client, data).status_code == 302
    company = company_row(session)
    assert company.default_currency == "THB" and company.logo_mime == "image/jpeg"
    html = client.get("/admin/settings").get_data(as_text=True)
    assert '<option selected value="other">' in html and 'value="THB"' in html


@pytest.mark.parametrize(
    ("logo", "message"),
    [
        (upload(b"just some text, not an image\n" * 10, "logo.png"), "must be a PNG or JPEG"),
        (upload(b"GIF89a" + b"\0" * 100, "logo.png"), "must be a PNG or JPEG"),
        (upload(b"\x89PNG\r\n\x1a\n" + b"garbage" * 50, "logo.png"), "could not be read"),
        (upload(b"\x89PNG\r\n\x1a\n" + os.urandom(MAX_LOGO_BYTES), "big.png"), "1 MB or smaller"),
    ],
    ids=["text-renamed-png", "gif", "broken-png", "over-1mb"],
)
def test_a_bad_logo_is_refused_and_nothing_changes(client, admin, session, logo, message):
    response = save(client, VALUES | {"logo": logo})
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert message in html and "Nothing was saved" in html
    assert 'class="field-error"' in html
    assert company_row(session) is None and audit_count(session) == 0
    assert queries.company(session).name == "Your Company"


def test_a_real_png_over_1_mb_is_refused(client, admin, session):
    noise = Image.frombytes("RGB", (700, 700), os.urandom(700 * 700 * 3))
    buffer = io.BytesIO()
    noise.save(buffer, format="PNG")
    assert len(buffer.getvalue()) > MAX_LOGO_BYTES
    response = save(client, VALUES | {"logo": upload(buffer.getvalue(), "noise.png")})
    assert response.status_code == 422 and "1 MB or smaller" in response.get_data(as_text=True)
    assert company_row(session) is None


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"name": "  "}, "name", "Company name is required."),
        ({"name": "x" * 201}, "name", "at most 200 characters"),
        ({"phone": "1" * 65}, "phone", "at most 64 characters"),
        ({"default_currency": "other", "other_currency": "XYZ"}, "other_currency", "ISO 4217"),
        ({"default_currency": "other", "other_currency": ""}, "other_currency", "ISO 4217"),
        ({"email": "not-an-email"}, "email", "Enter an email address"),
    ],
)
def test_invalid_fields_show_errors_and_change_nothing(
    client, admin, session, changes, field, message
):
    response = save(client, VALUES | changes)
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert f'id="{field}-error">' in html and message in html
    assert company_row(session) is None and audit_count(session) == 0


@pytest.mark.parametrize("role", [StaffRole.ACCOUNTANT, StaffRole.READ_ONLY])
def test_other_staff_read_but_cannot_save(client, make, session, role):
    sign_in_staff(client, make, role=role)
    html = client.get("/admin/settings").get_data(as_text=True)
    assert "<fieldset disabled>" in html and "Save settings" not in html
    assert "Only administrators can change them." in html
    response = save(
        client, VALUES | {"logo": upload(image_bytes(), "logo.png")}, form_path="/admin/settings"
    )
    assert response.status_code == 403
    assert company_row(session) is None and audit_count(session) == 0


def test_post_without_csrf_token_is_refused(client, admin, session):
    response = client.post("/admin/settings", data=VALUES)
    assert response.status_code == 400 and company_row(session) is None


# --- the service on its own -------------------------------------------------------------------


def test_service_creates_the_row_once_then_updates_it(session):
    values = {k: v for k, v in VALUES.items() if k != "other_currency"}
    first = update_company_settings(
        session,
        values=values,
        logo=None,
        logo_mime=None,
        remove_logo=False,
        now=NOW,
        actor="staff:1",
    )
    second = update_company_settings(
        session,
        values=values | {"name": "Renamed"},
        logo=None,
        logo_mime=None,
        remove_logo=False,
        now=NOW,
        actor="staff:1",
    )
    assert first.id == second.id == 1 and second.name == "Renamed" and second.updated_at == NOW
    assert session.scalar(select(func.count()).select_from(CompanySettings)) == 1
    entries = session.scalars(select(AuditEntry).order_by(AuditEntry.id)).all()
    assert [e.action for e in entries] == ["company_settings.created", "company_settings.updated"]
    assert entries[1].before == {"name": "Paydesk Demo LLC"}
    assert entries[1].after == {"name": "Renamed"}


def test_service_reports_every_bad_field_at_once(session):
    with pytest.raises(ValidationFailed) as caught:
        update_company_settings(
            session,
            values={"name": "", "default_currency": "usd1", "phone": "1" * 65},
            logo=b"nope",
            logo_mime="image/png",
            remove_logo=False,
            now=NOW,
            actor="staff:1",
        )
    assert set(caught.value.errors) == {"name", "default_currency", "phone", "logo"}
    assert session.scalar(select(func.count()).select_from(CompanySettings)) == 0


def test_service_trusts_the_bytes_not_the_declared_type(session):
    company = update_company_settings(
        session,
        values={"name": "X", "default_currency": "usd"},
        logo=image_bytes("JPEG"),
        logo_mime="image/png",
        remove_logo=False,
        now=NOW,
        actor="staff:1",
    )
    assert company.logo_mime == "image/jpeg" and company.default_currency == "USD"
