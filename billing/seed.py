"""Demo data for `python manage.py seed` (and so `make demo`): a small billing business with a
year of history that every page of the app can be tried on.

What it builds: the company's own details and a generated PNG logo; two staff users; three
customer accounts in two currencies (Acme Corp and Globex in USD, Initech GmbH in EUR with a
German locale and Unicode names), each with owner, billing and viewer portal users; about 60
invoices over the last twelve months in every status (draft, open and not yet due, open and
overdue, partly paid, paid, void, uncollectible), with decimal hours, taxes, invoice-level
discounts and offline payments by check, bank transfer and cash.

Why through the domain services: invoices are created with `create_draft`, numbered with
`finalize_invoice`, paid with `record_offline_payment`, voided and written off with
`void_invoice` / `mark_uncollectible`, so totals, gap-free numbers, status moves and audit
entries are exactly what production would write (and the seed breaks loudly when a service's
rules change). Company settings go through `update_company_settings`; accounts and users have
no service yet and are inserted as rows.

Why deterministic: all choices come from `random.Random(2026)` and every date is relative to the
`now` passed in, so two seeds on the same day build the same data, and a test can pin `now`.
Every action is replayed in time order (issue, payment, void, write-off) with its own past
instant as `now`, so invoice numbers, audit entries and payment dates read like a real year.

Idempotent: `seed_demo` does nothing (returns None) when any account already exists. Each
service commits, so the caller decides the outer transaction: `manage.py seed` runs the whole
seed inside one transaction (services' commits become savepoints) so a failure leaves nothing.
"""

from __future__ import annotations

import io
import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from functools import cache
from pathlib import Path

from babel.dates import format_date
from PIL import Image, ImageDraw, ImageFont
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from billing.models import (
    Account,
    CompanySettings,
    Invoice,
    InvoiceStatus,
    Payment,
    PaymentMethod,
    PortalRole,
    PortalUser,
    StaffRole,
    StaffUser,
)
from billing.passwords import hash_password
from billing.services import catalog as catalog_service
from billing.services import company as company_service
from billing.services import invoices as invoice_service
from billing.services import payments as payment_service
from billing.services.invoices import DraftLine
from billing.totals import LineInput, compute_totals

RANDOM_SEED = 2026

# The documented sign-ins (README, `make demo`). Other demo users have no password: they can
# sign in with a magic link, which with no SMTP server lands in Admin → Email log.
ADMIN_EMAIL = "admin@paydesk.test"
ADMIN_PASSWORD = "paydesk-admin"  # noqa: S105 (a published demo credential)
CUSTOMER_PASSWORD = "paydesk-demo"  # noqa: S105 (a published demo credential)
SIGN_INS = (
    ("staff", ADMIN_EMAIL, ADMIN_PASSWORD),
    ("portal", "ada@acme.test", CUSTOMER_PASSWORD),
    ("portal", "grace@globex.test", CUSTOMER_PASSWORD),
)

CASH_LIMIT_MINOR = 150000  # cash only for small amounts
LOGO_FONT = Path(__file__).parent / "documents" / "fonts" / "DejaVuSans-Bold.ttf"

COMPANY = {
    "name": "Northwind Studio",
    "address": "2150 Folsom Street, Suite 400\nSan Francisco, CA 94110\nUnited States",
    "email": "billing@northwind.example",  # email_validator refuses the .test domain here
    "phone": "+1 415 555 0134",
    "tax_id": "84-2931157",
    "default_currency": "USD",
    # Three short lines: the PDF footer prints at most three.
    "invoice_footer": (
        "Thank you for your business! Please quote the invoice number as payment reference.\n"
        "USD: First Harbor Bank · ABA 121000358 · Account 4019 2837 4651 · SWIFT FHBKUS6S\n"
        "EUR: Commerzbank · IBAN DE89 3704 0044 0532 0130 00 · BIC COBADEFFXXX"
    ),
}

