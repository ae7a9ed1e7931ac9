"""Webhook intake under load: signed Stripe events (20% of them duplicates) POSTed to the real
app's /hooks/stripe under gunicorn, against a bare Flask endpoint that only reads the body,
served with the same gunicorn settings, in alternating runs. Then it checks that every unique
event was stored once and applied exactly once.

    .venv/bin/python -m bench.webhooks                       # PostgreSQL + Redis/RQ
    .venv/bin/python -m bench.webhooks --rounds 5 --duration 8 --connections 16
    .venv/bin/python -m bench.webhooks --inline              # no Redis: jobs in the request

Goal (from the issue): events/s of the app >= 0.5 x the bare endpoint.

Each unique event is a payment_intent.succeeded for a card payment seeded as pending (one open
invoice each), so "applied" is visible: the payment succeeds, its invoice is paid in full, and
exactly one invoice.payment_applied audit entry exists per event. By default the app runs as
in production: the endpoint stores the event and queues its job on RQ (a redis-server of the
benchmark's own), and answers; the measured rate is that intake. After the load runs, an RQ
SimpleWorker (the same jobs as `python -m workers`, without its fork per job) drains the
queue, so it never competes for this machine's cores while the two endpoints are measured.
With --inline there is no queue: each event's job runs in the request right after the commit
that stored it (the demo set-up), so the rate includes applying it.

Exits 0 when every event was applied exactly once (whatever the ratio: it is a report), 1 when
the check fails, 2 when setup fails.
"""

from __future__ import annotations

import argparse
import http.client
import itertools
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from urllib.parse import urlsplit

if __package__ in (None, ""):  # run as `python bench/webhooks.py`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import (
    DEFAULT_WORKERS,
    ROOT,
    LoadResult,
    LoadRunner,
    SetupError,
    Target,
    app_env,
    check_ratio,
    exit_on_sigterm,
    free_port,
    measure_alternating,
    migrate,
    print_results,
    recreate_database,
    serve,
)

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/paydesk_bench_webhooks"
WEBHOOK_SECRET = "whsec_bench_webhooks_0123456789"
DUPLICATE_SHARE = 0.2
GOAL = 0.5
INVOICE_TOTAL = 12_500  # $125.00 each
RANDOM_SEED = 20261125


# --- data ------------------------------------------------------------------------------------


def seed(url: str, count: int) -> None:
    """One account, `count` open invoices and as many pending card payments (one per invoice,
    PaymentIntent pi_bench_<n>), inserted in bulk."""
    from sqlalchemy import insert

    from billing.db import make_engine
    from billing.models import Account, Invoice, Payment, PaymentAllocation

    now = datetime.now(UTC)
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(
            insert(Account),
            [
                {
                    "id": 1,
                    "name": "Bench Ltd",
                    "billing_email": "bench@example.test",
                    "currency": "USD",
                    "created_at": now,
                }
            ],
        )
        invoices, payments, allocations = [], [], []
        for n in range(1, count + 1):
            invoices.append(
                {
                    "id": n,
                    "account_id": 1,
                    "series": "INV",
                    "number": f"INV-B-{n:07d}",
                    "status": "open",
                    "currency": "USD",
                    "issue_date": date(2026, 11, 1),
                    "due_date": date(2026, 12, 1),
                    "subtotal_minor": INVOICE_TOTAL,
                    "total_minor": INVOICE_TOTAL,
                    "amount_due_minor": INVOICE_TOTAL,
                    "created_at": now,
                    "finalized_at": now,
                }
            )
            payments.append(
                {
                    "id": n,
                    "account_id": 1,
                    "method": "card",
                    "status": "pending",
                    "currency": "USD",
                    "amount_minor": INVOICE_TOTAL,
                    "received_date": now.date(),
                    "processor": "stripe",
                    "processor_payment_id": f"pi_bench_{n}",
                    "processor_payment_method_id": "pm_bench",
                    "created_at": now,
                    "processor_requested_at": now,
                }
            )
            allocations.append({"payment_id": n, "invoice_id": n, "amount_minor": INVOICE_TOTAL})
        for model, rows in (
            (Invoice, invoices),
            (Payment, payments),
            (PaymentAllocation, allocations),
        ):
            for start in range(0, len(rows), 5000):
                conn.execute(insert(model), rows[start : start + 5000])
    engine.dispose()


def event_body(n: int, round_tag: str) -> bytes:
    """A payment_intent.succeeded event for seeded payment n (older API shape, as localstripe
    sends it)."""
    return json.dumps(
        {
            "id": f"evt_bench_{round_tag}_{n}",
            "object": "event",
            "type": "payment_intent.succeeded",
            "created": int(time.time()),
            "data": {
                "object": {
                    "object": "payment_intent",
                    "id": f"pi_bench_{n}",
                    "status": "succeeded",
                    "amount": INVOICE_TOTAL,
                    "currency": "usd",
                    "customer": None,
                    "latest_charge": {"id": f"ch_bench_{n}", "object": "charge"},
                    "metadata": {"paydesk_payment_id": str(n)},
                }
            },
        }
    ).encode()


