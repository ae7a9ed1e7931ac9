"""Paydesk's command line, for setting up a database outside the web process.

    python manage.py migrate                     # alembic upgrade head on PAYDESK_DATABASE_URL
    python manage.py seed                        # demo data (does nothing if accounts exist)
    python manage.py create-staff EMAIL --role admin   # a staff sign-in for a real install

Settings come from Settings.from_env() like the app's, so PAYDESK_SECRET_KEY must be set here
too: one rule for every entry point, and a misconfigured environment fails before it touches a
database. No Flask app is created; these commands only need the database.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import click
from sqlalchemy import event, inspect, select
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.orm import Session

from billing.clock import utcnow
from billing.db import make_engine
from billing.models import StaffRole, StaffUser
from billing.passwords import hash_password, password_problem
from billing.services.auth import normalize_email
from config import ConfigError, Settings

ROOT = Path(__file__).resolve().parent
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def _settings() -> Settings:
    try:
        return Settings.from_env()
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None


def _shown(url: str) -> str:
    """The database URL without its password, for messages."""
    return make_url(url).render_as_string(hide_password=True)


def _ensure_sqlite_dir(url: str) -> None:
    """Create the folder of a SQLite file (e.g. instance/) so a fresh clone can migrate."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)


def _engine(settings: Settings) -> Engine:
    _ensure_sqlite_dir(settings.database_url)
    return make_engine(settings.database_url)


def _require_schema(bind: Engine | Connection, url: str) -> None:
    if not inspect(bind).has_table("accounts"):
        raise click.ClickException(
            f"{_shown(url)} has no Paydesk tables yet: run `python manage.py migrate` first."
        )


@contextmanager
def _one_transaction(engine: Engine) -> Iterator[Session]:
    """A session whose commits are savepoints inside one outer transaction.

    The services commit after each step; here those commits only release savepoints, and the
    outer transaction commits when the block ends (or rolls everything back on an error). So a
    seed that fails halfway leaves an empty database that the next run seeds again, instead of
    half the demo that the idempotency check would then keep forever (audit entries cannot be
    deleted).

    SQLite through pysqlite needs SQLAlchemy's documented recipe for this: turn off the
    driver's own transaction handling and emit BEGIN ourselves, otherwise releasing the first
    savepoint would commit. BEGIN IMMEDIATE takes the write lock up front, so two seeds started
    together run one after the other and the second finds the data present.
    """
    if engine.dialect.name == "sqlite":
        engine.dispose()  # the recipe must see every connection from its first use

        @event.listens_for(engine, "connect")
        def _driver_does_not_begin(dbapi_connection, _record):
            dbapi_connection.isolation_level = None

        @event.listens_for(engine, "begin")
        def _begin_immediate(connection):
            connection.exec_driver_sql("BEGIN IMMEDIATE")

    with engine.connect() as connection, connection.begin():
        session = Session(
            bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
        )
        try:
            yield session
        finally:
            session.close()


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def cli() -> None:
    """Set up a Paydesk database: migrate, seed demo data, create staff users."""


@cli.command()
def migrate() -> None:
    """Bring the database schema up to date (alembic upgrade head). Safe to run again."""
    from alembic import command
    from alembic.config import Config

    settings = _settings()
    engine = _engine(settings)
    config = Config(str(ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(ROOT / "migrations"))
    try:
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
    finally:
        engine.dispose()
    click.echo(f"Database {_shown(settings.database_url)} is up to date.")


@cli.command()
@click.option(
    "--now", "now_text", metavar="ISO-INSTANT",
    help="Seed as of this instant (e.g. 2026-11-20T12:00:00Z) instead of the current time.",
)
def seed(now_text: str | None) -> None:
    """Load the demo business (accounts, users, a year of invoices and payments).

    Idempotent: when any account exists it changes nothing.
    """
    from billing.seed import SIGN_INS, seed_demo  # Pillow and the demo tables load only here

    settings = _settings()
    now = _parse_now(now_text) if now_text else utcnow()
    engine = _engine(settings)
    try:
        with _one_transaction(engine) as session:
            _require_schema(session.connection(), settings.database_url)
            summary = seed_demo(session, now=now)
    finally:
        engine.dispose()
    if summary is None:
        click.echo("Demo data already present; leaving it as it is.")
        return
    for line in summary.lines():
        click.echo(line)
    for realm, email, password in SIGN_INS:
        click.echo(f"Sign in ({realm}): {email} / {password}")


def _parse_now(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise click.BadParameter(
            f"{text!r} is not an ISO date and time", param_hint="--now"
        ) from None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


@cli.command("create-staff")
@click.argument("email")
@click.option(
    "--role", type=click.Choice([role.value for role in StaffRole]), default=StaffRole.ADMIN.value,
    show_default=True, help="What the person may do in the admin.",
)
@click.option("--name", default="", help="Full name shown in the admin and the audit log.")
def create_staff(email: str, role: str, name: str) -> None:
    """Create a staff user who signs in at /admin/login (for a production setup).

    The password is read from PAYDESK_NEW_PASSWORD when set (scripts, CI), otherwise asked for
    twice on the terminal; it is never taken as an argument, where it would land in the shell
    history and the process list.
    """
    settings = _settings()
    address = normalize_email(email)
    if not EMAIL.match(address):
        raise click.BadParameter(f"{email!r} is not an email address", param_hint="EMAIL")
    password = os.environ.get("PAYDESK_NEW_PASSWORD")
    if not password:
        if not sys.stdin.isatty():
            raise click.ClickException(
                "No terminal to ask for a password on: set PAYDESK_NEW_PASSWORD."
            )
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    problem = password_problem(password)
    if problem:
        raise click.ClickException(f"That password will not do: {problem}")
    engine = _engine(settings)
    try:
        _require_schema(engine, settings.database_url)
        with Session(engine) as session:
            if session.scalar(select(StaffUser.id).where(StaffUser.email == address)):
                raise click.ClickException(
                    f"A staff user {address} already exists; use “Forgot your password?” "
                    "on /admin/login to change their password."
                )
            session.add(
                StaffUser(
                    email=address, name=name.strip(), role=StaffRole(role),
                    password_hash=hash_password(password), created_at=utcnow(),
                )
            )
            session.commit()
    finally:
        engine.dispose()
    click.echo(f"Created {role} {address}. Sign in at {settings.base_url.rstrip('/')}/admin/login")


@cli.command("rotate-keys")
def rotate_keys() -> None:
    """Re-encrypt the stored processor secrets with the first key of PAYDESK_ENCRYPTION_KEYS.

    Rotation: put a new key first in PAYDESK_ENCRYPTION_KEYS (keep the old ones after it),
    run this, then remove the old keys. Safe to run again.
    """
    from billing.secrets import Cipher, SecretsUnavailable
    from billing.services.processor_settings import rotate_secrets

    settings = _settings()
    if not settings.encryption_keys:
        raise click.ClickException("PAYDESK_ENCRYPTION_KEYS is not set: nothing to rotate.")
    engine = _engine(settings)
    try:
        _require_schema(engine, settings.database_url)
        with Session(engine) as session:
            count = rotate_secrets(
                session, cipher=Cipher(settings.encryption_keys), now=utcnow(), actor="system"
            )
    except SecretsUnavailable as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        engine.dispose()
    click.echo(f"Re-encrypted {count} stored secret{'s' if count != 1 else ''} with the first key.")


if __name__ == "__main__":
    cli()
