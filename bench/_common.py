"""Pieces shared by the HTTP benchmarks (bench/portal.py, bench/webhooks.py, ...).

A benchmark here serves the real app and a bare Flask app (bench/bare_app.py) with the same
gunicorn settings, measures requests per second of each with wrk in alternating runs (the order
rotates every round so drift on the machine hits every target alike), and prints ratios of
medians. Ratios measured side by side in one run travel between machines; absolute numbers do
not.

    with ExitStack() as stack:
        bare = stack.enter_context(serve("bench.bare_app:app", workers=2))
        real = stack.enter_context(serve("wsgi:app", workers=2, env=app_env(url)))
        cookie = sign_in(real.base_url, email=..., password=...)
        runner = load_runner(duration=5)
        results = measure_alternating([Target("bare", bare.url("/")), ...], 3, runner)
        print_results(results)
        check_ratio(...)

Everything talks to 127.0.0.1 only; servers are killed (by their own process group) on exit.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import re
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from pathlib import Path
from urllib.parse import urlencode, urlsplit

ROOT = Path(__file__).resolve().parents[1]
SESSION_COOKIE = "paydesk_session"


class SetupError(RuntimeError):
    """The benchmark cannot run (server does not start, sign-in fails, page is wrong...)."""


def exit_on_sigterm() -> None:
    """Turn SIGTERM into SystemExit so `finally` blocks (which stop servers) still run."""
    signal.signal(signal.SIGTERM, lambda _signum, _frame: sys.exit(128 + signal.SIGTERM))


# --- database --------------------------------------------------------------------------------


def psycopg_conninfo(url: str) -> str:
    """A SQLAlchemy URL (postgresql+psycopg://...) as a libpq URL psycopg.connect accepts."""
    from sqlalchemy.engine import make_url

    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def ensure_database(url: str) -> bool:
    """Create the PostgreSQL database named in `url` if it does not exist; True if created."""
    import psycopg
    from psycopg import sql
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    admin = psycopg_conninfo(str(parsed.set(database="postgres")))
    with psycopg.connect(admin, autocommit=True) as conn:
        exists = conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", (parsed.database,)
        ).fetchone()
        if exists:
            return False
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(parsed.database)))
        return True


def migrations_fingerprint() -> str:
    """A hash of every migration file: changes when a migration is added or edited in place."""
    digest = hashlib.sha256()
    for path in sorted((ROOT / "migrations" / "versions").glob("*.py")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


def prepare_bench_database(url: str, *, rebuild: bool = False) -> tuple[bool, str]:
    """Make the database exist and be at Alembic head; returns (empty, what happened).

    A database whose name contains "bench" is disposable: it is dropped and re-created when
    `rebuild` is asked for, or when the migration files changed since it was built (the
    fingerprint is kept as the database's comment), because a migration edited in place is
    never re-applied by Alembic. Other databases are only created if missing and migrated.
    """
    import psycopg
    from psycopg import sql
    from sqlalchemy.engine import make_url

    name = make_url(url).database or ""
    disposable = "bench" in name
    fingerprint = migrations_fingerprint()
    note = f"paydesk bench; migrations {fingerprint}"
    try:
        created = ensure_database(url)
        stored = None
        if disposable and not created:
            with psycopg.connect(psycopg_conninfo(url)) as conn:
                stored = conn.execute(
                    "SELECT shobj_description(oid, 'pg_database') FROM pg_database"
                    " WHERE datname = current_database()"
                ).fetchone()[0]
        if created:
            what = "created"
        elif disposable and rebuild:
            recreate_database(url)
            what = "dropped and re-created (rebuild asked for)"
        elif disposable and stored != note:
            recreate_database(url)
            what = "dropped and re-created (the migration files changed since it was built)"
        else:
            what = "kept"
        migrate(url)
        if disposable:
            with psycopg.connect(psycopg_conninfo(url), autocommit=True) as conn:
                conn.execute(
                    sql.SQL("COMMENT ON DATABASE {} IS {}").format(
                        sql.Identifier(name), sql.Literal(note)
                    )
                )
    except psycopg.OperationalError as exc:
        raise SetupError(f"Cannot reach PostgreSQL at {make_url(url)}: {exc}") from exc
    return what != "kept", what


def recreate_database(url: str) -> None:
    """Drop (disconnecting its sessions) and create the database named in `url`: a disposable
    benchmark database then follows migrations even when one was edited in place."""
    import psycopg
    from psycopg import sql
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    admin = psycopg_conninfo(str(parsed.set(database="postgres")))
    name = sql.Identifier(parsed.database)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(name))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(name))


