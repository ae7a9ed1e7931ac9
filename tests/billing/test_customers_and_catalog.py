"""Customers (details, terms, CC addresses), portal users (invitation that expires, roles,
deactivation that ends sessions) and the catalog (tax rates, products with prices per
currency): checked values, per-field messages, nothing written on bad input, audited changes."""

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from billing.clock import utcnow
from billing.errors import NotFound, ValidationFailed
from billing.models import (
    Account,
    AuditEntry,
    AuthSession,
    Email,
    PortalRole,
    PortalUser,
    Product,
    TaxRate,
)
from billing.services import catalog, customers
from tests.factories import NOW
from tests.helpers import csrf_token, sign_in

GOOD = {
    "name": "Acme Corp",
    "billing_email": "AP@Acme.test",
    "address": "1 Road\r\nTown",
    "tax_id": "US-1",
    "currency": "usd",
    "locale": "de_DE",
    "payment_terms_days": "14",
    "invoice_cc": "boss@acme.test, Ops@Acme.test\nboss@acme.test",
}


def count(session, model) -> int:
    return session.scalar(select(func.count()).select_from(model))


def test_create_and_edit_a_customer(session):
    account = customers.create_customer(session, values=GOOD, now=NOW, actor="staff:1")
    assert (account.billing_email, account.currency, account.locale) == (
        "ap@acme.test",
        "USD",
        "de_DE",
    )
    assert account.address == "1 Road\nTown" and account.payment_terms_days == 14
    assert account.cc_addresses == ["boss@acme.test", "ops@acme.test"]
    updated = customers.update_customer(
        session,
        account_id=account.id,
        values=GOOD | {"payment_terms_days": "45", "invoice_cc": ""},
        now=NOW,
        actor="staff:1",
    )
    assert updated.payment_terms_days == 45 and updated.cc_addresses == []
    entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "account.updated")).one()
    assert entry.before == {"payment_terms_days": 14, "invoice_cc": "boss@acme.test\nops@acme.test"}
    assert entry.after == {"payment_terms_days": 45, "invoice_cc": ""}
    customers.update_customer(
        session, account_id=account.id, values=GOOD | {"payment_terms_days": "45",
                                                       "invoice_cc": ""},
        now=NOW, actor="staff:1",
    )  # fmt: skip
    assert session.scalar(select(func.count()).where(AuditEntry.action == "account.updated")) == 1


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"name": ""}, "name"),
        ({"name": "x" * 201}, "name"),
        ({"billing_email": "not an email"}, "billing_email"),
        ({"currency": "EURO"}, "currency"),
        ({"locale": "xx_YY_ZZ"}, "locale"),
        ({"payment_terms_days": "-1"}, "payment_terms_days"),
        ({"payment_terms_days": "99999"}, "payment_terms_days"),
        ({"payment_terms_days": "thirty"}, "payment_terms_days"),
        ({"invoice_cc": "ok@x.test, nope"}, "invoice_cc"),
        ({"invoice_cc": "\n".join(f"u{i}@x.test" for i in range(11))}, "invoice_cc"),
        ({"address": "a" * 1_000_000}, "address"),
    ],
)
def test_bad_customer_values_are_refused_and_write_nothing(session, change, field):
    with pytest.raises(ValidationFailed) as failure:
        customers.create_customer(session, values=GOOD | change, now=NOW, actor="t")
    assert field in failure.value.errors
    assert count(session, Account) == 0 and count(session, AuditEntry) == 0


def _invite(session, account, email="new@acme.test", role="billing"):
    """Invite as staff would today: the link is opened through the app, which reads the real
    clock, so a fixed date here would make these tests expire with the calendar."""
    return customers.invite_portal_user(
        session,
        account_id=account.id,
        unsafe_email=email,
        name="Nia New",
        role=role,
        now=utcnow(),
        actor="staff:1",
        base_url="http://localhost",
    )


def _link(session) -> str:
    email = session.scalars(select(Email).order_by(Email.id.desc())).first()
    return re.search(r"http://localhost(/invite/\S+)", email.text_body).group(1)


def test_an_invitation_sets_a_password_and_signs_in_once(session, make, client):
    account = make.account(name="Acme Corp")
    user = _invite(session, account, email=" New@Acme.test ")
    assert (user.email, user.role, user.password_hash) == (
        "new@acme.test",
        PortalRole.BILLING,
        None,
    )
    email = session.scalars(select(Email)).one()
    assert email.template == "invitation" and email.is_sensitive
    assert "Acme Corp" in email.text_body and "7 days" in email.text_body
    link = _link(session)
    page = client.get(link)
    assert page.status_code == 200 and "choose your password" in page.get_data(as_text=True)
    short = client.post(link, data={"csrf_token": csrf_token(client, link), "password": "short",
                                    "confirm": "short"})  # fmt: skip
    assert short.status_code == 200 and "at least 10 characters" in short.get_data(as_text=True)
    done = client.post(
        link,
        data={
            "csrf_token": csrf_token(client, link),
            "password": "a strong passphrase",
            "confirm": "a strong passphrase",
        },
    )
    assert done.status_code == 302 and done.headers["Location"] == "/"
    assert client.get("/").status_code == 200  # signed in
    assert client.get(link).status_code == 410  # used once
    session.expire_all()
    assert session.get(PortalUser, user.id).password_hash is not None
    with pytest.raises(ValidationFailed, match="already has portal access"):
        _invite(session, account, email="new@acme.test")


