"""The migration chain builds exactly the models' schema, and settings fail fast."""

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from billing.db import Base, make_engine
from config import ConfigError, Settings

SECRET = "s" * 40


def test_migrations_match_the_models(database_url):
    engine = make_engine(database_url)
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []
    engine.dispose()


def test_settings_need_a_real_secret():
    with pytest.raises(ConfigError, match="PAYDESK_SECRET_KEY is not set"):
        Settings.from_env({})
    with pytest.raises(ConfigError, match="at least 32"):
        Settings.from_env({"PAYDESK_SECRET_KEY": "short"})


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("PAYDESK_SMTP_URL", "mail.example:25", "PAYDESK_SMTP_URL"),
        ("PAYDESK_REDIS_URL", "localhost:6379", "PAYDESK_REDIS_URL"),
        ("PAYDESK_BASE_URL", "ftp://x", "PAYDESK_BASE_URL"),
        ("PAYDESK_SESSION_HOURS", "twelve", "PAYDESK_SESSION_HOURS"),
    ],
)
def test_bad_settings_name_the_variable(name, value, message):
    with pytest.raises(ConfigError, match=message):
        Settings.from_env({"PAYDESK_SECRET_KEY": SECRET, name: value})


def test_settings_derive_cookie_security_and_job_mode():
    demo = Settings.from_env({"PAYDESK_SECRET_KEY": SECRET})
    assert (demo.secure_cookies, demo.jobs_inline) == (False, True)
    prod = Settings.from_env(
        {
            "PAYDESK_SECRET_KEY": SECRET,
            "PAYDESK_BASE_URL": "https://billing.example",
            "PAYDESK_REDIS_URL": "redis://127.0.0.1:6379/0",
        }
    )
    assert (prod.secure_cookies, prod.jobs_inline) == (True, False)
    with pytest.raises(AttributeError):
        prod.secret_key = "changed"  # frozen
