"""Work that must happen after a commit (sending an email, running a job).

`defer(session, task, **ids)` notes the task on the session; when that session commits, each
task is handed to the dispatcher the app or worker installed with `install_dispatcher`. If the
transaction rolls back, nothing is dispatched. The durable record is always a database row (an
email in `emails` with status queued, …), so a dispatcher outage delays work and a sweeper
dispatches it again: nothing is lost.
"""

from __future__ import annotations

import logging
from typing import Any, Protocol

from sqlalchemy import event
from sqlalchemy.orm import Session, sessionmaker

log = logging.getLogger(__name__)

_KEY = "paydesk.outbox"
_DISPATCHER = "paydesk.dispatcher"


class Dispatcher(Protocol):
    def dispatch(self, task: str, **ids: Any) -> None:
        """Start `task` with `ids` soon; may raise if the queue is unreachable."""


def defer(session: Session, task: str, **ids: Any) -> None:
    session.info.setdefault(_KEY, []).append((task, ids))


def install_dispatcher(factory: sessionmaker, dispatcher: Dispatcher) -> None:
    """Dispatch deferred tasks after every commit of sessions made by `factory` (and give its
    sessions the dispatcher for dispatch_now)."""
    factory.configure(info={**(factory.kw.get("info") or {}), _DISPATCHER: dispatcher})

    @event.listens_for(factory, "after_commit")
    def _after_commit(session: Session) -> None:
        pending = session.info.pop(_KEY, [])
        for task, ids in pending:
            _safe_dispatch(dispatcher, task, ids)

    @event.listens_for(factory, "after_soft_rollback")
    def _after_rollback(session: Session, _previous) -> None:
        if not session.in_transaction():
            session.info.pop(_KEY, None)


def dispatch_now(session: Session, task: str, **ids: Any) -> None:
    """Start `task` for work whose row is already committed outside the session's transaction
    (an autocommitted statement on a connection of its own): at once, with the dispatcher of
    the session's factory; nothing for a session whose factory has none. Never raises: when
    the queue is down the sweeper finds the row."""
    dispatcher = session.info.get(_DISPATCHER)
    if dispatcher is not None:
        _safe_dispatch(dispatcher, task, ids)


def _safe_dispatch(dispatcher: Dispatcher, task: str, ids: dict[str, Any]) -> None:
    try:
        dispatcher.dispatch(task, **ids)
    except Exception:
        # The row stays queued; the sweeper dispatches it again when the queue is back.
        log.warning("could not dispatch %s %s; the sweeper will retry", task, ids, exc_info=True)
