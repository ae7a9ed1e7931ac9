"""Database plumbing: the declarative Base (with a constraint naming convention so Alembic
migrations are stable across PostgreSQL and SQLite), engines and session factories.

Importing this module opens no connection.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import BigInteger, DateTime, Integer, MetaData, create_engine, event
from sqlalchemy.engine import Dialect, Engine
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.sql.expression import Executable
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# BIGINT primary keys on PostgreSQL, INTEGER (the rowid alias) on SQLite.
BigIntPK = BigInteger().with_variant(Integer(), "sqlite")


class UTCDateTime(TypeDecorator):
    """A timezone-aware UTC instant on every backend (SQLite stores naive text)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored; pass an aware UTC instant")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def make_engine(url: str, **kwargs) -> Engine:
    """An engine for `url`; SQLite gets foreign keys, WAL and a busy timeout for threads."""
    if url.startswith("sqlite"):
        kwargs.setdefault("connect_args", {"timeout": 30, "check_same_thread": False})
        engine = create_engine(url, **kwargs)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record):
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.close()

        return engine
    engine = create_engine(url, **kwargs)
    _ping_idle_connections(engine)
    return engine


PING_IDLE_AFTER = 2.0  # seconds a pooled connection may rest before it is pinged on checkout


def _ping_idle_connections(engine: Engine) -> None:
    """Pessimistic disconnect handling that costs nothing under load: a connection is pinged on
    checkout only when it rested in the pool for PING_IDLE_AFTER seconds or more (a database
    restart or an idle timeout on the way happens while connections rest). A failed ping
    raises DisconnectionError, on which the pool discards that connection and hands out a
    fresh one (SQLAlchemy's PoolEvents.checkout contract). pool_pre_ping would ping on every
    checkout: a round trip per request, measured at about 10% of the webhook endpoint."""

    @event.listens_for(engine, "checkin")
    def _rested_from(_dbapi_connection, record) -> None:
        record.info["checked_in_at"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _ping_if_rested(dbapi_connection, record, _proxy) -> None:
        checked_in_at = record.info.get("checked_in_at")
        if checked_in_at is None or time.monotonic() - checked_in_at < PING_IDLE_AFTER:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except Exception as exc:
            raise DisconnectionError("the pooled connection no longer answers") from exc


def make_session_factory(engine: Engine) -> sessionmaker:
    """Sessions whose objects stay usable after commit (views render after services commit)."""
    return sessionmaker(bind=engine, expire_on_commit=False)


class PrecompiledStatement:
    """A Core statement compiled once per dialect and run straight on the DB-API cursor.

    For the few paths where SQLAlchemy's per-execution work (the statement's cache key, the
    execution context, the result wrapper) costs more CPU than the database itself: webhook
    intake, which answers every delivery with one INSERT (bench/webhooks.py), and the queries
    every signed-in portal page or the invoice list sends (bench/portal.py). `statement` is the
    Core statement, or a function of the dialect that makes it (dialects have their own
    INSERT … ON CONFLICT constructs). Values go through the bind processors of the bound
    parameters' types and result rows through the result processors of the selected columns'
    types, as a Core execution would, so what is stored and read is the same as through the
    ORM. Unnamed parameters (literals in the statement) keep their values. Statements that
    need per-execution compilation (expanding IN, literal_execute) are refused (ValueError).
    Engine events do not see these executions. Raises the driver's errors (psycopg.Error,
    sqlite3.Error) unwrapped; a disconnect invalidates the connection first."""

    def __init__(self, statement: Executable | Callable[[Dialect], Executable]) -> None:
        self._build = statement if callable(statement) else lambda _dialect: statement
        self._by_dialect: dict[Dialect, _Compiled] = {}

    def rows(self, session: Session, values: Mapping[str, Any]) -> list[tuple]:
        """Run on the session's connection, inside its transaction (or on its own, for a
        session bound in autocommit), and return the processed rows."""
        connection = session.connection()
        return self._run(
            connection.dialect,
            connection.connection.dbapi_connection,
            connection.invalidate,
            values,
        )

    def execute_autocommit(self, engine: Engine, values: Mapping[str, Any]) -> list[tuple]:
        """Run the statement on a pooled connection of its own in autocommit (durable when it
        returns, one round trip) and return its rows."""
        dialect = engine.dialect
        connection = engine.raw_connection()
        dbapi_connection = connection.dbapi_connection
        try:
            dialect.set_isolation_level(dbapi_connection, "AUTOCOMMIT")
            return self._run(dialect, dbapi_connection, connection.invalidate, values)
        finally:
            if connection.is_valid:
                dialect.reset_isolation_level(dbapi_connection)
            connection.close()

    def _run(self, dialect: Dialect, dbapi_connection, invalidate, values) -> list[tuple]:
        compiled = self._compiled(dialect)
        parameters = compiled.parameters(values)
        try:
            cursor = dbapi_connection.cursor()
            try:
                cursor.execute(compiled.sql, parameters)
                rows = cursor.fetchall() if compiled.returns_rows else []
            finally:
                cursor.close()
        except dialect.loaded_dbapi.Error as exc:
            if dialect.is_disconnect(exc, dbapi_connection, None):
                invalidate(exc)
            raise
        return compiled.processed(rows)

    def _compiled(self, dialect: Dialect) -> _Compiled:
        found = self._by_dialect.get(dialect)
        if found is None:
            found = self._by_dialect[dialect] = _Compiled(self._build(dialect), dialect)
        return found


class _Compiled:
    """One dialect's SQL string, parameter order, defaults and type processors."""

    def __init__(self, statement: Executable, dialect: Dialect) -> None:
        compiled = statement.compile(dialect=dialect)
        if compiled.literal_execute_params or compiled.post_compile_params:
            raise ValueError("PrecompiledStatement: the statement needs per-execution compiling")
        if getattr(compiled, "escaped_bind_names", None):
            raise ValueError("PrecompiledStatement: bound parameter names need escaping")
        binds = {name: bind for bind, name in compiled.bind_names.items()}
        self.sql = compiled.string
        self.returns_rows = bool(statement.exported_columns)
        self.names = tuple(compiled.positiontup or binds)
        self.unique_names = tuple(dict.fromkeys(self.names))
        self.positional = bool(compiled.positiontup)
        self.defaults = {
            name: bind.effective_value for name, bind in binds.items() if not bind.required
        }
        self.bind_processors = {}
        for name in self.unique_names:
            processor = binds[name].type.dialect_impl(dialect).bind_processor(dialect)
            if processor is not None:
                self.bind_processors[name] = processor
        self.result_processors = [
            (i, processor)
            for i, column in enumerate(statement.exported_columns)
            if (processor := column.type.dialect_impl(dialect).result_processor(dialect, None))
        ]

    def parameters(self, values: Mapping[str, Any]) -> tuple | dict:
        processors, defaults = self.bind_processors, self.defaults
        named = {}
        for name in self.unique_names:
            value = values[name] if name in values else defaults[name]
            named[name] = processors[name](value) if name in processors else value
        return tuple([named[name] for name in self.names]) if self.positional else named

    def processed(self, rows: list[tuple]) -> list[tuple]:
        processors = self.result_processors
        if not processors:
            return rows
        processed = []
        for row in rows:
            values = list(row)
            for i, processor in processors:
                values[i] = processor(values[i])
            processed.append(tuple(values))
        return processed
