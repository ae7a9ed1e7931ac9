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
from sqlalchemy.orm import DeclarativeBase, sessionmaker
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

    For the one path where SQLAlchemy's per-execution work (the statement's cache key, the
    execution context, the result wrapper) costs more CPU than the database itself: webhook
    intake, which answers every delivery with one INSERT (bench/webhooks.py). `build(dialect)`
    makes the statement (dialects have their own INSERT … ON CONFLICT constructs); its bound
    parameters must be named after `columns`. Values go through the bind processors of the
    columns' types, as a Core execution would pass them, so the rows are the same as an ORM
    insert's. Raises the driver's errors (psycopg.Error, sqlite3.Error) unwrapped."""

    def __init__(self, build: Callable[[Dialect], Any], columns: Mapping[str, Any]) -> None:
        self.build = build
        self.columns = columns
        self._by_dialect: dict[Dialect, tuple[str, tuple[str, ...], bool, dict]] = {}

    def _compiled(self, dialect: Dialect) -> tuple[str, tuple[str, ...], bool, dict]:
        if dialect in self._by_dialect:
            return self._by_dialect[dialect]
        compiled = self.build(dialect).compile(dialect=dialect)
        names = tuple(compiled.positiontup or compiled.binds)
        processors = {}
        for name in names:
            processor = self.columns[name].type.dialect_impl(dialect).bind_processor(dialect)
            if processor is not None:
                processors[name] = processor
        found = compiled.string, names, bool(compiled.positiontup), processors
        self._by_dialect[dialect] = found
        return found

    def execute_autocommit(self, engine: Engine, values: Mapping[str, Any]) -> list[tuple]:
        """Run the statement on a pooled connection of its own in autocommit (durable when it
        returns, one round trip) and return its rows. A disconnect invalidates the connection
        before the driver's error is raised."""
        dialect = engine.dialect
        sql, names, positional, processors = self._compiled(dialect)
        params = {
            name: processors[name](values[name]) if name in processors else values[name]
            for name in names
        }
        connection = engine.raw_connection()
        dbapi_connection = connection.dbapi_connection
        try:
            dialect.set_isolation_level(dbapi_connection, "AUTOCOMMIT")
            cursor = dbapi_connection.cursor()
            try:
                cursor.execute(sql, tuple(params.values()) if positional else params)
                return cursor.fetchall()
            finally:
                cursor.close()
        except dialect.loaded_dbapi.Error as exc:
            if dialect.is_disconnect(exc, dbapi_connection, None):
                connection.invalidate(exc)
            raise
        finally:
            if connection.is_valid:
                dialect.reset_isolation_level(dbapi_connection)
            connection.close()
