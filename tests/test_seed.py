"""The demo data (billing/seed.py) and the setup commands (manage.py).

`make demo` promises three sign-ins, a year of invoices in every status, two currencies, enough
Acme invoices for a second portal page, and a company logo; these tests hold it to that, on the
real migrated schema. The seed must also be idempotent (a second `make demo` keeps the data) and
deterministic for a given `now`.

Seeding takes a second or two, so the read-only checks share one seeded SQLite database per
module (`demo`). The test database itself (PostgreSQL when TEST_DATABASE_URL is set) is seeded
by `test_seed_on_the_test_database_matches` and the web tests: the first proves it holds
exactly the same rows as the shared SQLite one, so every check below holds on both backends.
The last tests run `python manage.py ...` in a subprocess, as the Makefile does.
"""

from __future__ import annotations

import html
import io
import os
import re
import subprocess
import sys
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from PIL import Image
from sqlalchemy import func, select

from billing import queries
from billing.db import Base, make_engine, make_session_factory
from billing.errors import AuthenticationFailed
from billing.models import (
    Account,
    AuditEntry,
    CompanySettings,
    Invoice,
    InvoiceLine,
    InvoiceStatus,
    Payment,
    PaymentAllocation,
    PaymentMethod,
    PortalRole,
    PortalUser,
    Realm,
    StaffRole,
    StaffUser,
)
from billing.seed import SIGN_INS, SeedSummary, seed_demo
from billing.services.auth import Limits, sign_in_with_password
from tests.conftest import ROOT, SECRET, migrate
from tests.helpers import sign_in

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def demo_database(tmp_path_factory) -> tuple[str, SeedSummary]:
    """A migrated SQLite file seeded once for this module: (url, the seed's summary)."""
    url = f"sqlite:///{tmp_path_factory.mktemp('demo') / 'paydesk.db'}"
    migrate(url)
    engine = make_engine(url)
    with make_session_factory(engine)() as session:
        summary = seed_demo(session, now=NOW)
    engine.dispose()
    return url, summary


@pytest.fixture
def seeded(demo_database):
    """A session on the shared seeded database, and the seed's summary."""
    url, summary = demo_database
    engine = make_engine(url)
    with make_session_factory(engine)() as session:
        yield session, summary
    engine.dispose()


SIGN_IN_BOOKKEEPING = {"auth_attempts", "auth_sessions"}  # tests sign in on the shared database


def _row_counts(session) -> dict[str, int]:
    """Rows per table, leaving out what signing in writes."""
    return {
        table.name: session.scalar(select(func.count()).select_from(table))
        for table in Base.metadata.sorted_tables
        if table.name not in SIGN_IN_BOOKKEEPING
    }


def _fingerprint(session) -> list[tuple]:
    """What a person would see of the invoices and payments, in a stable order."""
    invoices = session.execute(
        select(
            Account.name, Invoice.number, Invoice.status, Invoice.currency, Invoice.issue_date,
            Invoice.due_date, Invoice.subtotal_minor, Invoice.discount_minor, Invoice.tax_minor,
            Invoice.total_minor, Invoice.amount_paid_minor, Invoice.memo,
        ).join(Account, Account.id == Invoice.account_id).order_by(Invoice.id)
    ).all()
    payments = session.execute(
        select(
            Payment.method, Payment.amount_minor, Payment.received_date, Payment.reference
        ).order_by(Payment.id)
    ).all()
    return [tuple(row) for row in invoices] + [tuple(row) for row in payments]


def test_documented_sign_ins_work(seeded):
    session, _ = seeded
    for realm, email, password in SIGN_INS:
        user, token = sign_in_with_password(
            session, realm=Realm(realm), unsafe_email=email, password=password,
            ip="127.0.0.1", now=NOW, limits=Limits(),
        )
        assert token
        if realm == "staff":
            assert user.role == StaffRole.ADMIN
        else:
            assert user.role == PortalRole.OWNER
    accounts = {
        u.email: u.account.name for u in session.scalars(select(PortalUser))
    }
    assert accounts["ada@acme.test"] == "Acme Corp"
    assert accounts["grace@globex.test"] == "Globex"
    # Other demo users have no password (magic links only): a guess does not sign them in.
    with pytest.raises(AuthenticationFailed):
        sign_in_with_password(
            session, realm=Realm.PORTAL, unsafe_email="charles@acme.test",
            password="paydesk-demo", ip="127.0.0.1", now=NOW, limits=Limits(),
        )


