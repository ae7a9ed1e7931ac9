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
from billing.outbox import Dispatcher
from config import Settings


@dataclass(frozen=True)
class Runtime:
    settings: Settings
    session_factory: sessionmaker
    dispatcher: Dispatcher


_current: Runtime | None = None


def configure(
    settings: Settings,
    session_factory: sessionmaker | None = None,
    dispatcher: Dispatcher | None = None,
) -> Runtime:
    """Set this process's runtime and return it. Without `session_factory` one is built from
    settings.database_url; without `dispatcher` the one settings call for (RQ with a Redis URL,
    in-process otherwise). Calling it again replaces the previous runtime (tests build many
    apps). Raises nothing for unreachable services: nothing connects here."""
    global _current
    if session_factory is None:
        session_factory = make_session_factory(make_engine(settings.database_url))
    if dispatcher is None:
        from workers.dispatch import make_dispatcher

        dispatcher = make_dispatcher(settings)
    _current = Runtime(settings, session_factory, dispatcher)
    return _current


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