STAFF = (
    # email, name, role, password
    (ADMIN_EMAIL, "Alex Morgan", StaffRole.ADMIN, ADMIN_PASSWORD),
    ("priya@paydesk.test", "Priya Raman", StaffRole.ACCOUNTANT, None),
)


# --- what each customer looks like ------------------------------------------------------------


@dataclass(frozen=True)
class _Item:
    """A catalogue entry. `hours` items get a decimal quantity in quarter hours; `count` items a
    small whole number; others are one of. `taxable` says whether the account's rate applies."""

    description: str
    unit_minor: int
    kind: str = "one"  # "one" | "hours" | "count"
    taxable: bool = True


_USD_RETAINER = (
    _Item("Managed hosting, Pro plan, {month}", 59900),
    _Item("Support plan, Business (response within 4 hours), {month}", 75000, taxable=False),
    _Item("CDN bandwidth overage (100 GB blocks)", 1200, kind="count"),
)
_USD_SMALL_RETAINER = (
    _Item("Managed hosting, Standard plan, {month}", 24900),
    _Item("Support plan, Essentials, {month}", 29900, taxable=False),
)
_USD_HOURS = (
    _Item("Backend development (hours)", 15000, kind="hours", taxable=False),
    _Item("Frontend development (hours)", 14000, kind="hours", taxable=False),
    _Item("UX and interface design (hours)", 12500, kind="hours", taxable=False),
    _Item("QA and code review (hours)", 11000, kind="hours", taxable=False),
)
_USD_PM = _Item("Project management (hours)", 9500, kind="hours", taxable=False)
_USD_ONE_OFF = (
    _Item("Product discovery workshop (half day, on site)", 180000, taxable=False),
    _Item("Brand identity refresh, fixed fee", 480000, taxable=False),
    _Item("Design system licence, annual (10 seats)", 120000),
    _Item("Font licence, Inter Display for web, annual", 18000),
    _Item("TLS wildcard certificate renewal", 8900),
    _Item("Incident response out of hours (hours)", 22500, kind="hours", taxable=False),
)

_EUR_RETAINER = (
    _Item("Managed Hosting, Pro-Tarif, {month}", 54900),
    _Item("Wartung und Support, Business-Paket, {month}", 69000),
)
_EUR_HOURS = (
    _Item("Backend-Entwicklung (Stunden)", 13500, kind="hours"),
    _Item("Frontend-Entwicklung (Stunden)", 12500, kind="hours"),
    _Item("UX-/UI-Design (Stunden)", 11500, kind="hours"),
    _Item("Qualitätssicherung und Code-Review (Stunden)", 9800, kind="hours"),
)
_EUR_PM = _Item("Projektleitung (Stunden)", 8900, kind="hours")
_EUR_ONE_OFF = (
    _Item("Discovery-Workshop (halbtägig, vor Ort in München)", 165000),
    _Item("Lizenz Designsystem, jährlich (10 Arbeitsplätze)", 110000),
    _Item("Schriftlizenz „Inter Display“ Web, jährlich", 16500),
)


@dataclass(frozen=True)
class _Customer:
    """One demo account: its details, people, how it is billed and what happens to its invoices.

    Finalized invoices: a monthly `retainer` invoice on `retainer_day` for the last
    `retainer_months` months, plus `projects_billed` invoices of `other_kinds` spread over the
    year. `fates` lists what becomes of each finalized invoice, newest first ("open", "partial",
    "paid", "void", "uncollectible"); invoices past the list are paid. Which open ones are
    overdue follows from their dates. `draft_kinds` are left as drafts dated today and before.
    """

    name: str
    billing_email: str
    address: str
    tax_id: str
    currency: str
    locale: str
    users: tuple[tuple[str, str, PortalRole, str | None], ...]
    retainer: str  # "retainer" | "small_retainer"
    retainer_months: int
    retainer_day: int
    projects_billed: int
    other_kinds: tuple[tuple[str, int], ...]  # (invoice kind, weight)
    draft_kinds: tuple[str, ...]
    net_days: int
    tax_rate: Decimal
    fates: tuple[str, ...]
    projects: tuple[str, ...]
    methods: tuple[PaymentMethod, ...]  # cycled through for payments
    german: bool = False


