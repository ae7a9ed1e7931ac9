"""The page header's company branding is cached per process; a save shows on the next page."""

from datetime import UTC, datetime

from billing.services import company as company_service
from tests.helpers import sign_in

VALUES = {"name": "First Name Ltd", "default_currency": "USD"}


def _save(session, name: str) -> None:
    """Save company settings with `name` through the service, as admin does."""
    company_service.update_company_settings(
        session,
        values=VALUES | {"name": name},
        logo=None,
        logo_mime=None,
        remove_logo=False,
        now=datetime.now(UTC),
        actor="test",
    )


def test_a_settings_save_shows_on_the_next_page(client, make, session):
    sign_in(client, make.portal_user(make.account()).email)
    _save(session, "First Name Ltd")
    assert "First Name Ltd" in client.get("/invoices").get_data(as_text=True)
    _save(session, "Renamed Company Inc")
    html = client.get("/invoices").get_data(as_text=True)
    assert "Renamed Company Inc" in html and "First Name Ltd" not in html


def test_the_cache_skips_the_query_until_it_expires(session):
    cache = company_service.BrandingCache(ttl=60)
    _save(session, "Cached Co")
    assert cache.get(session).name == "Cached Co"
    company_service.queries.company(session).name = "Changed Behind Its Back"
    assert cache.get(session).name == "Cached Co"
    cache.ttl = 0
    assert cache.get(session).name == "Changed Behind Its Back"


def test_admin_pages_use_the_same_cache_and_show_a_save_at_once(client, make, session):
    sign_in(client, make.staff_user().email, admin=True)
    _save(session, "First Name Ltd")
    assert "First Name Ltd" in client.get("/admin/customers").get_data(as_text=True)
    _save(session, "Renamed Company Inc")
    html = client.get("/admin/customers").get_data(as_text=True)
    assert "Renamed Company Inc" in html and "First Name Ltd" not in html