def migrate(url: str) -> None:
    """Bring the database to Alembic head (as tests/conftest.py does)."""
    from alembic import command
    from alembic.config import Config

    from billing.db import make_engine

    config = Config(str(ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(ROOT / "migrations"))
    config.attributes["configure_logger"] = False
    engine = make_engine(url)
    try:
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
    finally:
        engine.dispose()


# --- servers ---------------------------------------------------------------------------------


# gunicorn's advice for sync workers ((2 x cores) + 1): a worker that waits on the database
# leaves its core to another. With only one worker per core, whichever endpoint waits more is
# held back by the worker count rather than by what it costs, and the ratio measures that.
DEFAULT_WORKERS = 2 * len(os.sched_getaffinity(0)) + 1  # the cores this process may use


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def gunicorn_args(workers: int, threads: int | None = None) -> list[str]:
    """The gunicorn settings every benchmarked app gets (the same for the real and bare app).
    Sync workers by default; with `threads`, gthread workers of that many threads each (the
    README's production advice is `-w 4 --threads 4`)."""
    worker_class = ["--worker-class", "sync"]
    if threads:
        worker_class = ["--worker-class", "gthread", "--threads", str(threads)]
    return [
        "--workers", str(workers),
        *worker_class,
        "--backlog", "2048",
        "--timeout", "60",
        "--graceful-timeout", "5",
        "--log-level", "warning",
        "--error-logfile", "-",
    ]


def app_env(database_url: str, **extra: str) -> dict[str, str]:
    """Environment for `wsgi:app`: a random secret key and the database; inherited PAYDESK_*
    variables are dropped so the run does not depend on the caller's shell."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAYDESK_")}
    env["PAYDESK_SECRET_KEY"] = secrets.token_urlsafe(48)
    env["PAYDESK_DATABASE_URL"] = database_url
    env.update(extra)
    return env


@dataclass
class Server:
    name: str
    base_url: str
    process: subprocess.Popen
    log_path: Path

    def url(self, path: str) -> str:
        return self.base_url + path

    def log_tail(self, lines: int = 30) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])


def _stop(process: subprocess.Popen) -> None:
    """Stop the gunicorn master we started and its workers (its own process group)."""
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=15)
    except ProcessLookupError:
        return
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=5)


@contextmanager
def serve(
    app_spec: str, *, workers: int, name: str | None = None, env: Mapping[str, str] | None = None,
    ready_path: str = "/", ready_timeout: float = 60.0, threads: int | None = None,
) -> Iterator[Server]:
    """Run `gunicorn app_spec` on a free 127.0.0.1 port until the block ends.

    Ready when `ready_path` answers with any status below 500. The master runs in its own
    process group, so Ctrl-C in the terminal does not reach it and the group is terminated on
    exit (SIGTERM, then SIGKILL). Output goes to a temporary log file (`Server.log_tail()`),
    removed on exit unless setup failed.
    """
    name = name or app_spec
    port = free_port()
    log = tempfile.NamedTemporaryFile(  # noqa: SIM115 (closed in finally)
        prefix=f"bench-{name.replace(':', '-').replace('/', '-')}-", suffix=".log", delete=False
    )
    command = [
        sys.executable, "-m", "gunicorn", *gunicorn_args(workers, threads),
        "--bind", f"127.0.0.1:{port}", app_spec,
    ]
    process = subprocess.Popen(
        command, cwd=ROOT, env=dict(env or os.environ), stdout=log, stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL, start_new_session=True,
    )
    server = Server(name, f"http://127.0.0.1:{port}", process, Path(log.name))
    keep_log = False
    try:
        _wait_ready(server, ready_path, ready_timeout)
        yield server
    except SetupError:
        keep_log = True  # the message names the log; leave it for a look
        raise
    finally:
        _stop(process)
        log.close()
        if not keep_log:
            server.log_path.unlink(missing_ok=True)


def _wait_ready(server: Server, path: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    last_error = "no answer"
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise SetupError(
                f"{server.name}: gunicorn exited with {server.process.returncode} during "
                f"start-up. Log ({server.log_path}):\n{server.log_tail()}"
            )
        try:
            status = HttpClient(server.base_url, timeout=2).get(path).status
            if status < 500:
                return
            last_error = f"HTTP {status}"
        except OSError as exc:
            last_error = str(exc)
        time.sleep(0.1)
    raise SetupError(
        f"{server.name}: not ready after {timeout:.0f}s ({last_error}). "
        f"Log ({server.log_path}):\n{server.log_tail()}"
    )


# --- HTTP client and sign-in -----------------------------------------------------------------


@dataclass
class Response:
    status: int
    headers: http.client.HTTPMessage
    text: str

    def header(self, name: str) -> str:
        return self.headers.get(name, "")


class HttpClient:
    """A tiny cookie-keeping client on http.client that never follows redirects (so a redirect
    to the sign-in page is seen as what it is)."""

    def __init__(self, base_url: str, timeout: float = 30) -> None:
        parts = urlsplit(base_url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.timeout = timeout
        self.cookies: dict[str, str] = {}

    def request(
        self, method: str, path: str, body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Response:
        all_headers = dict(headers or {})
        if self.cookies:
            all_headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        try:
            conn.request(method, path, body=body, headers=all_headers)
            raw = conn.getresponse()
            text = raw.read().decode("utf-8", errors="replace")
        finally:
            conn.close()
        for value in raw.headers.get_all("Set-Cookie") or []:
            jar = SimpleCookie()
            jar.load(value)
            for key, morsel in jar.items():
                if morsel.value and morsel["max-age"] != "0":
                    self.cookies[key] = morsel.value
                else:
                    self.cookies.pop(key, None)
        return Response(raw.status, raw.headers, text)

    def get(self, path: str) -> Response:
        return self.request("GET", path)

    def post_form(self, path: str, fields: Mapping[str, str]) -> Response:
        return self.request(
            "POST", path, body=urlencode(fields).encode(),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )


def hidden_input(html: str, name: str) -> str | None:
    """The value of <input name="..." value="..."> in `html` (attributes in any order)."""
    for tag in re.findall(r"<input\b[^>]*>", html):
        if re.search(rf'\bname="{re.escape(name)}"', tag):
            match = re.search(r'\bvalue="([^"]*)"', tag)
            return match.group(1) if match else None
    return None


def sign_in(
    base_url: str, *, email: str, password: str, login_path: str = "/login",
    cookie_name: str = SESSION_COOKIE,
) -> str:
    """Sign in through the real form (GET for the CSRF token, POST with the cookie) and return
    the session cookie's value. Raises SetupError when the app does not redirect."""
    client = HttpClient(base_url)
    page = client.get(login_path)
    token = hidden_input(page.text, "csrf_token")
    if page.status != 200 or token is None:
        raise SetupError(f"GET {login_path}: HTTP {page.status}, csrf_token found: {bool(token)}")
    answer = client.post_form(
        login_path, {"email": email, "password": password, "csrf_token": token}
    )
    if answer.status not in (301, 302, 303) or cookie_name not in client.cookies:
        flashed = re.findall(r'class="[^"]*(?:flash|alert|error)[^"]*"[^>]*>([^<]+)<', answer.text)
        raise SetupError(
            f"Signing in as {email} failed: HTTP {answer.status}"
            + (f" ({'; '.join(m.strip() for m in flashed)})" if flashed else "")
        )
    return client.cookies[cookie_name]


# --- load generation -------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """One URL to measure, with the request headers it needs (e.g. a session cookie)."""

    name: str
    url: str
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class LoadResult:
    requests_per_second: float
    requests: int = 0
    non_2xx: int = 0  # wrk counts 4xx/5xx here (3xx are counted as fine, so verify first)
    socket_errors: int = 0

    @property
    def clean(self) -> bool:
        return self.non_2xx == 0


class LoadRunner:
    description = ""

    def __call__(self, target: Target, duration: float | None = None) -> LoadResult:
        raise NotImplementedError


_RPS = re.compile(r"^Requests/sec:\s*([\d.]+)", re.M)
_TOTAL = re.compile(r"^\s*(\d+) requests in ", re.M)
_NON_2XX = re.compile(r"^\s*Non-2xx or 3xx responses:\s*(\d+)", re.M)
_SOCKET = re.compile(
    r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", re.M
)


def parse_wrk(output: str) -> LoadResult:
    """Requests/sec, total requests, non-2xx/3xx responses and socket errors from wrk's report.

    Read errors are not counted: gunicorn's sync workers close every connection after the
    response, which wrk may report as read errors although each request was answered."""
    rps = _RPS.search(output)
    if rps is None:
        raise SetupError(f"Could not find 'Requests/sec:' in wrk's output:\n{output}")
    total = _TOTAL.search(output)
    non_2xx = _NON_2XX.search(output)
    sock = _SOCKET.search(output)
    return LoadResult(
        requests_per_second=float(rps.group(1)),
        requests=int(total.group(1)) if total else 0,
        non_2xx=int(non_2xx.group(1)) if non_2xx else 0,
        socket_errors=(int(sock.group(1)) + int(sock.group(4))) if sock else 0,
    )


class WrkRunner(LoadRunner):
    def __init__(self, wrk: str, *, duration: float, threads: int, connections: int) -> None:
        self.wrk, self.duration = wrk, duration
        self.threads, self.connections = threads, connections
        self.description = f"wrk -t{threads} -c{connections} -d{duration:g}s ({wrk})"

    def __call__(self, target: Target, duration: float | None = None) -> LoadResult:
        seconds = max(1, round(duration or self.duration))
        command = [
            self.wrk, f"-t{self.threads}", f"-c{self.connections}", f"-d{seconds}s",
            "--timeout", "10s",
        ]
        for key, value in target.headers.items():
            command += ["-H", f"{key}: {value}"]
        command.append(target.url)
        done = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60)
        if done.returncode != 0:
            raise SetupError(f"wrk failed ({done.returncode}): {done.stderr or done.stdout}")
        return parse_wrk(done.stdout)


