"""What a job needs to run: the settings, a session factory and the job dispatcher, configured
once per process by create_app (in-process jobs) or the worker entry point (RQ workers).

Jobs reach them through `current()` rather than importing the web app, so workers never import
Flask. Configuring opens no connection: the engine and the Redis client connect on first use,
which also keeps a forking RQ worker from sharing sockets with its work-horses.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy.orm import Session, sessionmaker

from billing.db import make_engine, make_session_factory
from billing.gateways.base import PaymentGateway
from billing.outbox import Dispatcher
from billing.secrets import Cipher
from billing.services.processor_settings import EnvKeys, KeyStore
from config import Settings


@dataclass(frozen=True)
class Runtime:
    settings: Settings
    session_factory: sessionmaker
    dispatcher: Dispatcher
    keys: KeyStore
    gateway: PaymentGateway


_current: Runtime | None = None


def configure(
    settings: Settings,
    session_factory: sessionmaker | None = None,
    dispatcher: Dispatcher | None = None,
    gateway: PaymentGateway | None = None,
) -> Runtime:
    """Set this process's runtime and return it. Without `session_factory` one is built from
    settings.database_url; without `dispatcher` the one settings call for (RQ with a Redis URL,
    in-process otherwise); without `gateway` the Stripe gateway on settings.stripe_api_base,
    with keys from the environment or the database. Calling it again replaces the previous
    runtime (tests build many apps). Raises nothing for unreachable services: nothing
    connects here."""
    global _current
    if session_factory is None:
        session_factory = make_session_factory(make_engine(settings.database_url))
    if dispatcher is None:
        from workers.dispatch import make_dispatcher

        dispatcher = make_dispatcher(settings)
    keys = make_key_store(settings, session_factory)
    if gateway is None:
        gateway = make_gateway(settings, keys)
    _current = Runtime(settings, session_factory, dispatcher, keys, gateway)
    return _current


def make_key_store(settings: Settings, session_factory: sessionmaker) -> KeyStore:
    """Processor keys: PAYDESK_STRIPE_* variables first, else the encrypted database row."""
    env = EnvKeys(
        secret_key=settings.stripe_secret_key,
        publishable_key=settings.stripe_publishable_key,
        webhook_secret=settings.stripe_webhook_secret,
    )
    return KeyStore(session_factory, env, Cipher(settings.encryption_keys))


def make_gateway(settings: Settings, keys: KeyStore) -> PaymentGateway:
    """The Stripe gateway (the only processor so far) at settings.stripe_api_base."""
    from billing.gateways.stripe_gateway import StripeGateway

    return StripeGateway(api_base=settings.stripe_api_base, secret_key=keys.secret_key)


def current() -> Runtime:
    """The configured runtime; raises RuntimeError if `configure` was never called here."""
    if _current is None:
        raise RuntimeError("workers.runtime.configure() has not been called in this process")
    return _current


@contextmanager
def session() -> Iterator[Session]:
    """A new session from the runtime's factory, closed on exit (jobs commit through services)."""
    with current().session_factory() as db_session:
        yield db_session
