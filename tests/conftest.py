"""Test harness.

Database: SQLite by default (each test gets a copy of one migrated template file); PostgreSQL
when TEST_DATABASE_URL is set (CI): the suite creates its own database `<name>` (dropping a
previous one), migrates it once with Alembic, and truncates every table after each test. Both
paths run the real migration chain, so tests also prove it builds the schema.

Jobs run in-process unless a test asks for Redis (see tests/workers). Email goes to a real SMTP
server (aiosmtpd) when a test uses the `smtp` fixture.
"""

from __future__ import annotations

import os
import shutil
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

import billing.models  # noqa: F401
from billing.db import Base, make_engine
from config import Settings
from tests import factories

pytest_plugins = ["tests.localstripe_fixture"]

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SECRET = "test-secret-key-that-is-long-enough-0123456789"
POSTGRES_URL = os.environ.get("TEST_DATABASE_URL")
REDIS_URL = os.environ.get("REDIS_URL")


def migrate(url: str) -> None:
    config = Config(os.path.join(ROOT, "alembic.ini"))
    config.set_main_option("script_location", os.path.join(ROOT, "migrations"))
    config.attributes["configure_logger"] = False
    engine = make_engine(url)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
    engine.dispose()


def pytest_report_header(config):
    lines = [
        "database: "
        + (
            f"PostgreSQL ({make_url(POSTGRES_URL).render_as_string()})"
            if POSTGRES_URL
            else "SQLite (set TEST_DATABASE_URL for PostgreSQL)"
        ),
        "redis: " + (REDIS_URL if REDIS_URL else "not set: Redis/RQ tests are skipped"),
    ]
    return lines


@pytest.fixture(scope="session")
def database_template(tmp_path_factory) -> str:
    """A migrated database: a template file for SQLite, the test database for PostgreSQL."""
    if POSTGRES_URL:
        url = make_url(POSTGRES_URL)
        admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{url.database}"'))
        admin.dispose()
        migrate(POSTGRES_URL)
        return POSTGRES_URL
    path = tmp_path_factory.mktemp("db") / "template.db"
    migrate(f"sqlite:///{path}")
    return str(path)


@pytest.fixture
def database_url(database_template, tmp_path) -> Iterator[str]:
    if POSTGRES_URL:
        yield POSTGRES_URL
        engine = create_engine(POSTGRES_URL)
        tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
        with engine.begin() as conn:
            # A test that leaves a response unread (a streamed CSV) can leave a connection idle
            # in a transaction; end such leftovers so the truncate never waits on their locks.
            conn.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = "
                    "current_database() AND pid <> pg_backend_pid() AND state LIKE 'idle in%'"
                )
            )
            conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
        engine.dispose()
    else:
        path = tmp_path / "paydesk.db"
        shutil.copyfile(database_template, path)
        yield f"sqlite:///{path}"


@pytest.fixture
def settings_overrides() -> dict:
    """Override in a test module to change settings for its app."""
    return {}


@pytest.fixture
def settings(database_url, settings_overrides) -> Settings:
    values = {
        "secret_key": SECRET,
        "database_url": database_url,
        "base_url": "http://localhost",
        "testing": True,
    } | settings_overrides
    return Settings(**values)


@pytest.fixture
def app(settings):
    from web.app import create_app

    application = create_app(settings)
    yield application
    from web.extensions import db

    db.factory.kw["bind"].dispose()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def session(app):
    """A session for arranging and checking data, from the app's own factory."""
    from web.extensions import db

    with db.factory() as db_session:
        yield db_session


@pytest.fixture
def make(session):
    """Factories bound to the test's session: make.account(), make.invoice(...), …"""
    return factories.Factories(session)


# --- email -----------------------------------------------------------------------------------


@dataclass
class Mailbox:
    messages: list[EmailMessage] = field(default_factory=list)

    def to(self, address: str) -> list[EmailMessage]:
        return [m for m in self.messages if address in m["To"]]


class _Handler:
    def __init__(self, mailbox: Mailbox) -> None:
        self.mailbox = mailbox

    async def handle_DATA(self, server, session, envelope):
        self.mailbox.messages.append(
            message_from_bytes(envelope.original_content or envelope.content, policy=policy.default)
        )
        return "250 OK"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def smtp() -> Iterator[tuple[str, Mailbox]]:
    """A real SMTP server on a free loopback port: (smtp_url, mailbox)."""
    from aiosmtpd.controller import Controller

    mailbox = Mailbox()
    port = free_port()
    controller = Controller(_Handler(mailbox), hostname="127.0.0.1", port=port)
    controller.start()
    yield f"smtp://127.0.0.1:{port}", mailbox
    controller.stop()
