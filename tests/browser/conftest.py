"""Browser tests: Debian's Chromium driven by Playwright (pytest-playwright) against the real
app served by werkzeug on a free loopback port, with a real SMTP server for its email.

Every test here is marked `browser`. Without Chromium or Playwright the whole folder is skipped
with the reason in the `-ra` summary (never `playwright install`: see ../shared/TESTING.md).
Each test gets a fresh browser context whose base_url is its own live server, so
`page.goto("/login")` works. `shot("step")` saves a full-page screenshot to
test-artifacts/screenshots/<test>-<step>.png, which CI keeps.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import ROOT, free_port

HERE = Path(__file__).resolve().parent
SCREENSHOTS = Path(ROOT) / "test-artifacts" / "screenshots"
HOME = re.compile(r"^http://127\.0\.0\.1:\d+/$")
LOGIN = re.compile(r"^http://127\.0\.0\.1:\d+/login(\?.*)?$")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]


def _chromium() -> str | None:
    """PAYDESK_TEST_CHROMIUM if set, else Debian's /usr/bin/chromium, else `chromium` on PATH."""
    chosen = os.environ.get("PAYDESK_TEST_CHROMIUM")
    if chosen:
        return chosen if os.access(chosen, os.X_OK) else None
    if os.access("/usr/bin/chromium", os.X_OK):
        return "/usr/bin/chromium"
    return shutil.which("chromium")


def _unavailable() -> str | None:
    """Why the browser tests cannot run here, or None when they can."""
    for module, package in (("playwright.sync_api", "playwright"),
                            ("pytest_playwright", "pytest-playwright")):
        try:
            found = importlib.util.find_spec(module) is not None
        except ImportError:
            found = False
        if not found:
            return f"browser tests skipped: {package} is not installed (pip install -e '.[dev]')"
    if not _chromium():
        where = os.environ.get("PAYDESK_TEST_CHROMIUM") or "/usr/bin/chromium or on PATH"
        return (f"browser tests skipped: Chromium not found at {where} "
                "(apt-get install -y chromium; never `playwright install`)")
    return None


UNAVAILABLE = _unavailable()
# pytest-playwright's fallback `base_url` fixture (used when pytest-base-url is absent) is a
# session fixture defined as an instance method, which pytest 9 warns about. Not ours to fix.
PLUGIN_WARNING = (
    "ignore:Session-scoped fixtures defined as instance methods:pytest.PytestRemovedIn10Warning"
)


@pytest.hookimpl(tryfirst=True)  # before `-m` selection, so `-m "not browser"` works
def pytest_collection_modifyitems(config, items):
    reason = UNAVAILABLE
    if not reason and not config.pluginmanager.has_plugin("playwright"):
        reason = "browser tests skipped: pytest-playwright is disabled (-p no:playwright)"
    skip = pytest.mark.skip(reason=reason) if reason else None
    for item in items:
        if HERE in Path(str(item.path)).resolve().parents:
            item.add_marker(pytest.mark.browser)
            item.add_marker(pytest.mark.filterwarnings(PLUGIN_WARNING))
            if skip:
                item.add_marker(skip)


# --- the browser -------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict) -> dict:
    """pytest-playwright's options (--headed, --slowmo) plus Debian's Chromium and its flags."""
    args = list(CHROMIUM_ARGS)
    if browser_type_launch_args.get("headless") is False:
        args.remove("--headless")
    return {**browser_type_launch_args, "executable_path": _chromium(), "args": args}


@pytest.fixture
def browser_context_args(browser_context_args: dict, live_server: LiveServer) -> dict:
    """Every context (one per test) talks to this test's live server: page.goto("/login")."""
    return {**browser_context_args, "base_url": live_server.url, "locale": "en-US"}


# --- the live app ------------------------------------------------------------------------------


@dataclass
class LiveServer:
    url: str
    port: int


@pytest.fixture
def live_port() -> int:
    return free_port()


@pytest.fixture
def settings_overrides(live_port, smtp) -> dict:
    """base_url must be known before create_app (emailed links use it), so the port comes first."""
    smtp_url, _mailbox = smtp
    return {"base_url": f"http://127.0.0.1:{live_port}", "smtp_url": smtp_url}


@pytest.fixture
def mailbox(smtp):
    return smtp[1]


@pytest.fixture
def live_server(app, live_port) -> Iterator[LiveServer]:
    """The real app on 127.0.0.1:<live_port>, threaded, in a daemon thread; stopped after."""
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", live_port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    yield LiveServer(url=f"http://127.0.0.1:{live_port}", port=live_port)
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


# --- screenshots -------------------------------------------------------------------------------


@pytest.fixture
def shot(request) -> Callable[..., Path]:
    """shot("step") saves a full-page screenshot of `page` (or of the page passed in)."""
    name = re.sub(r"[^A-Za-z0-9_.-]+", "-", request.node.originalname).strip("-")

    def take(step: str, target=None) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{name}-{step}.png"
        (target or request.getfixturevalue("page")).screenshot(path=str(path), full_page=True)
        return path

    return take


# --- signing in through the UI ------------------------------------------------------------------


@pytest.fixture
def sign_in_with_password(page) -> Callable[..., None]:
    """Fill the sign-in form as a person would and wait to land on the home page."""
    from tests.factories import PASSWORD

    def sign_in(email: str, password: str = PASSWORD) -> None:
        page.goto("/login")
        page.get_by_label("Email").fill(email)
        page.get_by_label("Password").fill(password)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(HOME)

    return sign_in
