"""Pooled PostgreSQL connections: one that died while resting in the pool (a database restart,
an idle timeout on the way) is replaced on checkout instead of failing the request, and one in
steady use is handed out without a ping."""

from __future__ import annotations

import pytest
from sqlalchemy.pool import NullPool

from billing import db
from billing.db import make_engine
from tests.conftest import POSTGRES_URL

pytestmark = pytest.mark.skipif(not POSTGRES_URL, reason="server-side disconnects: PostgreSQL")


def _backend_pid(engine) -> int:
    with engine.connect() as connection:
        return connection.exec_driver_sql("SELECT pg_backend_pid()").scalar()


def _terminate(engine, pid: int) -> None:
    with engine.connect() as connection:
        connection.exec_driver_sql(f"SELECT pg_terminate_backend({int(pid)})")
        connection.commit()


def test_a_connection_killed_while_resting_is_replaced(monkeypatch):
    engine = make_engine(POSTGRES_URL, pool_size=1, max_overflow=1)
    try:
        first = _backend_pid(engine)
        killer = make_engine(POSTGRES_URL, poolclass=NullPool)
        _terminate(killer, first)
        killer.dispose()
        monkeypatch.setattr(db, "PING_IDLE_AFTER", 0.0)  # it has rested long enough
        assert _backend_pid(engine) != first  # a fresh connection, and no error
    finally:
        engine.dispose()


def test_a_connection_in_steady_use_is_not_pinged(monkeypatch):
    engine = make_engine(POSTGRES_URL, pool_size=1, max_overflow=0)
    pings = []
    try:
        _backend_pid(engine)
        monkeypatch.setattr(engine.dialect, "do_ping", lambda c: pings.append(c) or True)
        for _ in range(5):
            _backend_pid(engine)
        assert pings == []
        monkeypatch.setattr(db, "PING_IDLE_AFTER", 0.0)
        _backend_pid(engine)
        assert len(pings) == 1
    finally:
        engine.dispose()
