"""The quote jobs, each run twice: the automatic conversion of an accepted quote, and the sweep
that expires overdue quotes and re-finds conversions whose job was lost."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from billing.clock import utcnow
from billing.models import Invoice, InvoiceStatus, QuoteConversion, QuoteStatus
from billing.services import quotes
from tests.quote_helpers import make_quote, set_auto_convert
from workers.jobs import TASKS
from workers.jobs.quotes import convert_quote_job, sweep_quotes_job
from workers.schedule import SCHEDULE


def _accepted_without_its_job(session, account, *, ago: timedelta):
    """A quote accepted under auto-convert whose convert_quote job never ran."""
    quote = make_quote(session, account, now=utcnow() - ago)
    quotes.accept_quote(
        session,
        quote_id=quote.id,
        account_id=None,
        unsafe_name="Ada",
        ip="x",
        now=utcnow() - ago,
        actor="a",
    )
    return quote


def _invoices(session) -> int:
    return session.scalar(select(func.count()).select_from(Invoice))


def test_convert_quote_job_twice_makes_one_invoice(quiet_session, make):
    set_auto_convert(quiet_session, QuoteConversion.FINALIZE)
    quote = _accepted_without_its_job(quiet_session, make.account(), ago=timedelta(0))
    first, second = convert_quote_job(quote.id), convert_quote_job(quote.id)
    assert first == second and first is not None
    invoice = quiet_session.get(Invoice, first)
    assert invoice.status == InvoiceStatus.OPEN and invoice.quote_id == quote.id
    assert _invoices(quiet_session) == 1
    assert convert_quote_job(999999) is None


def test_convert_quote_job_leaves_quotes_staff_convert_alone(quiet_session, make):
    set_auto_convert(quiet_session, QuoteConversion.OFF)
    quote = _accepted_without_its_job(quiet_session, make.account(), ago=timedelta(0))
    assert convert_quote_job(quote.id) is None
    assert _invoices(quiet_session) == 0


def test_sweep_quotes_job_twice_expires_and_converts_once(quiet_session, make):
    set_auto_convert(quiet_session, QuoteConversion.DRAFT)
    account = make.account()
    lost = _accepted_without_its_job(quiet_session, account, ago=timedelta(minutes=5))
    recent = _accepted_without_its_job(quiet_session, account, ago=timedelta(seconds=5))
    overdue = make_quote(quiet_session, account, now=utcnow() - timedelta(days=40), valid_days=30)

    assert sweep_quotes_job() == (1, 1)
    assert sweep_quotes_job() == (0, 0)

    for quote in (lost, recent, overdue):
        quiet_session.refresh(quote)
    assert lost.status == QuoteStatus.CONVERTED
    assert recent.status == QuoteStatus.ACCEPTED  # its own job may still be coming
    assert overdue.status == QuoteStatus.EXPIRED
    assert _invoices(quiet_session) == 1


def test_the_jobs_are_registered():
    assert TASKS["convert_quote"] == "workers.jobs.quotes.convert_quote_job"
    entry = next(p for p in SCHEDULE if p.name == "sweep_quotes")
    assert entry.function is sweep_quotes_job