def sign(body: bytes) -> str:
    import stripe

    timestamp = int(time.time())
    signature = stripe.WebhookSignature._compute_signature(
        f"{timestamp}.{body.decode()}", WEBHOOK_SECRET
    )
    return f"t={timestamp},v1={signature}"


class EventFeed:
    """Signed events for one target: new ones in order (each payment once), with
    DUPLICATE_SHARE of the posts re-sending an event already sent. Thread-safe."""

    def __init__(self, numbers: Iterator[int], tag: str, rng: random.Random) -> None:
        self.numbers, self.tag, self.rng = numbers, tag, rng
        self.sent: list[tuple[bytes, str]] = []
        self.unique: set[int] = set()
        self.duplicates = 0
        self.lock = threading.Lock()

    def next(self) -> tuple[bytes, str] | None:
        with self.lock:
            if self.sent and self.rng.random() < DUPLICATE_SHARE:
                self.duplicates += 1
                return self.rng.choice(self.sent[-500:])
            n = next(self.numbers, None)
            if n is None:
                return None
            body = event_body(n, self.tag)
            item = (body, sign(body))
            self.sent.append(item)
            self.unique.add(n)
            return item


class PostRunner(LoadRunner):
    """`connections` threads POST signed events on keep-alive connections for `duration`
    seconds; the same client work for every target (it signs every new event)."""

    def __init__(self, feeds: dict[str, EventFeed], *, duration: float, connections: int) -> None:
        self.feeds, self.duration, self.connections = feeds, duration, connections
        self.description = (
            f"Python threads POSTing signed events ({connections} connections, {duration:g}s)"
        )

    def __call__(self, target: Target, duration: float | None = None) -> LoadResult:
        seconds = duration or self.duration
        feed = self.feeds[target.name]
        parts = urlsplit(target.url)
        counts = [[0, 0, 0] for _ in range(self.connections)]  # ok, not ok, errors
        stop_at = time.monotonic() + seconds

        def worker(slot: list[int]) -> None:
            conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
            while time.monotonic() < stop_at:
                item = feed.next()
                if item is None:
                    break
                body, header = item
                try:
                    conn.request(
                        "POST",
                        parts.path,
                        body=body,
                        headers={
                            "Content-Type": "application/json",
                            "Stripe-Signature": header,
                        },
                    )
                    response = conn.getresponse()
                    response.read()
                    slot[0 if response.status == 200 else 1] += 1
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


# --- the check -------------------------------------------------------------------------------


def verify(url: str, unique: set[int], *, timeout: float) -> bool:
    """Every unique event stored once, processed, its payment succeeded and its invoice paid
    exactly once; nothing else paid. Waits up to `timeout` s for queued jobs to finish."""
    from sqlalchemy import text

    from billing.db import make_engine

    engine = make_engine(url)
    deadline = time.monotonic() + timeout
    with engine.connect() as conn:
        while True:
            waiting = conn.execute(
                text("SELECT count(*) FROM webhook_events WHERE status = 'received'")
            ).scalar()
            if not waiting or time.monotonic() > deadline:
                break
            time.sleep(0.5)
            conn.rollback()
        stats = conn.execute(
            text("""
            SELECT
              (SELECT count(*) FROM webhook_events),
              (SELECT count(DISTINCT processor_event_id) FROM webhook_events),
              (SELECT count(*) FROM webhook_events WHERE status = 'processed'),
              (SELECT count(*) FROM payments WHERE status = 'succeeded'),
              (SELECT count(*) FROM invoices
                WHERE status = 'paid' AND amount_paid_minor = total_minor),
              (SELECT count(*) FROM invoices WHERE amount_paid_minor > total_minor),
              (SELECT count(*) FROM audit_entries WHERE action = 'invoice.payment_applied'),
              (SELECT count(DISTINCT subject_id) FROM audit_entries
                WHERE action = 'invoice.payment_applied')
        """)
        ).one()
        paid_ids = {
            row[0]
            for row in conn.execute(text("SELECT id FROM payments WHERE status = 'succeeded'"))
        }
    engine.dispose()
    rows, distinct, processed, succeeded, paid, overpaid, applied, applied_distinct = stats
    n = len(unique)
    checks = [
        (
            "events stored once each",
            rows == distinct == n,
            f"{rows} rows, {distinct} distinct, {n} unique sent",
        ),
        ("events processed", processed == n, f"{processed} of {n}"),
        ("payments succeeded", succeeded == n and paid_ids == unique, f"{succeeded} of {n}"),
        ("invoices paid in full", paid == n and overpaid == 0, f"{paid} paid, {overpaid} overpaid"),
        (
            "applied exactly once",
            applied == applied_distinct == n,
            f"{applied} entries for {applied_distinct} invoices",
        ),
    ]
    ok = True
    print("\nExactly once:")
    for label, passed, detail in checks:
        ok &= passed
        print(f"  {label:<26} {'PASS' if passed else 'FAIL'}  ({detail})")
    return ok