CUSTOMERS = (
    _Customer(
        name="Acme Corp",
        billing_email="ap@acme.test",
        address="1200 Coyote Road\nPhoenix, AZ 85001\nUnited States",
        tax_id="86-1029384",
        currency="USD",
        locale="en_US",
        users=(
            ("ada@acme.test", "Ada Lovelace", PortalRole.OWNER, CUSTOMER_PASSWORD),
            ("charles@acme.test", "Charles Babbage", PortalRole.BILLING, None),
            ("mary@acme.test", "Mary Somerville", PortalRole.VIEWER, None),
        ),
        retainer="retainer",
        retainer_months=12,
        retainer_day=1,
        projects_billed=16,
        other_kinds=(("sprint", 75), ("one_off", 25)),
        draft_kinds=("sprint", "one_off"),
        net_days=30,
        tax_rate=Decimal("8.25"),
        fates=("open", "partial", "paid", "open", "partial", "paid", "paid", "void")
        + ("paid",) * 11 + ("void",),
        projects=("Checkout redesign", "Warehouse dashboard", "Roadrunner tracking app"),
        methods=(
            PaymentMethod.BANK_TRANSFER, PaymentMethod.CHECK, PaymentMethod.BANK_TRANSFER,
            PaymentMethod.CHECK, PaymentMethod.BANK_TRANSFER,
        ),
    ),
    _Customer(
        name="Globex",
        billing_email="accounts@globex.test",
        address="1 Globex Plaza\nCypress Creek, OR 97405\nUnited States",
        tax_id="",
        currency="USD",
        locale="en_US",
        users=(
            ("grace@globex.test", "Grace Hopper", PortalRole.OWNER, CUSTOMER_PASSWORD),
            ("hank@globex.test", "Hank Scorpio", PortalRole.BILLING, None),
            ("lisa.chen@globex.test", "Lisa Chen", PortalRole.VIEWER, None),
        ),
        retainer="small_retainer",
        retainer_months=7,
        retainer_day=15,
        projects_billed=9,
        other_kinds=(("sprint", 70), ("one_off", 30)),
        draft_kinds=("sprint",),
        net_days=15,
        tax_rate=Decimal(0),  # out-of-state services: no sales tax
        fates=("open", "open", "partial", "paid", "paid", "uncollectible", "paid", "void"),
        projects=("Hammock District portal", "Employee onboarding app"),
        methods=(PaymentMethod.CHECK, PaymentMethod.BANK_TRANSFER, PaymentMethod.CASH),
    ),
    _Customer(
        name="Initech GmbH",
        billing_email="buchhaltung@initech.test",
        address="Friedrichstraße 123\n10117 Berlin\nDeutschland",
        tax_id="DE298765431",
        currency="EUR",
        locale="de_DE",
        users=(
            ("juergen.weiss@initech.test", "Jürgen Weiß", PortalRole.OWNER, None),
            ("zoe.brandt@initech.test", "Zoë Brandt", PortalRole.BILLING, None),
            ("peter.gibbons@initech.test", "Peter Gibbons", PortalRole.VIEWER, None),
        ),
        retainer="retainer",
        retainer_months=9,
        retainer_day=3,
        projects_billed=3,
        other_kinds=(("sprint", 70), ("one_off", 30)),
        draft_kinds=("one_off",),
        net_days=14,
        tax_rate=Decimal(19),  # German VAT on everything
        fates=("open", "partial", "paid", "paid", "void"),
        projects=("TPS-Berichtsportal", "Kundenportal-Relaunch"),
        methods=(PaymentMethod.BANK_TRANSFER,),
        german=True,
    ),
)