def test_invitations_expire_and_a_new_one_replaces_the_old(session, make, client):
    account = make.account()
    _invite(session, account)
    first = _link(session)
    _invite(session, account)  # sent again: the first link stops working
    second = _link(session)
    assert client.get(first).status_code == 410
    assert client.get(second).status_code == 200
    from billing.models import LoginToken

    token = session.scalars(select(LoginToken).where(LoginToken.used_at.is_(None))).one()
    assert token.expires_at - token.created_at == timedelta(days=7)
    token.expires_at = utcnow() - timedelta(seconds=1)
    session.commit()
    assert client.get(second).status_code == 410


def test_invite_refuses_bad_input_and_someone_elses_user(session, make):
    account, other = make.account(), make.account()
    taken = make.portal_user(other)
    cases = [
        ({"email": "nope"}, "email"),
        ({"email": taken.email}, "email"),
        ({"role": "admin"}, "role"),
    ]
    for values, field in cases:
        with pytest.raises(ValidationFailed) as failure:
            _invite(session, account, **values)
        assert field in failure.value.errors
    assert count(session, PortalUser) == 1 and count(session, Email) == 0


def test_roles_change_and_deactivation_ends_every_session(session, make, client):
    account = make.account()
    user = make.portal_user(account, role=PortalRole.OWNER)
    sign_in(client, user.email)
    assert count(session, AuthSession) == 1
    customers.change_portal_user_role(
        session, portal_user_id=user.id, role="viewer", now=NOW, actor="staff:1"
    )
    with pytest.raises(ValidationFailed):
        customers.change_portal_user_role(
            session, portal_user_id=user.id, role="emperor", now=NOW, actor="staff:1"
        )
    with pytest.raises(NotFound):
        customers.change_portal_user_role(
            session, portal_user_id=user.id, role="owner", now=NOW, actor="staff:1",
            account_id=account.id + 1,
        )  # fmt: skip
    customers.deactivate_portal_user(session, portal_user_id=user.id, now=NOW, actor="staff:1")
    assert count(session, AuthSession) == 0
    assert client.get("/invoices").status_code == 302  # signed out
    customers.reactivate_portal_user(session, portal_user_id=user.id, now=NOW, actor="staff:1")
    actions = session.scalars(
        select(AuditEntry.action).where(AuditEntry.subject_type == "portal_users")
        .order_by(AuditEntry.id)
    ).all()  # fmt: skip
    assert actions == [
        "portal_user.role_changed",
        "portal_user.deactivated",
        "portal_user.reactivated",
    ]


def test_tax_rates(session):
    rate = catalog.save_tax_rate(
        session,
        tax_rate_id=None,
        values={"name": " VAT ", "percentage": "20 %", "is_inclusive": True},
        now=NOW,
        actor="t",
    )
    assert (rate.name, rate.percentage, rate.is_inclusive, rate.label) == (
        "VAT",
        Decimal(20),
        True,
        "VAT 20% (included)",
    )
    for bad, field in [
        ({"name": "", "percentage": "5"}, "name"),
        ({"name": "X", "percentage": "101"}, "percentage"),
        ({"name": "X", "percentage": "-1"}, "percentage"),
        ({"name": "X", "percentage": "1.23456"}, "percentage"),
        ({"name": "X", "percentage": "lots"}, "percentage"),
    ]:
        with pytest.raises(ValidationFailed) as failure:
            catalog.save_tax_rate(session, tax_rate_id=None, values=bad, now=NOW, actor="t")
        assert field in failure.value.errors
    assert count(session, TaxRate) == 1


def test_products_with_a_price_per_currency(session):
    vat = catalog.save_tax_rate(
        session, tax_rate_id=None, values={"name": "VAT", "percentage": "20"}, now=NOW, actor="t"
    )
    product = catalog.save_product(
        session,
        product_id=None,
        values={
            "name": "Widget",
            "prices": [("USD", "12.50"), ("eur", "11"), ("JPY", ""), ("", "")],
            "tax_rate_ids": [str(vat.id)],
        },
        now=NOW,
        actor="t",
    )
    assert (product.price_in("USD"), product.price_in("EUR"), product.price_in("JPY")) == (
        1250,
        1100,
        None,
    )
    assert [t.name for t in product.tax_rates] == ["VAT"]
    changed = catalog.save_product(
        session,
        product_id=product.id,
        values={"name": "Widget", "prices": [("EUR", "12")], "tax_rate_ids": []},
        now=NOW,
        actor="t",
    )
    assert [(p.currency, p.unit_amount_minor) for p in changed.prices] == [("EUR", 1200)]
    for prices, field, message in [
        ([("ABC", "1")], "prices-0-currency", "Enter a three-letter currency code."),
        ([("USD", "1"), ("USD", "2")], "prices-1-currency", "USD has a price already."),
        ([("JPY", "1.5")], "prices-0-amount", "JPY amounts have no decimals."),
        ([("USD", "1.005")], "prices-0-amount", "USD amounts have at most 2 decimals."),
        ([("USD", "ten")], "prices-0-amount", "Enter an amount such as 125.00."),
        ([("USD", "-1")], "prices-0-amount", "Enter a price from zero up to a hundred million."),
        ([("USD", "1e30")], "prices-0-amount", "That amount is too large."),
    ]:
        with pytest.raises(ValidationFailed) as failure:
            catalog.save_product(
                session, product_id=None, values={"name": "X", "prices": prices}, now=NOW,
                actor="t",
            )  # fmt: skip
        assert failure.value.errors.get(field) == message, failure.value.errors
    with pytest.raises(ValidationFailed, match="tax rates"):
        catalog.save_product(
            session, product_id=None, values={"name": "X", "tax_rate_ids": ["999"]}, now=NOW,
            actor="t",
        )  # fmt: skip
    assert count(session, Product) == 1