class PythonRunner(LoadRunner):
    """Fallback when wrk is missing: `connections` threads, each a keep-alive http.client
    connection (re-opened when the server closes it). The client competes for the GIL, so its
    absolute numbers are lower than wrk's; ratios are still comparable within one run."""

    def __init__(self, *, duration: float, connections: int) -> None:
        self.duration, self.connections = duration, connections
        self.description = (
            f"Python threads ({connections} connections, {duration:g}s) - wrk not found"
        )

    def __call__(self, target: Target, duration: float | None = None) -> LoadResult:
        seconds = duration or self.duration
        parts = urlsplit(target.url)
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        counts = [[0, 0, 0] for _ in range(self.connections)]  # ok, non_2xx, errors
        stop_at = time.monotonic() + seconds

        def worker(slot: list[int]) -> None:
            conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
            while time.monotonic() < stop_at:
                try:
                    conn.request("GET", path, headers=dict(target.headers))
                    response = conn.getresponse()
                    response.read()
                    slot[0 if 200 <= response.status < 400 else 1] += 1
                except (OSError, http.client.HTTPException):
                    slot[2] += 1
                    conn.close()
            conn.close()

        started = time.monotonic()
        threads = [threading.Thread(target=worker, args=(c,)) for c in counts]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.monotonic() - started
        ok, bad, errors = (sum(c[i] for c in counts) for i in range(3))
        return LoadResult((ok + bad) / elapsed, ok + bad, bad, errors)


