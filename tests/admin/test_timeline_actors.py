"""Audit timelines name who acted: staff and customers by name or email, API keys by their
name, automatic work as Paydesk, and never a raw id where a name is known."""

from billing.admin_queries import actor_names
from billing.services import api_keys
from tests.admin import sign_in_staff
from tests.factories import NOW


def test_every_kind_of_actor_gets_a_readable_name(session, make):
    staff = make.staff_user(name="Ann Staff")
    customer = make.portal_user(make.account(name="Acme Corp"))
    key, _token = api_keys.create_api_key(
        session, unsafe_name="CRM", scopes=["orders:write"], now=NOW, actor=f"staff:{staff.id}"
    )
    names = actor_names(
        session,
        {
            f"staff:{staff.id}",
            f"portal_user:{customer.id}",
            f"api_key:{key.id}",
            "pay_link:4",
            "system",
            "staff:999999",
            "nonsense",
        },
    )
    assert names == {
        f"staff:{staff.id}": "Ann Staff (staff)",
        f"portal_user:{customer.id}": f"{customer.email} (customer)",
        f"api_key:{key.id}": "API key “CRM”",
        "pay_link:4": "the customer, by pay link",
        "system": "Paydesk (automatic)",
    }


def test_the_audit_log_names_subjects_and_actors(client, session, make):
    staff = sign_in_staff(client, make)
    key, _token = api_keys.create_api_key(
        session, unsafe_name="Shop", scopes=["orders:write"], now=NOW, actor=f"staff:{staff.id}"
    )
    page = client.get("/admin/audit").get_data(as_text=True)
    assert f"API key {key.id}" in page and "Api keys" not in page
    assert "(staff)" in page