def test_people_accounts_and_company(seeded):
    session, _ = seeded
    staff_roles = set(session.scalars(select(StaffUser.role)))
    assert {StaffRole.ADMIN, StaffRole.ACCOUNTANT} <= staff_roles
    accounts = {a.name: a for a in session.scalars(select(Account))}
    assert set(accounts) == {"Acme Corp", "Globex", "Initech GmbH"}
    assert accounts["Initech GmbH"].currency == "EUR"
    assert accounts["Initech GmbH"].locale == "de_DE"
    for account in accounts.values():
        roles = set(
            session.scalars(select(PortalUser.role).where(PortalUser.account_id == account.id))
        )
        assert roles == {PortalRole.OWNER, PortalRole.BILLING, PortalRole.VIEWER}, account.name
    names = set(session.scalars(select(PortalUser.name)))
    assert "Jürgen Weiß" in names

    company = session.scalar(select(CompanySettings))
    assert company.name == "Northwind Studio"
    assert company.default_currency == "USD"
    assert company.address and company.email and company.phone and company.tax_id
    assert "IBAN" in company.invoice_footer and "Thank you" in company.invoice_footer
    assert company.logo_mime == "image/png"
    assert company.logo.startswith(PNG_SIGNATURE)
    image = Image.open(io.BytesIO(company.logo))
    image.verify()  # raises on a corrupt file
    image = Image.open(io.BytesIO(company.logo))
    assert image.format == "PNG" and image.size == (256, 256)


def test_invoices_cover_every_status_currency_and_a_second_portal_page(seeded):
    session, summary = seeded
    assert 55 <= summary.invoices <= 65
    assert summary.invoices == session.scalar(select(func.count()).select_from(Invoice))
    for status in InvoiceStatus:
        assert summary.statuses[str(status)] > 0, f"no {status} invoice"
    assert summary.overdue >= 1 and summary.part_paid >= 1
    today = NOW.date()
    not_yet_due = session.scalar(
        select(func.count()).where(Invoice.status == InvoiceStatus.OPEN, Invoice.due_date >= today)
    )
    assert not_yet_due >= 1
    assert set(session.scalars(select(Invoice.currency).distinct())) == {"USD", "EUR"}

    acme = session.scalar(select(Account).where(Account.name == "Acme Corp"))
    portal_visible = session.scalar(
        select(func.count()).where(
            Invoice.account_id == acme.id, Invoice.status != InvoiceStatus.DRAFT
        )
    )
    assert portal_visible > queries.PAGE_SIZE  # the portal list has a second page
    first = queries.invoice_page(session, account_id=acme.id)
    assert len(first.items) == queries.PAGE_SIZE and first.older

    issued = session.scalars(
        select(Invoice.issue_date).where(Invoice.status != InvoiceStatus.DRAFT)
    ).all()
    assert (max(issued) - min(issued)).days > 300  # about a year of history
    assert all(day <= today for day in issued)


def test_amounts_payments_and_audit_are_what_the_services_write(seeded):
    session, _ = seeded
    invoices = session.scalars(select(Invoice)).all()
    allocated = dict(
        session.execute(
            select(PaymentAllocation.invoice_id, func.sum(PaymentAllocation.amount_minor))
            .group_by(PaymentAllocation.invoice_id)
        ).all()
    )
    for invoice in invoices:
        assert allocated.get(invoice.id, 0) == invoice.amount_paid_minor, invoice
        if invoice.status == InvoiceStatus.PAID:
            assert invoice.amount_due_minor == 0 and invoice.paid_at is not None
        if invoice.status in (InvoiceStatus.DRAFT, InvoiceStatus.VOID):
            assert invoice.amount_paid_minor == 0
    assert any(i.discount_minor > 0 for i in invoices)
    assert {Decimal("8.25"), Decimal(19)} <= set(session.scalars(select(InvoiceLine.tax_rate)))
    assert any(q != q.to_integral_value() for q in session.scalars(select(InvoiceLine.quantity)))
    assert {PaymentMethod.CHECK, PaymentMethod.BANK_TRANSFER, PaymentMethod.CASH} <= set(
        session.scalars(select(Payment.method))
    )

    # Gap-free numbers per year, handed out in issue-date order.
    numbered = sorted(
        (i for i in invoices if i.number), key=lambda i: (i.issue_date.year, i.number)
    )
    by_year: dict[int, list[Invoice]] = {}
    for invoice in numbered:
        by_year.setdefault(invoice.issue_date.year, []).append(invoice)
    for year, items in by_year.items():
        assert [i.number for i in items] == [
            f"INV-{year}-{n:04d}" for n in range(1, len(items) + 1)
        ]
        assert [i.issue_date for i in items] == sorted(i.issue_date for i in items)

    actions = dict(
        session.execute(
            select(AuditEntry.action, func.count()).group_by(AuditEntry.action)
        ).all()
    )
    assert actions["invoice.created"] == len(invoices)
    assert actions["invoice.finalized"] == len(numbered)
    assert actions["payment.recorded"] == session.scalar(
        select(func.count()).select_from(Payment)
    )
    assert actions["invoice.voided"] >= 1 and actions["invoice.marked_uncollectible"] >= 1
    assert actions["company_settings.created"] == 1
    assert session.scalar(select(func.max(AuditEntry.at))) <= NOW