def load_runner(*, duration: float, threads: int = 2, connections: int = 8) -> LoadRunner:
    """wrk when it is installed, else the Python fallback (say which in the report)."""
    wrk = shutil.which("wrk")
    if wrk:
        return WrkRunner(wrk, duration=duration, threads=threads, connections=connections)
    return PythonRunner(duration=duration, connections=connections)


# --- measuring and reporting -----------------------------------------------------------------


@dataclass
class Results:
    names: list[str]
    rounds: list[dict[str, LoadResult]] = field(default_factory=list)
    orders: list[list[str]] = field(default_factory=list)

    def series(self, name: str) -> list[float]:
        return [r[name].requests_per_second for r in self.rounds]

    def median(self, name: str) -> float:
        return statistics.median(self.series(name))

    def ratios(self, numerator: str, denominator: str) -> list[float]:
        """numerator / denominator within each round."""
        return [
            r[numerator].requests_per_second / r[denominator].requests_per_second
            if r[denominator].requests_per_second else 0.0
            for r in self.rounds
        ]

    def problems(self) -> list[str]:
        found = []
        for i, measured in enumerate(self.rounds, 1):
            for name, result in measured.items():
                if not result.clean:
                    found.append(f"round {i} {name}: {result.non_2xx} non-2xx/3xx responses")
                if result.socket_errors:
                    found.append(
                        f"round {i} {name}: {result.socket_errors} connect/timeout errors"
                    )
        return found


