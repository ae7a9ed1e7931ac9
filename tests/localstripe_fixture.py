"""localstripe for the whole suite: a fake Stripe server run from Python on 127.0.0.1, state in
memory, reached through the real stripe SDK over HTTP (see ../shared/TESTING.md).

- `localstripe_server` (session): starts it once in a daemon thread on a free port.
- `localstripe` (function): the same server, emptied before and after the test (all objects
  and registered webhooks), so tests never see each other's customers or payments.
- `stripe_overrides(base_url)`: the settings that point an app at it with test keys.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from devtools.localstripe_server import Handle, start_in_thread

TEST_SECRET_KEY = "sk_test_paydesk_tests"
TEST_PUBLISHABLE_KEY = "pk_test_paydesk_tests"
TEST_WEBHOOK_SECRET = "whsec_paydesk_tests_0123456789"
TEST_ENCRYPTION_KEY = "Wn4vJGmNkyt1Yzpl4Zk8zv9bS4mCkq2QkOFD6M1x2Sg="


def pytest_configure(config) -> None:
    # localstripe registers plain functions as aiohttp handlers; aiohttp warns on every call.
    config.addinivalue_line(
        "filterwarnings", "ignore:Bare functions are deprecated:DeprecationWarning"
    )


def stripe_overrides(base_url: str) -> dict:
    """Settings overrides for an app (or a worker's environment) that uses localstripe."""
    return {
        "stripe_api_base": base_url,
        "stripe_js_url": f"{base_url}/js.stripe.com/v3/",
        "stripe_secret_key": TEST_SECRET_KEY,
        "stripe_publishable_key": TEST_PUBLISHABLE_KEY,
        "stripe_webhook_secret": TEST_WEBHOOK_SECRET,
        "encryption_keys": (TEST_ENCRYPTION_KEY,),
    }


@pytest.fixture(scope="session")
def localstripe_server() -> Iterator[Handle]:
    handle = start_in_thread()
    yield handle
    handle.stop()


@pytest.fixture
def localstripe(localstripe_server: Handle) -> Iterator[Handle]:
    localstripe_server.clear()
    yield localstripe_server
    localstripe_server.clear()