# --- Redis and the RQ worker --------------------------------------------------------------------


def _stop_group(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)


@contextmanager
def redis_server() -> Iterator[str]:
    """A redis-server of our own on a free port (no persistence, noeviction); yields its URL."""
    binary = shutil.which("redis-server")
    if not binary:
        raise SetupError("redis-server is not on PATH (use --inline to run without Redis)")
    port = free_port()
    workdir = tempfile.mkdtemp(prefix="bench-redis-")
    command = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", ""]
    command += ["--appendonly", "no", "--maxmemory-policy", "noeviction", "--dir", workdir]
    redis = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    try:
        time.sleep(0.3)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        _stop_group(redis)
        shutil.rmtree(workdir, ignore_errors=True)


DRAIN = """
from redis import Redis
from rq import Queue, SimpleWorker
from config import Settings
from workers.__main__ import configure_runtime
settings = Settings.from_env()
configure_runtime(settings)
connection = Redis.from_url(settings.redis_url)
SimpleWorker([Queue(settings.queue_name, connection=connection)], connection=connection).work(
    burst=True, logging_level="WARNING"
)
"""


def drain_queue(env: dict[str, str], *, timeout: float) -> None:
    """Run the queued jobs with an RQ SimpleWorker in burst mode (the same jobs as
    `python -m workers`, without a fork per job, so the check does not wait for minutes)."""
    subprocess.run(
        [sys.executable, "-c", DRAIN],
        cwd=ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        timeout=timeout,
        check=True,
    )


# --- main ------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.webhooks", description=__doc__.split("\n")[0]
    )
    parser.add_argument(
        "--database-url",
        default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL),
        help=f"PostgreSQL database to (re)create (default {DEFAULT_URL})",
    )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per run")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument(
        "--workers",
        type=int,
        default=DEFAULT_WORKERS,
        help=f"gunicorn workers for both apps (default {DEFAULT_WORKERS}: 2 x cores + 1)",
    )
    parser.add_argument(
        "--events", type=int, default=30_000, help="payments seeded (unique events available)"
    )
    parser.add_argument(
        "--inline",
        action="store_true",
        help="no Redis: each event's job runs in the request, after the insert",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    exit_on_sigterm()
    rng = random.Random(RANDOM_SEED)
    try:
        print(
            f"Database {args.database_url}: re-creating, migrating, seeding {args.events} payments"
        )
        recreate_database(args.database_url)
        migrate(args.database_url)
        seed(args.database_url, args.events)
        env = app_env(
            args.database_url,
            PAYDESK_STRIPE_WEBHOOK_SECRET=WEBHOOK_SECRET,
            PAYDESK_STRIPE_SECRET_KEY="sk_test_bench",
        )
        with ExitStack() as stack:
            if not args.inline:
                env["PAYDESK_REDIS_URL"] = stack.enter_context(redis_server())
            bare = stack.enter_context(
                serve("bench.bare_app:app", workers=args.workers, name="bare")
            )
            real = stack.enter_context(
                serve("wsgi:app", workers=args.workers, name="app", env=env, ready_path="/healthz")
            )
            numbers = iter(range(1, args.events + 1))
            feeds = {
                "bare": EventFeed(itertools.count(1), "bare", rng),
                "webhooks": EventFeed(numbers, "app", rng),
            }
            runner = PostRunner(feeds, duration=args.duration, connections=args.connections)
            targets = [
                Target("bare", bare.url("/hooks/stripe")),
                Target("webhooks", real.url("/hooks/stripe")),
            ]
            mode = (
                "in-process jobs (no Redis)"
                if args.inline
                else "jobs queued on RQ and applied after the load runs"
            )
            print(f"Load: {runner.description}; {args.workers} gunicorn sync workers each; {mode}")
            results = measure_alternating(targets, args.rounds, runner, warmup=1.0)
            print()
            print_results(results)
            print()
            check_ratio(
                "webhooks/bare",
                results.median("webhooks"),
                results.median("bare"),
                GOAL,
                results.ratios("webhooks", "bare"),
            )
            feed = feeds["webhooks"]
            print(f"  sent {len(feed.unique)} unique events and {feed.duplicates} duplicates")
            if len(feed.unique) >= args.events:
                print("  WARNING: every seeded payment was used; raise --events for longer runs")
            if not args.inline:
                print("Applying the queued events (RQ SimpleWorker, burst)…")
                drain_queue(env, timeout=1800)
            ok = verify(args.database_url, feed.unique, timeout=60)
        return 0 if ok else 1
    except SetupError as exc:
        print(f"Setup failed: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