def measure_alternating(
    targets: Sequence[Target], rounds: int, runner: LoadRunner, *, warmup: float = 2.0,
    progress: Callable[[str], None] | None = print,
) -> Results:
    """Run every target once per round; round r starts at target r (mod n), so each target
    takes each position equally often and slow drift (thermal, caches, neighbours) evens out.
    A short unrecorded warm-up run per target comes first (workers import, templates compile,
    the database caches the pages)."""
    results = Results([t.name for t in targets])
    if warmup > 0:
        for target in targets:
            runner(target, duration=warmup)
    for r in range(rounds):
        k = r % len(targets)
        order = list(targets[k:]) + list(targets[:k])
        measured: dict[str, LoadResult] = {}
        for target in order:
            measured[target.name] = runner(target)
            if progress:
                progress(
                    f"  round {r + 1}/{rounds} {target.name:<12} "
                    f"{measured[target.name].requests_per_second:>10.1f} req/s"
                )
        results.rounds.append(measured)
        results.orders.append([t.name for t in order])
    return results


def print_results(results: Results) -> None:
    """A table of req/s per round (with the order the round ran in) and the medians."""
    width = max(10, *(len(n) for n in results.names)) + 2
    order_width = max(len(" > ".join(o)) for o in results.orders) + 2
    print(f"{'round':<7}{'order':<{order_width}}" + "".join(f"{n:>{width}}" for n in results.names))
    for i, (measured, order) in enumerate(zip(results.rounds, results.orders, strict=True), 1):
        print(
            f"{i:<7}{' > '.join(order):<{order_width}}"
            + "".join(f"{measured[n].requests_per_second:>{width}.1f}" for n in results.names)
        )
    print(
        f"{'median':<7}{'':<{order_width}}"
        + "".join(f"{results.median(n):>{width}.1f}" for n in results.names)
    )
    for problem in results.problems():
        print(f"WARNING: {problem}")


def check_ratio(
    label: str, numerator: float, denominator: float, goal: float,
    per_round: Sequence[float] = (),
) -> bool:
    """Print `label  n / d = ratio (goal >= g) PASS|FAIL [per round: ...]`; return whether the
    ratio of medians passed. The per-round ratios (targets measured minutes apart in the same
    round) show how much of a verdict is noise."""
    ratio = numerator / denominator if denominator else 0.0
    passed = ratio >= goal
    spread = f"  per round: {' '.join(f'{r:.3f}' for r in per_round)}" if per_round else ""
    print(
        f"  {label:<14} {numerator:>9.1f} / {denominator:<9.1f} = {ratio:6.3f}  "
        f"(goal >= {goal:.2f})  {'PASS' if passed else 'FAIL'}{spread}"
    )
    if per_round and min(per_round) < goal <= max(per_round):
        print(
            f"  {'':<14} the rounds disagree about this goal: the verdict is within the noise "
            "(more --rounds, on a quiet machine)"
        )
    return passed
