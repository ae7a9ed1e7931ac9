"""Extensions bound to the app in create_app with init_app."""

from __future__ import annotations

from flask import Flask, g
from flask_login import LoginManager
from flask_wtf import CSRFProtect
from sqlalchemy.orm import Session, sessionmaker

csrf = CSRFProtect()
login_manager = LoginManager()


class Database:
    """One SQLAlchemy session per request (or app context), closed at teardown."""

    def __init__(self) -> None:
        self.factory: sessionmaker | None = None

    def init_app(self, app: Flask, factory: sessionmaker) -> None:
        self.factory = factory
        app.extensions["paydesk.db"] = self
        app.teardown_appcontext(self._close)

    @property
    def session(self) -> Session:
        if "db_session" not in g:
            g.db_session = self.factory()
        return g.db_session

    @staticmethod
    def _close(_exc: BaseException | None) -> None:
        session = g.pop("db_session", None)
        if session is not None:
            session.close()


db = Database()
