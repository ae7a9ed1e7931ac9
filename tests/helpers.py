"""Helpers for driving the app through its real HTTP interface in tests."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from sqlalchemy import event

from tests.factories import PASSWORD

CSRF = re.compile(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"')


def csrf_token(client, path: str) -> str:
    html = client.get(path).get_data(as_text=True)
    match = CSRF.search(html)
    assert match, f"no CSRF token on {path}"
    return match.group(1)


def post_form(client, path: str, data: dict, *, form_path: str | None = None, **kwargs):
    """POST `data` to `path` with the CSRF token taken from `form_path` (default: `path`)."""
    token = csrf_token(client, form_path or path)
    return client.post(path, data={"csrf_token": token, **data}, **kwargs)


def sign_in(client, email: str, password: str = PASSWORD, *, admin: bool = False):
    path = "/admin/login" if admin else "/login"
    response = post_form(client, path, {"email": email, "password": password})
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    return response


@contextmanager
def record_statements(engine) -> Iterator[list[str]]:
    """Every statement the database driver is asked to run on `engine`'s connections inside
    the block, whichever layer sends it (the ORM, Core, or a PrecompiledStatement on the
    DB-API cursor; engine events see only the first two). On SQLite this is SQLite's own trace,
    so it includes the BEGIN and COMMIT the driver adds; psycopg's implicit BEGIN is recorded as
    "BEGIN" when a statement runs outside autocommit on an idle connection."""
    statements: list[str] = []
    sqlite = engine.dialect.name == "sqlite"

    class RecordingCursor(psycopg.Cursor if not sqlite else object):
        def execute(self, query, params=None, **kwargs):
            status = self.connection.info.transaction_status
            if not self.connection.autocommit and status == psycopg.pq.TransactionStatus.IDLE:
                statements.append("BEGIN")
            statements.append(str(query))
            return super().execute(query, params, **kwargs)

    def start(dbapi_connection, _record, _proxy) -> None:
        if sqlite:
            dbapi_connection.set_trace_callback(statements.append)
        else:
            dbapi_connection.cursor_factory = RecordingCursor

    def stop(dbapi_connection, _record) -> None:
        if sqlite:
            dbapi_connection.set_trace_callback(None)
        else:
            dbapi_connection.cursor_factory = psycopg.Cursor

    event.listen(engine, "checkout", start)
    event.listen(engine, "checkin", stop)
    try:
        yield statements
    finally:
        event.remove(engine, "checkout", start)
        event.remove(engine, "checkin", stop)
