"""The email log: newest first, full message, and a magic link that is one click away."""

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from admin.emails import ATTACHMENT_PAGES, linkify
from billing.models import CompanySettings, Email, EmailStatus
from billing.services import emails as email_service
from tests.admin import sign_in_staff
from tests.factories import NOW
from tests.helpers import post_form


@pytest.fixture
def admin_client(client, make):
    sign_in_staff(client, make)
    return client


def test_a_magic_link_request_is_logged_and_its_link_is_clickable(client, make, session):
    session.add(CompanySettings(id=1, name="Northwind Studio", default_currency="USD"))
    customer = make.portal_user(make.account(name="Acme Corp"), password=None)
    assert post_form(client, "/login/link", {"email": customer.email}).status_code == 302
    sign_in_staff(client, make)

    listing = client.get("/admin/emails").get_data(as_text=True)
    assert customer.email in listing and "Logged" in listing and "magic_link" in listing
    email = session.scalars(select(Email).where(Email.to_address == customer.email)).one()
    assert email.status == EmailStatus.LOGGED
    assert f'href="/admin/emails/{email.id}"' in listing

    detail = client.get(f"/admin/emails/{email.id}").get_data(as_text=True)
    link = re.search(r'<a href="(http://localhost/login/link/[\w-]+)"', detail)
    assert link, detail
    assert link.group(1) in email.text_body
    assert f">{link.group(1)}</a>" in detail  # the visible text is the link too
    assert 'class="email-body"' in detail and "one-time sign-in link" in detail
    assert f'<a href="/admin/customers/{customer.account_id}">Acme Corp</a>' in detail
    for header in [customer.email, email.subject, "Northwind Studio &lt;billing@paydesk.test&gt;"]:
        assert header in detail, header


def test_list_is_newest_first_with_pages(admin_client, session):
    for n in range(30):
        email_service.queue_email(
            session,
            to=f"person{n}@example.test",
            template="magic_link",
            context={"name": "", "link": "http://x", "minutes": 15, "realm": "portal"},
            now=NOW + timedelta(minutes=n),
        )
    session.commit()
    html = admin_client.get("/admin/emails").get_data(as_text=True)
    assert html.index("person29@") < html.index("person28@")
    assert "person4@" not in html  # on the next page
    older = re.search(r'href="(/admin/emails\?older=[^"]+)"', html).group(1)
    page_two = admin_client.get(older.replace("&amp;", "&")).get_data(as_text=True)
    assert "person4@" in page_two and "person29@" not in page_two


def test_body_is_escaped_and_only_http_links_are_linked(admin_client, session):
    email = email_service.queue_email(
        session,
        to="x@example.test",
        template="magic_link",
        context={
            "name": "<b>Eve</b>",
            "link": "javascript:alert(1)",
            "minutes": 15,
            "realm": "portal",
        },
        now=NOW,
    )
    email.last_error = "SMTPServerDisconnected: <gone>"
    session.commit()
    html = admin_client.get(f"/admin/emails/{email.id}").get_data(as_text=True)
    assert "&lt;b&gt;Eve&lt;/b&gt;" in html and "<b>Eve</b>" not in html
    assert 'href="javascript' not in html
    assert "SMTPServerDisconnected: &lt;gone&gt;" in html


def test_empty_state(admin_client):
    assert "No emails yet" in admin_client.get("/admin/emails").get_data(as_text=True)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "Go to https://a.test/x?y=1&z=2.",
            'Go to <a href="https://a.test/x?y=1&amp;z=2" '
            'rel="noreferrer">https://a.test/x?y=1&amp;z=2</a>.',
        ),
        (
            "<script>http://a.test/</script>",
            '&lt;script&gt;<a href="http://a.test/" '
            'rel="noreferrer">http://a.test/</a>&lt;/script&gt;',
        ),
        (
            '(see http://a.test/"onclick=x)',
            '(see <a href="http://a.test/" rel="noreferrer">http://a.test/</a>&#34;onclick=x)',
        ),
        ("ftp://a.test javascript:alert(1)", "ftp://a.test javascript:alert(1)"),
        ("", ""),
        (None, ""),
    ],
)
def test_linkify(text, expected):
    assert str(linkify(text)) == expected


def test_every_kind_of_attachment_links_to_its_document(app):
    """The email log links each attachment to the admin page of the document it carries."""
    assert set(ATTACHMENT_PAGES) == set(email_service.ATTACHMENT_RENDERERS)
    endpoints = {rule.endpoint: rule.arguments for rule in app.url_map.iter_rules()}
    for _label, endpoint, argument in ATTACHMENT_PAGES.values():
        assert endpoints[endpoint] == {argument}, endpoint
