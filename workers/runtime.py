"""What a job needs to run: the settings and a session factory, configured once per process by
create_app (in-process jobs) or the worker entry point (RQ workers)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy.orm import Session, sessionmaker

from billing.db import make_engine, make_session_factory
from config import Settings


@dataclass(frozen=True)
class Runtime:
    settings: Settings
    session_factory: sessionmaker


_current: Runtime | None = None


def configure(settings: Settings, session_factory: sessionmaker | None = None) -> Runtime:
    global _current
    if session_factory is None:
        session_factory = make_session_factory(make_engine(settings.database_url))
    _current = Runtime(settings, session_factory)
    return _current


def current() -> Runtime:
    if _current is None:
        raise RuntimeError("workers.runtime.configure() has not been called in this process")
    return _current


@contextmanager
def session() -> Iterator[Session]:
    with current().session_factory() as db_session:
        yield db_session