# --- the plan: every invoice and what happens to it, before anything is written -------------


@dataclass
class _Payment:
    at: datetime
    amount_minor: int | None  # None: whatever is still due at that moment
    method: PaymentMethod
    reference: str


@dataclass
class _Planned:
    customer: _Customer
    issue_date: date
    due_date: date
    created_at: datetime
    lines: list[DraftLine]
    discount_minor: int
    memo: str
    fate: str
    payments: list[_Payment] = field(default_factory=list)
    void_at: datetime | None = None
    written_off_at: datetime | None = None
    invoice_id: int | None = None


class _Planner:
    """Turns CUSTOMERS into a list of planned invoices; all randomness lives here."""

    def __init__(self, now: datetime) -> None:
        self.now = now
        self.today = now.date()
        self.rng = random.Random(RANDOM_SEED)
        self.sprints: Counter[str] = Counter()
        self.method_turn: Counter[str] = Counter()

    def at(self, day: date, hour: int) -> datetime:
        """An office-hours instant on `day`, never later than `now`."""
        moment = datetime.combine(day, time(hour, self.rng.randrange(0, 60, 5)), UTC)
        return min(moment, self.now)

    def plan(self) -> list[_Planned]:
        planned: list[_Planned] = []
        for customer in CUSTOMERS:
            dated = [(day, customer.retainer) for day in self.retainer_days(customer)]
            kinds, weights = zip(*customer.other_kinds, strict=True)
            count = customer.projects_billed
            for i in range(count):
                # Spread over the last ~350 days with a few days' jitter; the newest 3 days ago.
                days_ago = 3 + round(347 * i / max(1, count - 1)) + self.rng.randint(0, 4)
                kind = self.rng.choices(kinds, weights)[0]
                dated.append((self.today - timedelta(days_ago), kind))
            dated.sort(key=lambda pair: pair[0])  # oldest first, so sprints count upwards
            for index, (issue, kind) in enumerate(dated):
                rank = len(dated) - 1 - index  # 0 is the newest
                fate = customer.fates[rank] if rank < len(customer.fates) else "paid"
                planned.append(self.invoice(customer, issue, kind, fate))
            for i, kind in enumerate(customer.draft_kinds):
                planned.append(self.invoice(customer, self.today - timedelta(i), kind, "draft"))
        return planned

    def retainer_days(self, customer: _Customer) -> list[date]:
        """The monthly retainer's issue dates: the last `retainer_months` that have come."""
        days: list[date] = []
        year, month = self.today.year, self.today.month
        while len(days) < customer.retainer_months:
            day = date(year, month, customer.retainer_day)
            if day < self.today:
                days.append(day)
            year, month = (year, month - 1) if month > 1 else (year - 1, 12)
        return days

    def invoice(self, customer: _Customer, issue: date, kind: str, fate: str) -> _Planned:
        rng = self.rng
        lines, memo = self.lines(customer, kind, issue)
        subtotal = compute_totals(
            [LineInput(ln.quantity, ln.unit_amount_minor, ln.tax_rate) for ln in lines]
        ).subtotal_minor
        discount = 0
        if kind == "sprint" and subtotal > 500000 and rng.random() < 0.35:
            percent = rng.choice((5, 10))
            discount = subtotal * percent // 100 // 100 * 100  # whole currency units
            memo += (
                f" Inklusive {percent} % Rahmenvertragsrabatt." if customer.german
                else f" Includes a {percent}% loyalty discount."
            )
        item = _Planned(
            customer=customer,
            issue_date=issue,
            due_date=issue + timedelta(customer.net_days),
            created_at=self.at(issue, rng.randint(8, 10)),
            lines=lines,
            discount_minor=discount,
            memo=memo,
            fate=fate,
        )
        self.outcome(item)
        return item

    def lines(self, customer: _Customer, kind: str, issue: date) -> tuple[list[DraftLine], str]:
        rng = self.rng
        german = customer.german
        month = format_date(issue, "MMMM y", locale=customer.locale)
        if kind in ("retainer", "small_retainer"):
            items = list(
                (_EUR_RETAINER if german else _USD_RETAINER) if kind == "retainer"
                else _USD_SMALL_RETAINER
            )
            if not german and kind == "retainer" and rng.random() < 0.7:
                items = items[:2]  # no bandwidth overage this month
            memo = (
                f"Leistungszeitraum: {month}. Bestellnummer PO-{rng.randint(4100, 4999)}."
                if german else f"Monthly hosting and support, {month}."
            )
        elif kind == "sprint":
            project = rng.choice(customer.projects)
            self.sprints[project] += 1
            hours = _EUR_HOURS if german else _USD_HOURS
            items = [*rng.sample(hours, rng.randint(2, 3)), _EUR_PM if german else _USD_PM]
            sprint = self.sprints[project]
            memo = (
                f"{project}, Sprint {sprint}. Bestellnummer PO-{rng.randint(4100, 4999)}."
                if german
                else f"{project}, sprint {sprint}. PO 4500-{rng.randint(1000, 9999)}."
            )
        else:
            catalogue = _EUR_ONE_OFF if german else _USD_ONE_OFF
            items = rng.sample(catalogue, rng.randint(1, 2))
            memo = "Einmalige Leistungen." if german else "One-off services and licences."
        lines = []
        for entry in items:
            if entry.kind == "hours":
                quantity = Decimal(rng.randint(6, 40 if entry in (_EUR_PM, _USD_PM) else 160)) / 4
            elif entry.kind == "count":
                quantity = Decimal(rng.randint(2, 9))
            else:
                quantity = Decimal(1)
            rate = customer.tax_rate if entry.taxable else Decimal(0)
            lines.append(
                DraftLine(entry.description.format(month=month), quantity, entry.unit_minor, rate)
            )
        return lines, memo

    def outcome(self, item: _Planned) -> None:
        """Payments, voiding or write-off for a planned invoice, each at a plausible instant."""
        rng = self.rng
        issue, due = item.issue_date, item.due_date
        if item.fate == "void":
            item.void_at = self.at(issue + timedelta(rng.randint(1, 3)), 11)
        elif item.fate == "paid":
            paid_on = self.day_between(issue + timedelta(5), due + timedelta(12))
            if rng.random() < 0.2 and (paid_on - issue).days >= 5:  # paid in two instalments
                # Strictly the day before the final payment at the latest, so it comes first.
                first_on = self.day_between(issue + timedelta(3), paid_on - timedelta(1))
                item.payments.append(self.payment(item, first_on, rng.choice((40, 50, 60))))
            item.payments.append(self.payment(item, paid_on, None))
        elif item.fate == "partial":
            paid_on = self.day_between(issue + timedelta(3), due)
            if paid_on > issue:
                item.payments.append(self.payment(item, paid_on, rng.choice((25, 40, 50))))
        elif item.fate == "uncollectible":
            item.payments.append(self.payment(item, issue + timedelta(12), 20))
            item.written_off_at = self.at(due + timedelta(75), 15)

    def day_between(self, first: date, last: date) -> date:
        """A random day in [first, last], never after today."""
        last = min(last, self.today)
        first = min(first, last)
        return first + timedelta(self.rng.randint(0, (last - first).days))

    def payment(self, item: _Planned, day: date, percent: int | None) -> _Payment:
        """A payment of `percent` of the total (rounded down to whole units) or the rest."""
        customer = item.customer
        amount = None
        if percent is not None:
            amount = max(100, self.total(item) * percent // 100 // 100 * 100)
        turn = self.method_turn[customer.name]
        self.method_turn[customer.name] += 1
        method = customer.methods[turn % len(customer.methods)]
        if method == PaymentMethod.CASH and (amount or self.total(item)) > CASH_LIMIT_MINOR:
            method = PaymentMethod.CHECK  # nobody brings thousands in cash
        return _Payment(self.at(day, self.rng.randint(11, 16)), amount, method,
                        self.reference(customer, method, day))

    @staticmethod
    def total(item: _Planned) -> int:
        """The invoice total the service will compute (the same function computes both)."""
        return compute_totals(
            [LineInput(ln.quantity, ln.unit_amount_minor, ln.tax_rate) for ln in item.lines],
            item.discount_minor,
        ).total_minor

    def reference(self, customer: _Customer, method: PaymentMethod, day: date) -> str:
        rng = self.rng
        if method == PaymentMethod.CHECK:
            return f"Check #{rng.randint(1000, 9999)}"
        if method == PaymentMethod.CASH:
            return f"Cash, counter receipt {rng.randint(100, 999)}"
        if customer.currency == "EUR":
            return f"SEPA {day:%Y%m%d}-{rng.randint(100000, 999999)}"
        return f"ACH trace 0210000{rng.randint(10000000, 99999999)}"


# --- writing it ------------------------------------------------------------------------------


def make_logo_png(initials: str = "NS", size: int = 256) -> bytes:
    """A simple logo: white initials on a deep teal rounded square with a lighter corner band.

    Drawn at four times the size and scaled down, which anti-aliases the curves and letters.
    """
    scale = 4
    big = size * scale
    image = Image.new("RGBA", (big, big), (0, 0, 0, 0))
    mask = Image.new("L", (big, big), 0)
    ImageDraw.Draw(mask).rounded_rectangle((0, 0, big - 1, big - 1), radius=big // 5, fill=255)
    tile = Image.new("RGBA", (big, big), (15, 98, 94, 255))
    band = ImageDraw.Draw(tile)
    band.polygon([(big * 0.55, big), (big, big * 0.55), (big, big)], fill=(45, 145, 132, 255))
    image.paste(tile, (0, 0), mask)
    try:
        font = ImageFont.truetype(str(LOGO_FONT), int(big * 0.40))
    except OSError:  # fonts missing from a trimmed install: Pillow's own scalable font
        font = ImageFont.load_default(size=int(big * 0.40))
    draw = ImageDraw.Draw(image)
    draw.text((big / 2, big / 2), initials, font=font, fill=(255, 255, 255, 255), anchor="mm")
    image = image.resize((size, size), Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


def has_data(session: Session) -> bool:
    """True when the database already holds customer data (seeding must not touch it)."""
    return session.scalar(select(Account.id).limit(1)) is not None


@dataclass(frozen=True)
class SeedSummary:
    """What the database holds after seeding, counted from the database itself."""

    accounts: dict[str, tuple[str, int]]  # name -> (currency, invoices)
    portal_users: int
    staff_users: int
    statuses: dict[str, int]
    overdue: int
    part_paid: int
    payments: dict[str, int]  # method -> count

    @property
    def invoices(self) -> int:
        return sum(self.statuses.values())

    def lines(self) -> list[str]:
        statuses = ", ".join(f"{n} {s}" for s, n in self.statuses.items())
        methods = ", ".join(
            f"{n} {PaymentMethod(m).label.lower()}" for m, n in self.payments.items()
        )
        accounts = ", ".join(
            f"{name} {n} ({currency})" for name, (currency, n) in self.accounts.items()
        )
        return [
            f"Seeded {len(self.accounts)} accounts, {self.portal_users} portal users, "
            f"{self.staff_users} staff users.",
            f"{self.invoices} invoices: {statuses} "
            f"({self.overdue} overdue, {self.part_paid} part-paid).",
            f"Invoices per account: {accounts}.",
            f"{sum(self.payments.values())} payments: {methods}.",
        ]


def seed_demo(session: Session, *, now: datetime) -> SeedSummary | None:
    """Fill an empty database with the demo business as of `now` (aware UTC).

    Returns a summary, or None without changing anything when any account already exists.
    Commits through the services it calls; wrap it in an outer transaction to make it atomic.
    """
    if now.tzinfo is None:
        raise ValueError("now must be an aware UTC datetime")
    if has_data(session):
        return None
    staff = _add_people(session, now)
    accounts = {account.name: account for account in session.scalars(select(Account))}
    admin = f"staff:{staff[ADMIN_EMAIL].id}"
    _add_catalog(session, now=now - timedelta(days=400), actor=admin)
    accountant = f"staff:{staff['priya@paydesk.test'].id}"

    events: list[tuple[datetime, int, int, Callable[[], object]]] = []
    for seq, item in enumerate(_Planner(now).plan()):
        events.append((item.created_at, 0, seq, _issuer(session, item, accounts, admin)))
        for payment in item.payments:
            events.append((payment.at, 1, seq, _payer(session, item, payment, accountant)))
        if item.void_at:
            events.append((item.void_at, 2, seq, _voider(session, item, admin)))
        if item.written_off_at:
            events.append((item.written_off_at, 2, seq, _writer_off(session, item, accountant)))
    for _at, _order, _seq, action in sorted(events, key=lambda e: e[:3]):
        action()
    return summarize(session, today=now.date())


def _add_people(session: Session, now: datetime) -> dict[str, StaffUser]:
    """Staff, company settings, accounts and portal users.

    Company settings go through their service (validated, audited); staff, accounts and portal
    users are inserted as rows because no service creates them yet. Existing company settings
    and staff users with the same email are left as they are, so a database that only holds a
    production admin is not overwritten.
    """
    since = now - timedelta(days=400)  # when the business started billing with Paydesk
    staff: dict[str, StaffUser] = {}
    for email, name, role, password in STAFF:
        user = session.scalar(select(StaffUser).where(StaffUser.email == email))
        if user is None:
            user = StaffUser(
                email=email, name=name, role=role, created_at=since,
                password_hash=_demo_hash(password) if password else None,
            )
            session.add(user)
        staff[email] = user
    session.commit()
    if session.scalar(select(CompanySettings.id).limit(1)) is None:
        company_service.update_company_settings(
            session, values=COMPANY, logo=make_logo_png(), logo_mime="image/png",
            remove_logo=False, now=since, actor=f"staff:{staff[ADMIN_EMAIL].id}",
        )
    for customer in CUSTOMERS:
        account = Account(
            name=customer.name, billing_email=customer.billing_email, address=customer.address,
            tax_id=customer.tax_id, currency=customer.currency, locale=customer.locale,
            created_at=since,
        )
        session.add(account)
        session.flush()
        for email, name, role, password in customer.users:
            session.add(
                PortalUser(
                    account_id=account.id, email=email, name=name, role=role, created_at=since,
                    password_hash=_demo_hash(password) if password else None,
                )
            )
    session.commit()
    return staff


# The catalog staff pick invoice lines from: (name, percent, included in prices).
CATALOG_TAXES = (
    ("Sales tax (CA)", "8.25", False),
    ("USt.", "19", False),
    ("GST (AU)", "10", True),
)
# (name, description, {currency: unit price}, usual taxes by name)
CATALOG_PRODUCTS = (
    ("Consulting, senior (hour)", "Architecture and code review",
     {"USD": "185.00", "EUR": "165.00"},
     ("Sales tax (CA)",)),
    ("Development (hour)", "Feature work, billed per hour", {"USD": "150.00", "EUR": "135.00"},
     ("Sales tax (CA)",)),
    ("Managed hosting, Pro plan (month)", "", {"USD": "599.00", "EUR": "549.00"},
     ("Sales tax (CA)",)),
    ("Support plan, Business (month)", "Response within 4 hours", {"USD": "750.00"}, ()),
    ("Onboarding workshop (day)", "On site or remote", {"USD": "1800.00", "EUR": "1650.00"},
     ("Sales tax (CA)",)),
)  # fmt: skip


def _add_catalog(session: Session, *, now: datetime, actor: str) -> None:
    """Tax rates and products through the catalog service (validated, audited)."""
    rates = {}
    for name, percent, inclusive in CATALOG_TAXES:
        rate = catalog_service.save_tax_rate(
            session,
            tax_rate_id=None,
            values={"name": name, "percentage": percent, "is_inclusive": inclusive},
            now=now,
            actor=actor,
        )
        rates[name] = rate.id
    for name, description, prices, taxes in CATALOG_PRODUCTS:
        catalog_service.save_product(
            session,
            product_id=None,
            values={
                "name": name,
                "description": description,
                "prices": list(prices.items()),
                "tax_rate_ids": [rates[t] for t in taxes],
            },
            now=now,
            actor=actor,
        )


@cache
def _demo_hash(password: str) -> str:
    """argon2 is slow on purpose; the demo's two published passwords are hashed once each."""
    return hash_password(password)


def _issuer(session, item: _Planned, accounts: dict[str, Account], actor: str):
    def issue() -> None:
        invoice = invoice_service.create_draft(
            session, account=accounts[item.customer.name], lines=item.lines,
            issue_date=item.issue_date, due_date=item.due_date, now=item.created_at,
            actor=actor, discount_minor=item.discount_minor, memo=item.memo,
        )
        item.invoice_id = invoice.id
        if item.fate != "draft":
            invoice_service.finalize_invoice(
                session, invoice_id=invoice.id, now=item.created_at, actor=actor
            )

    return issue


def _payer(session, item: _Planned, payment: _Payment, actor: str):
    def pay() -> None:
        amount = payment.amount_minor
        if amount is None:
            amount = session.get(Invoice, item.invoice_id).amount_due_minor
        payment_service.record_offline_payment(
            session, invoice_id=item.invoice_id, amount_minor=amount, method=payment.method,
            received_date=payment.at.date(), reference=payment.reference, now=payment.at,
            actor=actor,
        )

    return pay


def _voider(session, item: _Planned, actor: str):
    def void() -> None:
        invoice_service.void_invoice(
            session, invoice_id=item.invoice_id, now=item.void_at, actor=actor
        )

    return void


def _writer_off(session, item: _Planned, actor: str):
    def write_off() -> None:
        invoice_service.mark_uncollectible(
            session, invoice_id=item.invoice_id, now=item.written_off_at, actor=actor
        )

    return write_off


def summarize(session: Session, *, today: date) -> SeedSummary:
    """Count what the database holds (used after seeding and by tests)."""
    accounts = {
        name: (currency, count)
        for name, currency, count in session.execute(
            select(Account.name, Account.currency, func.count(Invoice.id))
            .outerjoin(Invoice, Invoice.account_id == Account.id)
            .group_by(Account.id, Account.name, Account.currency)
            .order_by(Account.id)
        )
    }
    by_status = dict(
        session.execute(select(Invoice.status, func.count()).group_by(Invoice.status)).all()
    )
    open_ = Invoice.status == InvoiceStatus.OPEN
    overdue = session.scalar(select(func.count()).where(open_, Invoice.due_date < today))
    part_paid = session.scalar(
        select(func.count()).where(open_, Invoice.amount_paid_minor > 0)
    )
    payments = dict(
        session.execute(
            select(Payment.method, func.count()).group_by(Payment.method).order_by(Payment.method)
        ).all()
    )
    return SeedSummary(
        accounts=accounts,
        portal_users=session.scalar(select(func.count()).select_from(PortalUser)),
        staff_users=session.scalar(select(func.count()).select_from(StaffUser)),
        statuses={str(s): by_status.get(str(s), 0) for s in InvoiceStatus},
        overdue=overdue or 0,
        part_paid=part_paid or 0,
        payments={str(m): n for m, n in payments.items()},
    )
