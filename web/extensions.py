"""Extensions bound to the app in create_app with init_app."""

from __future__ import annotations

from flask import Flask, current_app, g, has_request_context, request
from flask_login import LoginManager
from flask_wtf import CSRFProtect
from sqlalchemy import event
from sqlalchemy.orm import ORMExecuteState, Session, sessionmaker

csrf = CSRFProtect()
login_manager = LoginManager()

READ_ONLY_METHODS = frozenset({"GET", "HEAD"})


def read_only(view):
    """Mark a view that only reads: on GET and HEAD its request's session (the user loader's
    query included) runs each statement on its own in autocommit, which spares the BEGIN and
    ROLLBACK round trips of a transaction that never writes (measured: half the database's
    CPU per portal invoice list). The session refuses to write (ReadOnlySession)."""
    view.paydesk_read_only = True
    return view


class ReadOnlySession(Session):
    """A session for read-only views: flushing changes or running INSERT/UPDATE/DELETE raises,
    so nothing can be written piecemeal outside a transaction."""


@event.listens_for(ReadOnlySession, "before_flush")
def _refuse_flush(session, _context, _instances) -> None:
    raise RuntimeError("a read-only view tried to write (it is marked @read_only)")


@event.listens_for(ReadOnlySession, "do_orm_execute")
def _refuse_dml(state: ORMExecuteState) -> None:
    if state.is_insert or state.is_update or state.is_delete:
        raise RuntimeError("a read-only view tried to write (it is marked @read_only)")


class Database:
    """One SQLAlchemy session per request (or app context), closed at teardown."""

    def __init__(self) -> None:
        self.factory: sessionmaker | None = None
        self.read_only_factory: sessionmaker | None = None

    def init_app(self, app: Flask, factory: sessionmaker) -> None:
        self.factory = factory
        # The same pool; the connection is switched to autocommit for the checkout only.
        autocommit = factory.kw["bind"].execution_options(isolation_level="AUTOCOMMIT")
        self.read_only_factory = sessionmaker(
            bind=autocommit, class_=ReadOnlySession, expire_on_commit=False
        )
        app.extensions["paydesk.db"] = self
        app.teardown_appcontext(self.close_request_session)

    @property
    def session(self) -> Session:
        if "db_session" not in g:
            g.db_session = (self.read_only_factory if _read_only_request() else self.factory)()
        return g.db_session

    @staticmethod
    def close_request_session(_exc: BaseException | None = None) -> None:
        """Close this request's (or app context's) session, if one was made (a teardown)."""
        session = g.pop("db_session", None)
        if session is not None:
            session.close()


def _read_only_request() -> bool:
    """A GET or HEAD request routed to a view marked @read_only."""
    if not has_request_context() or request.method not in READ_ONLY_METHODS:
        return False
    view = current_app.view_functions.get(request.endpoint or "")
    return getattr(view, "paydesk_read_only", False)


db = Database()
