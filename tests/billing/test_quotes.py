"""The quote lifecycle in the domain: build (validated like an invoice), send (numbered from its
own series, emailed with a link), accept or decline (once, before expiry), expire, and become an
invoice with the same lines and totals, exactly once."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from billing.errors import InvalidTransition, NotFound, ValidationFailed
from billing.models import (
    AuditEntry,
    Email,
    Invoice,
    InvoiceStatus,
    Quote,
    QuoteConversion,
    QuoteStatus,
)
from billing.services import quotes
from billing.services.invoices import DraftLine
from tests.factories import NOW
from tests.quote_helpers import LINKS, make_quote, set_auto_convert

TODAY = NOW.date()


def _actions(session, quote) -> list[str]:
    return list(
        session.scalars(
            select(AuditEntry.action)
            .where(AuditEntry.subject_type == "quotes", AuditEntry.subject_id == quote.id)
            .order_by(AuditEntry.id)
        )
    )


def test_a_quote_is_built_like_an_invoice(session, make):
    account = make.account(currency="EUR")
    quote = make_quote(
        session,
        account,
        lines=[
            DraftLine("Design (hours)", Decimal("7.5"), 12000, Decimal(19)),
            DraftLine("Licence", Decimal(1), 18000, Decimal(0)),
        ],
        discount_minor=10000,
        send=False,
    )
    assert quote.status == QuoteStatus.DRAFT and quote.number is None
    assert quote.currency == "EUR"
    # 7.5 x 120.00 = 900.00 and 180.00; the 100.00 discount is split 83.33 / 16.67 (allocate);
    # tax 19% of 816.67 = 155.17.
    assert [line.amount_minor for line in quote.lines] == [90000, 18000]
    assert [line.discount_minor for line in quote.lines] == [8333, 1667]
    assert (quote.subtotal_minor, quote.discount_minor, quote.tax_minor) == (108000, 10000, 15517)
    assert quote.total_minor == 108000 - 10000 + 15517
    assert _actions(session, quote) == ["quote.created"]


@pytest.mark.parametrize(
    ("lines", "values", "field"),
    [
        ([DraftLine("x", Decimal(-1), 100)], {}, "lines-0-quantity"),
        ([DraftLine("x", Decimal(10_000_000), 100)], {}, "lines-0-quantity"),
        ([DraftLine("x", Decimal("0.00001"), 100)], {}, "lines-0-quantity"),
        ([DraftLine("x", Decimal(1), -5)], {}, "lines-0-unit_price"),
        ([DraftLine("x", Decimal(1), 100, Decimal(150))], {}, "lines-0-taxes"),
        ([DraftLine("  ", Decimal(1), 100)], {}, "lines-0-description"),
        ([DraftLine("x", Decimal(1), 100)] * 1000, {}, "lines"),
        ([], {}, "lines"),
        ([DraftLine("x", Decimal(1), 100)], {"currency": "ZZZ"}, "currency"),
        ([DraftLine("x", Decimal(1), 100)], {"memo": "m" * 1_000_000}, "memo"),
        ([DraftLine("x", Decimal(1), 100)], {"discount_minor": 101}, "discount"),
        ([DraftLine("x", Decimal(1), 100)], {"discount_minor": -1}, "discount"),
        (
            [DraftLine("x", Decimal(1), 100)],
            {"expiry_date": TODAY - timedelta(days=1)},
            "expiry_date",
        ),
    ],
)
def test_bad_input_is_refused_per_field_and_writes_nothing(session, make, lines, values, field):
    account = make.account()
    terms = {
        "account_id": account.id,
        "lines": lines,
        "issue_date": TODAY,
        "expiry_date": TODAY + timedelta(days=30),
    } | values
    with pytest.raises(ValidationFailed) as refused:
        quotes.create_quote(session, terms=quotes.QuoteTerms(**terms), now=NOW, actor="staff:1")
    assert field in refused.value.errors, refused.value.errors
    assert session.scalar(select(func.count()).select_from(Quote)) == 0


def test_an_unknown_customer_is_not_found(session):
    with pytest.raises(NotFound):
        quotes.create_quote(
            session,
            terms=quotes.QuoteTerms(999, [DraftLine("x", Decimal(1), 100)], TODAY, TODAY),
            now=NOW,
            actor="staff:1",
        )


def test_sending_numbers_from_the_quote_series_and_emails_the_link(session, make):
    account = make.account(billing_email="ap@acme.test")
    first, second = make_quote(session, account), make_quote(session, account)
    assert (first.number, second.number) == ("Q-2026-0001", "Q-2026-0002")
    assert first.status == QuoteStatus.SENT and first.sent_at == NOW
    assert first.link_token_hash and first.link_nonce
    email = session.scalars(select(Email).order_by(Email.id)).first()
    assert email.to_address == "ap@acme.test" and "Q-2026-0001" in email.subject
    link = quotes.quote_links.link_url(first, secret=LINKS.secret, base_url=LINKS.base_url)
    assert link in email.text_body and link in email.html_body
    assert link.rsplit("/", 1)[1] not in first.link_token_hash  # only the hash is stored

    again = quotes.send_quote(session, quote_id=first.id, links=LINKS, now=NOW, actor="staff:1")
    assert again.number == "Q-2026-0001"  # a reminder keeps its number and its link
    assert session.scalar(select(func.count()).select_from(Email)) == 3
    assert _actions(session, first) == ["quote.created", "quote.sent", "quote.resent"]


def test_an_expired_quote_cannot_be_sent(session, make):
    quote = make_quote(session, make.account(), valid_days=1, send=False)
    with pytest.raises(ValidationFailed) as refused:
        quotes.send_quote(
            session, quote_id=quote.id, links=LINKS, now=NOW + timedelta(days=2), actor="staff:1"
        )
    assert "expiry_date" in refused.value.errors


def _accept(session, quote, name="Ada Lovelace", *, now=NOW, account_id=None):
    return quotes.accept_quote(
        session,
        quote_id=quote.id,
        account_id=account_id,
        unsafe_name=name,
        ip="203.0.113.9",
        now=now,
        actor="portal_user:1",
    )


def test_accepting_records_the_name_time_and_address_once(session, make):
    quote = make_quote(session, make.account())
    accepted = _accept(session, quote, "  Ada Lovelace ", now=NOW + timedelta(hours=2))
    assert accepted.status == QuoteStatus.ACCEPTED
    assert accepted.accepted_name == "Ada Lovelace"
    assert accepted.responded_ip == "203.0.113.9"
    assert accepted.responded_at == NOW + timedelta(hours=2)
    entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "quote.accepted")).one()
    assert entry.actor == "portal_user:1" and entry.after["ip"] == "203.0.113.9"

    with pytest.raises(InvalidTransition, match="already accepted"):
        _accept(session, quote, "Someone Else")
    with pytest.raises(InvalidTransition, match="already accepted"):
        quotes.decline_quote(
            session,
            quote_id=quote.id,
            account_id=None,
            unsafe_reason="Too dear",
            ip="x",
            now=NOW,
            actor="portal_user:1",
        )
    session.refresh(quote)
    assert quote.accepted_name == "Ada Lovelace"


def test_accepting_needs_a_name_and_declining_a_reason(session, make):
    quote = make_quote(session, make.account())
    with pytest.raises(ValidationFailed) as no_name:
        _accept(session, quote, "   ")
    assert "name" in no_name.value.errors
    with pytest.raises(ValidationFailed) as long_name:
        _accept(session, quote, "x" * 201)
    assert "name" in long_name.value.errors
    with pytest.raises(ValidationFailed) as no_reason:
        quotes.decline_quote(
            session,
            quote_id=quote.id,
            account_id=None,
            unsafe_reason="",
            ip="x",
            now=NOW,
            actor="a",
        )
    assert "reason" in no_reason.value.errors
    session.refresh(quote)
    assert quote.status == QuoteStatus.SENT


def test_declining_records_the_reason_and_is_final(session, make):
    quote = make_quote(session, make.account())
    declined = quotes.decline_quote(
        session,
        quote_id=quote.id,
        account_id=None,
        unsafe_reason="We chose another agency.",
        ip="198.51.100.4",
        now=NOW,
        actor="portal_user:2",
    )
    assert declined.status == QuoteStatus.DECLINED
    assert declined.decline_reason == "We chose another agency."
    with pytest.raises(InvalidTransition, match="declined"):
        _accept(session, quote)


def test_a_customer_reaches_only_their_own_sent_quotes(session, make):
    mine, theirs = make.account(), make.account()
    draft = make_quote(session, mine, send=False)
    other = make_quote(session, theirs)
    with pytest.raises(NotFound):
        _accept(session, other, account_id=mine.id)
    with pytest.raises(NotFound):
        _accept(session, draft, account_id=mine.id)
    session.refresh(other)
    assert other.status == QuoteStatus.SENT


def test_an_expired_quote_cannot_be_accepted(session, make):
    quote = make_quote(session, make.account(), valid_days=10)
    last_day = NOW + timedelta(days=10)
    with pytest.raises(InvalidTransition, match="expired on"):
        _accept(session, quote, now=last_day + timedelta(days=1))
    assert _accept(session, quote, now=last_day).status == QuoteStatus.ACCEPTED


def test_expiring_moves_only_overdue_sent_quotes_and_runs_twice(session, make):
    account = make.account()
    old = make_quote(session, account, valid_days=5)
    fresh = make_quote(session, account, valid_days=60)
    draft = make_quote(session, account, valid_days=5, send=False)
    later = NOW + timedelta(days=6)
    assert quotes.expire_quotes(session, today=later.date(), now=later) == [old.id]
    assert quotes.expire_quotes(session, today=later.date(), now=later) == []
    for quote in (old, fresh, draft):
        session.refresh(quote)
    assert (old.status, fresh.status, draft.status) == ("expired", "sent", "draft")
    entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "quote.expired")).one()
    assert entry.actor == "system"
    with pytest.raises(InvalidTransition, match="expired"):
        _accept(session, old, now=NOW)


def _convert(session, quote, mode=QuoteConversion.DRAFT, now=NOW):
    return quotes.convert_quote(session, quote_id=quote.id, mode=mode, now=now, actor="staff:1")


def test_an_accepted_quote_becomes_a_draft_invoice_with_the_same_lines_and_totals(session, make):
    account = make.account(payment_terms_days=14)
    quote = make_quote(session, account, discount_minor=5000)
    _accept(session, quote)
    invoice = _convert(session, quote)
    session.refresh(quote)
    assert invoice.status == InvoiceStatus.DRAFT
    assert (quote.status, quote.invoice_id, invoice.quote_id) == ("converted", invoice.id, quote.id)
    assert [
        (line.description, line.quantity, line.unit_amount_minor, line.tax_rate)
        for line in invoice.lines
    ] == [
        (line.description, line.quantity, line.unit_amount_minor, line.tax_rate)
        for line in quote.lines
    ]
    assert (invoice.subtotal_minor, invoice.discount_minor, invoice.tax_minor) == (
        quote.subtotal_minor,
        quote.discount_minor,
        quote.tax_minor,
    )
    assert invoice.total_minor == quote.total_minor
    assert invoice.issue_date == TODAY and invoice.due_date == TODAY + timedelta(days=14)
    created = session.scalars(
        select(AuditEntry).where(
            AuditEntry.subject_type == "invoices", AuditEntry.subject_id == invoice.id
        )
    ).one()
    assert created.action == "invoice.created_from_quote"
    assert created.after["quote_number"] == quote.number

    # Idempotent: converting again (or finalizing through it) never makes a second invoice.
    assert _convert(session, quote).id == invoice.id
    assert session.scalar(select(func.count()).select_from(Invoice)) == 1


def test_finalize_mode_numbers_the_invoice(session, make):
    quote = make_quote(session, make.account())
    _accept(session, quote)
    invoice = _convert(session, quote, QuoteConversion.FINALIZE)
    assert invoice.status == InvoiceStatus.OPEN and invoice.number == "INV-2026-0001"


def test_only_an_accepted_quote_converts(session, make):
    quote = make_quote(session, make.account())
    with pytest.raises(InvalidTransition, match="Only an accepted quote"):
        _convert(session, quote)
    _accept(session, quote)
    with pytest.raises(ValidationFailed):
        _convert(session, quote, QuoteConversion.OFF)


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        (QuoteConversion.OFF, None),
        (QuoteConversion.DRAFT, InvoiceStatus.DRAFT),
        (QuoteConversion.FINALIZE, InvoiceStatus.OPEN),
    ],
)
def test_auto_convert_follows_the_company_setting(session, make, mode, expected):
    set_auto_convert(session, mode)
    quote = make_quote(session, make.account())
    _accept(session, quote)  # the convert_quote job runs in-process after the commit
    session.refresh(quote)
    invoice = session.scalar(select(Invoice).where(Invoice.quote_id == quote.id))
    if expected is None:
        assert quote.status == QuoteStatus.ACCEPTED and invoice is None
    else:
        assert quote.status == QuoteStatus.CONVERTED and invoice.status == expected
        system = session.scalars(
            select(AuditEntry.actor).where(AuditEntry.action == "quote.converted")
        ).one()
        assert system == "system"


@settings(
    max_examples=15,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    lines=st.lists(
        st.tuples(
            st.decimals(min_value="0.0001", max_value="1000", places=4),
            st.integers(min_value=0, max_value=10**7),
            st.sampled_from([Decimal(0), Decimal("7.5"), Decimal(19), Decimal(20)]),
        ),
        min_size=1,
        max_size=6,
    ),
    discount_share=st.integers(min_value=0, max_value=100),
)
def test_quote_and_invoice_totals_never_differ_by_a_minor_unit(
    session, make, lines, discount_share
):
    account = make.account()
    draft_lines = [DraftLine(f"Line {i}", q, unit, tax) for i, (q, unit, tax) in enumerate(lines)]
    preview = make_quote(session, account, lines=draft_lines, send=False)
    discount = preview.subtotal_minor * discount_share // 100
    quote = make_quote(session, account, lines=draft_lines, discount_minor=discount)
    _accept(session, quote)
    invoice = _convert(session, quote)
    assert (invoice.subtotal_minor, invoice.discount_minor, invoice.tax_minor) == (
        quote.subtotal_minor,
        quote.discount_minor,
        quote.tax_minor,
    )
    assert invoice.total_minor == quote.total_minor
    assert sum(line.tax_minor for line in invoice.lines) == quote.tax_minor