def test_seeding_again_changes_nothing(seeded):
    session, _ = seeded
    before = _row_counts(session)
    assert seed_demo(session, now=NOW) is None
    assert seed_demo(session, now=datetime(2027, 3, 1, tzinfo=UTC)) is None
    assert _row_counts(session) == before


def test_seed_on_the_test_database_matches(seeded, database_url):
    """Deterministic, and the same on PostgreSQL and SQLite: the test database seeded with the
    same `now` holds the same invoices, numbers, amounts and payments as the shared one."""
    session, summary = seeded
    engine = make_engine(database_url)
    with make_session_factory(engine)() as other:
        assert seed_demo(other, now=NOW) == summary
        assert _fingerprint(other) == _fingerprint(session)
        assert _row_counts(other) == _row_counts(session)
    engine.dispose()


def test_portal_shows_acme_invoices_over_two_pages_and_staff_sign_in(app, client, session):
    seed_demo(session, now=NOW)
    acme = session.scalar(select(Account).where(Account.name == "Acme Corp"))
    acme_numbers = set(
        session.scalars(select(Invoice.number).where(
            Invoice.account_id == acme.id, Invoice.number.is_not(None)
        ))
    )
    other_numbers = set(
        session.scalars(select(Invoice.number).where(
            Invoice.account_id != acme.id, Invoice.number.is_not(None)
        ))
    )

    sign_in(client, "ada@acme.test", "paydesk-demo")
    first = client.get("/invoices").get_data(as_text=True)
    next_link = re.search(r'rel="next" href="([^"]+)"', first)
    assert next_link, "no link to the second page"
    second = client.get(html.unescape(next_link.group(1))).get_data(as_text=True)
    pages = re.sub(r'placeholder="[^"]*"', "", first + second)  # the search box's example
    shown = set(re.findall(r"INV-\d{4}-\d{4}", pages))
    assert shown == acme_numbers
    assert not shown & other_numbers

    logo = client.get("/brand/logo")
    assert logo.status_code == 200 and logo.data.startswith(PNG_SIGNATURE)

    sign_in(app.test_client(), "admin@paydesk.test", "paydesk-admin", admin=True)
    globex = app.test_client()
    sign_in(globex, "grace@globex.test", "paydesk-demo")
    globex_page = globex.get("/invoices").get_data(as_text=True)
    assert set(re.findall(r"INV-\d{4}-\d{4}", globex_page)) & other_numbers


def _manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True,
        text=True, timeout=120, stdin=subprocess.DEVNULL,
    )


def test_manage_py_migrates_seeds_and_creates_staff(tmp_path):
    """What `make demo` runs, against a SQLite file whose folder does not exist yet."""
    db_file = tmp_path / "instance" / "paydesk.db"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAYDESK_")}
    env |= {"PAYDESK_SECRET_KEY": SECRET, "PAYDESK_DATABASE_URL": f"sqlite:///{db_file}"}

    for _ in range(2):  # migrating an up-to-date database is a no-op
        result = _manage("migrate", env=env)
        assert result.returncode == 0, result.stderr
    assert db_file.exists()

    result = _manage("seed", env=env)
    assert result.returncode == 0, result.stderr
    assert "Seeded 3 accounts" in result.stdout
    assert "admin@paydesk.test / paydesk-admin" in result.stdout

    result = _manage("seed", env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "Demo data already present; leaving it as it is."

    result = _manage("create-staff", "ops@example.com", "--role", "admin", env=env)
    assert result.returncode != 0 and "PAYDESK_NEW_PASSWORD" in result.stderr
    result = _manage(
        "create-staff", "Ops@Example.com", "--role", "admin", "--name", "Ops",
        env=env | {"PAYDESK_NEW_PASSWORD": "a long enough password"},
    )
    assert result.returncode == 0, result.stderr

    engine = make_engine(f"sqlite:///{db_file}")
    with make_session_factory(engine)() as session:
        assert 55 <= session.scalar(select(func.count()).select_from(Invoice)) <= 65
        assert session.scalar(select(func.count()).select_from(Account)) == 3
        user, _ = sign_in_with_password(
            session, realm=Realm.STAFF, unsafe_email="ops@example.com",
            password="a long enough password", ip="127.0.0.1", now=datetime.now(UTC),
            limits=Limits(),
        )
        assert user.role == StaffRole.ADMIN
    engine.dispose()


def test_manage_py_refuses_without_a_secret_key(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAYDESK_")}
    env["PAYDESK_DATABASE_URL"] = f"sqlite:///{tmp_path / 'x.db'}"
    result = _manage("migrate", env=env)
    assert result.returncode == 1
    assert "PAYDESK_SECRET_KEY" in result.stderr
