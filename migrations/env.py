"""Alembic environment: the URL is PAYDESK_DATABASE_URL, or a connection passed in by code
(tests and `python -m web.manage migrate` hand one over via config.attributes)."""

import os
from logging.config import fileConfig

from alembic import context

import billing.models  # noqa: F401  (complete metadata)
from billing.db import Base, make_engine
from config import DEFAULT_DATABASE_URL

config = context.config
if config.config_file_name and config.attributes.get("configure_logger", True):
    fileConfig(config.config_file_name, disable_existing_loggers=False)


def _configure(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )


connection = config.attributes.get("connection")
if connection is not None:
    _configure(connection)
    with context.begin_transaction():
        context.run_migrations()
else:
    engine = make_engine(os.environ.get("PAYDESK_DATABASE_URL", DEFAULT_DATABASE_URL))
    with engine.connect() as conn:
        _configure(conn)
        with context.begin_transaction():
            context.run_migrations()
