"""billing.db.PrecompiledStatement read path (`rows`): the same values in and out as a Core
execution, inside the session's own transaction, on SQLite and PostgreSQL alike; a statement
that would need compiling per execution is refused up front."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from sqlalchemy import bindparam, func, literal, or_, select
from sqlalchemy.pool import NullPool

from billing.db import PrecompiledStatement, make_engine, make_session_factory
from billing.models import AuthSession, Invoice
from tests.conftest import POSTGRES_URL

INVOICE_COLUMNS = (Invoice.id, Invoice.issue_date, Invoice.finalized_at, Invoice.status)


def test_rows_read_back_as_core_reads_them(session, make):
    account = make.account()
    invoice = make.invoice(account, issue_date=date(2026, 3, 4))
    query = select(*INVOICE_COLUMNS).where(Invoice.account_id == bindparam("account_id"))
    rows = PrecompiledStatement(query).rows(session, {"account_id": account.id})
    assert rows == [tuple(session.execute(query, {"account_id": account.id}).one())]
    ((_, issue_date, finalized_at, _),) = rows
    assert issue_date == date(2026, 3, 4)  # a date, not SQLite's text
    assert finalized_at == invoice.finalized_at and finalized_at.tzinfo is not None


def test_a_parameter_used_twice_and_literals_are_bound(session, make):
    account = make.account()
    make.invoice(account, issue_date=date(2026, 3, 4))
    make.invoice(account, issue_date=date(2026, 5, 6))
    between = bindparam("day", type_=Invoice.issue_date.type)
    query = select(func.count(), literal("kept")).where(
        Invoice.account_id == bindparam("account_id"),
        or_(Invoice.issue_date == between, Invoice.issue_date < between),
    )
    rows = PrecompiledStatement(query).rows(
        session, {"account_id": account.id, "day": date(2026, 4, 1)}
    )
    assert rows == [(1, "kept")]


def test_rows_see_the_sessions_own_uncommitted_writes(session, make):
    account = make.account()
    invoice = make.invoice(account)
    invoice.memo = "flushed, not committed"
    session.flush()
    query = select(Invoice.memo).where(Invoice.id == bindparam("id"))
    assert PrecompiledStatement(query).rows(session, {"id": invoice.id}) == [
        ("flushed, not committed",)
    ]
    session.rollback()


def test_timestamps_are_bound_as_the_column_stores_them(session, make):
    """An aware instant (in any zone) equals in SQL the value the ORM stored for it."""
    user = make.portal_user(make.account())
    expires = datetime(2026, 12, 7, 18, 30, 5, 250000, tzinfo=UTC)
    session.add(
        AuthSession(
            token_hash="f" * 64, created_at=expires, expires_at=expires, portal_user_id=user.id
        )
    )
    session.commit()
    query = select(AuthSession.token_hash).where(
        AuthSession.expires_at == bindparam("at", type_=AuthSession.expires_at.type)
    )
    in_berlin = expires.astimezone(timezone(timedelta(hours=1)))
    assert PrecompiledStatement(query).rows(session, {"at": in_berlin}) == [("f" * 64,)]


def test_statements_that_compile_per_execution_are_refused(session):
    query = select(Invoice.id).where(Invoice.id.in_(bindparam("ids", expanding=True)))
    with pytest.raises(ValueError, match="per-execution"):
        PrecompiledStatement(query).rows(session, {"ids": [1, 2]})


@pytest.mark.skipif(not POSTGRES_URL, reason="server-side disconnects: PostgreSQL")
def test_a_connection_killed_under_a_read_is_dropped_from_the_pool():
    engine = make_engine(POSTGRES_URL, pool_size=1, max_overflow=0)
    statement = PrecompiledStatement(select(func.pg_backend_pid()))
    try:
        with make_session_factory(engine)() as reader:
            ((pid,),) = statement.rows(reader, {})
            reader.commit()
            killer = make_engine(POSTGRES_URL, poolclass=NullPool)
            with killer.connect() as connection:
                connection.exec_driver_sql(f"SELECT pg_terminate_backend({int(pid)})")
            killer.dispose()
            with pytest.raises(Exception, match="terminating connection"):  # the real cause
                statement.rows(reader, {})
            reader.rollback()
            ((fresh,),) = statement.rows(reader, {})  # no rest, so no ping: a new connection
            assert fresh != pid
    finally:
        engine.dispose()
