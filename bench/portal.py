"""Portal invoice list under load: the signed-in /invoices page (first page and a deep page)
against a bare Flask endpoint served with the same gunicorn settings.

    .venv/bin/python -m bench.portal            # seeds once (1,000 accounts, 1,000,000 invoices)
    .venv/bin/python -m bench.portal --reseed --rounds 5 --duration 10 --explain

Goals (from the issue): list page >= 0.3 x bare endpoint; deep page >= 0.9 x first page.

Steps: create the database if missing (re-create it when the migration files changed since it
was built: migrations edited in place are not re-applied by Alembic), migrate it with Alembic,
seed it with COPY (skipped when the counts already match), VACUUM ANALYZE, start both apps with
gunicorn, sign in once through the real form, verify every URL answers 200 with the expected
content, then run wrk against bare / first page / deep page in rotating order for --rounds
rounds and print the medians and ratios. Exits 0 whatever the ratios (it is a report);
non-zero when setup fails.
"""

from __future__ import annotations

import argparse
import random
import re
import sys
import time
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path

if __package__ in (None, ""):  # run as `python bench/portal.py`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import (
    DEFAULT_WORKERS,
    SESSION_COOKIE,
    HttpClient,
    SetupError,
    Target,
    app_env,
    check_ratio,
    exit_on_sigterm,
    gunicorn_args,
    load_runner,
    measure_alternating,
    prepare_bench_database,
    print_results,
    psycopg_conninfo,
    serve,
    sign_in,
)

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/paydesk_bench"
BENCH_EMAIL = "bench-owner@example.com"
BENCH_PASSWORD = "bench-password-0123456789"
BIG_ACCOUNT_ID = 1
DEEP_PAGE = 500
RANDOM_SEED = 20260301
YEARS_OF_HISTORY = 3

LIST_GOAL = 0.3  # first page / bare
DEEP_GOAL = 0.9  # deep page / first page

INVOICE_COLUMNS = (
    "id", "account_id", "series", "number", "status", "currency", "issue_date", "due_date",
    "subtotal_minor", "discount_minor", "tax_minor", "total_minor", "amount_paid_minor",
    "amount_refunded_minor", "amount_due_minor", "memo", "created_at", "finalized_at",
    "paid_at", "voided_at",
)
ACCOUNT_COLUMNS = (
    "id", "name", "billing_email", "address", "tax_id", "currency", "locale", "created_at",
)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.portal", description=__doc__.split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--database-url", default=DEFAULT_URL, help="SQLAlchemy URL")
    parser.add_argument("--invoices", type=int, default=1_000_000, help="invoices in all")
    parser.add_argument("--accounts", type=int, default=1_000, help="customer accounts")
    parser.add_argument(
        "--big-account-invoices", type=int, default=20_000,
        help="invoices of account 1, whose user signs in",
    )
    parser.add_argument("--rounds", type=int, default=3, help="measurement rounds")
    parser.add_argument("--duration", type=float, default=5, help="seconds per wrk run")
    parser.add_argument(
        "--workers",
        type=int,
        default=DEFAULT_WORKERS,
        help=f"gunicorn workers for both apps (default {DEFAULT_WORKERS}: 2 x cores + 1)",
    )
    parser.add_argument(
        "--gunicorn-threads", type=int, default=0,
        help="threads per gunicorn worker (gthread workers, both apps); 0: sync workers. The "
        "README's production advice is --workers 4 --gunicorn-threads 4",
    )
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--connections", type=int, default=8, help="wrk connections")
    parser.add_argument(
        "--reseed", action="store_true",
        help="rebuild the data even if it is there (a database named *bench* is dropped and "
        "re-created first; that also happens by itself when the migration files change)",
    )
    parser.add_argument(
        "--explain", action="store_true",
        help="print EXPLAIN (ANALYZE, BUFFERS) of the app's first- and deep-page queries",
    )
    args = parser.parse_args(argv)
    if args.accounts < 2:
        parser.error("--accounts must be at least 2 (the big account and the others)")
    if not 0 < args.big_account_invoices <= args.invoices:
        parser.error("--big-account-invoices must be between 1 and --invoices")
    if min(args.rounds, args.workers, args.threads, args.connections) < 1 or args.duration < 1:
        parser.error("--rounds, --workers, --threads, --connections, --duration must be >= 1")
    if args.gunicorn_threads < 0:
        parser.error("--gunicorn-threads must be 0 (sync workers) or more")
    return args


# --- seeding ---------------------------------------------------------------------------------


def _status(rng: random.Random, age_days: int) -> str:
    """Recent invoices are often open (and a few still drafts); old ones mostly paid."""
    r = rng.random()
    if age_days <= 30:
        table = ((0.06, "draft"), (0.60, "open"), (0.97, "paid"), (1.0, "void"))
    elif age_days <= 90:
        table = ((0.12, "open"), (0.95, "paid"), (0.98, "void"), (1.0, "uncollectible"))
    else:
        table = ((0.02, "open"), (0.92, "paid"), (0.97, "void"), (1.0, "uncollectible"))
    return next(status for bound, status in table if r < bound)


def account_rows(n_accounts: int, rng: random.Random, now: datetime):
    """(row, (currency, tax basis points, payment terms in days)) per account."""
    for account_id in range(1, n_accounts + 1):
        big = account_id == BIG_ACCOUNT_ID
        currency = "USD" if big else rng.choices(["USD", "EUR", "GBP"], [70, 20, 10])[0]
        locale = {"USD": "en_US", "EUR": "de_DE", "GBP": "en_GB"}[currency]
        terms = (rng.choice([0, 15, 30, 30, 45]), rng.choice([0, 700, 825, 1900, 2000]))
        row = (
            account_id,
            "Big Customer Inc." if big else f"Customer {account_id:04d} Ltd",
            f"billing+{account_id}@customer{account_id}.example.com",
            f"{account_id} Market Street\nSpringfield",
            f"TAX{account_id:08d}",
            currency,
            locale,
            now - timedelta(days=YEARS_OF_HISTORY * 365 + 30 + rng.randint(0, 300)),
        )
        yield row, (currency, terms[1], terms[0])


def invoice_rows(n_invoices: int, n_big: int, terms: dict, rng: random.Random, now: datetime):
    """Invoices in issue order (ids and numbers rise with time, as in a real table), spread
    evenly over the last three years; exactly `n_big` of them belong to the big account."""
    today = now.date()
    start = today - timedelta(days=YEARS_OF_HISTORY * 365)
    span = (today - start).days + 1
    big_rows = set(rng.sample(range(n_invoices), n_big))
    last_account = max(terms)
    number = 0
    for i in range(n_invoices):
        account = BIG_ACCOUNT_ID if i in big_rows else rng.randint(2, last_account)
        currency, tax_bp, term_days = terms[account]
        issue = start + timedelta(days=i * span // n_invoices)
        status = _status(rng, (today - issue).days)
        subtotal = rng.randint(500, 250_000)
        discount = 0 if rng.random() < 0.85 else subtotal * rng.randint(5, 20) // 100
        tax = (subtotal - discount) * tax_bp // 10_000
        total = subtotal - discount + tax
        paid = refunded = 0
        if status == "paid":
            paid = total
            if paid and rng.random() < 0.02:
                refunded = rng.randint(1, paid)
        elif status in ("open", "uncollectible") and rng.random() < 0.1:
            paid = total * rng.randint(10, 90) // 100
        created = datetime(issue.year, issue.month, issue.day, 8, tzinfo=UTC) + timedelta(
            seconds=rng.randint(0, 36_000)
        )
        created = min(created, now)
        if status == "draft":
            invoice_number, finalized = None, None
        else:
            number += 1
            invoice_number, finalized = f"INV-{number:08d}", created
        paid_at = (
            min(created + timedelta(days=rng.randint(0, term_days + 10)), now)
            if status == "paid" else None
        )
        voided_at = (
            min(created + timedelta(days=rng.randint(1, 20)), now) if status == "void" else None
        )
        yield (
            i + 1, account, "INV", invoice_number, status, currency, issue,
            issue + timedelta(days=term_days), subtotal, discount, tax, total, paid, refunded,
            total - paid, "", created, finalized, paid_at, voided_at,
        )


def data_matches(conn, args) -> bool:
    accounts, invoices, big, users = conn.execute(
        "SELECT (SELECT count(*) FROM accounts), (SELECT count(*) FROM invoices),"
        " (SELECT count(*) FROM invoices WHERE account_id = %s),"
        " (SELECT count(*) FROM portal_users WHERE email = %s AND account_id = %s)",
        (BIG_ACCOUNT_ID, BENCH_EMAIL, BIG_ACCOUNT_ID),
    ).fetchone()
    return (accounts, invoices, big, users) == (
        args.accounts, args.invoices, args.big_account_invoices, 1
    )


def seed(conninfo: str, database: str, args) -> None:
    """Replace every row with the benchmark data set, via COPY, in one transaction."""
    import psycopg

    from billing.passwords import hash_password

    rng = random.Random(RANDOM_SEED)
    now = datetime.now(UTC).replace(microsecond=0)
    with psycopg.connect(conninfo) as conn:
        has_rows = conn.execute(
            "SELECT EXISTS (SELECT 1 FROM accounts) OR EXISTS (SELECT 1 FROM invoices)"
        ).fetchone()[0]
        if has_rows and "bench" not in database:
            raise SetupError(
                f"Database {database!r} has data and its name does not contain 'bench'; "
                "refusing to replace it. Point --database-url at a benchmark database."
            )
        # Every table the migrations created (the catalog, not the models: a model whose
        # migration is not written yet must not break the benchmark).
        tables = ", ".join(
            f'"{name}"' for (name,) in conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
                " AND tablename <> 'alembic_version'"
            )
        )
        conn.execute(f"TRUNCATE {tables} RESTART IDENTITY CASCADE")
        conn.execute("SET LOCAL synchronous_commit = off")
        conn.execute("SET LOCAL maintenance_work_mem = '512MB'")
        # Secondary indexes are rebuilt once after the load instead of updated per row; the
        # definitions come from the catalog, so they are exactly what the migration created.
        indexes = conn.execute(
            "SELECT c.relname, pg_get_indexdef(x.indexrelid) FROM pg_index x"
            " JOIN pg_class c ON c.oid = x.indexrelid"
            " WHERE x.indrelid = 'invoices'::regclass"
            " AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = x.indexrelid)"
        ).fetchall()
        for name, _ in indexes:
            conn.execute(f'DROP INDEX "{name}"')

        terms = {}
        with conn.cursor().copy(
            f"COPY accounts ({', '.join(ACCOUNT_COLUMNS)}) FROM STDIN"
        ) as copy:
            for row, account_terms in account_rows(args.accounts, rng, now):
                copy.write_row(row)
                terms[row[0]] = account_terms
        with conn.cursor().copy(
            f"COPY invoices ({', '.join(INVOICE_COLUMNS)}) FROM STDIN"
        ) as copy:
            for row in invoice_rows(args.invoices, args.big_account_invoices, terms, rng, now):
                copy.write_row(row)
        for _, definition in indexes:
            conn.execute(definition)
        for table in ("accounts", "invoices"):
            conn.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), max(id)) FROM {table}"
            )
        conn.execute(
            "INSERT INTO portal_users (email, name, password_hash, is_active, created_at,"
            " account_id, role) VALUES (%s, %s, %s, true, %s, %s, 'owner')",
            (BENCH_EMAIL, "Bench Owner", hash_password(BENCH_PASSWORD), now, BIG_ACCOUNT_ID),
        )
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute("VACUUM (ANALYZE)")


def prepare_database(args) -> None:
    """Database at Alembic head (re-created if disposable and stale), seeded unless the data
    is already there."""
    import psycopg
    from sqlalchemy.engine import make_url

    url = args.database_url
    _, what = prepare_bench_database(url, rebuild=args.reseed)
    print(f"database: {make_url(url).render_as_string()} ({what})")
    conninfo = psycopg_conninfo(url)
    with psycopg.connect(conninfo) as conn:
        matches = data_matches(conn, args)
    if matches and not args.reseed:
        print(
            f"seed: skipped, data already there ({args.accounts:,} accounts, "
            f"{args.invoices:,} invoices, {args.big_account_invoices:,} in account "
            f"{BIG_ACCOUNT_ID}); --reseed to rebuild"
        )
        return
    print(
        f"seed: {args.accounts:,} accounts, {args.invoices:,} invoices "
        f"({args.big_account_invoices:,} in account {BIG_ACCOUNT_ID}) via COPY ...", flush=True
    )
    started = time.perf_counter()
    seed(conninfo, make_url(url).database or "", args)
    print(f"seed: done in {time.perf_counter() - started:.1f}s (COPY, index build, VACUUM ANALYZE)")


# --- the pages -------------------------------------------------------------------------------


def page_facts(conninfo: str) -> dict:
    """The cursor that opens page DEEP_PAGE, and the invoice number each page must start with."""
    import psycopg

    from billing.queries import PAGE_SIZE

    visible = "account_id = %s AND status <> 'draft'"
    order = "ORDER BY issue_date DESC, id DESC"
    with psycopg.connect(conninfo) as conn:
        total = conn.execute(
            f"SELECT count(*) FROM invoices WHERE {visible}", (BIG_ACCOUNT_ID,)
        ).fetchone()[0]
        first_number = conn.execute(
            f"SELECT number FROM invoices WHERE {visible} {order} LIMIT 1", (BIG_ACCOUNT_ID,)
        ).fetchone()[0]
        offset = (DEEP_PAGE - 1) * PAGE_SIZE  # first row of page DEEP_PAGE
        rows = conn.execute(
            f"SELECT issue_date, id, number FROM invoices WHERE {visible} {order}"
            " OFFSET %s LIMIT 2",
            (BIG_ACCOUNT_ID, offset - 1),
        ).fetchall()
    if len(rows) < 2:
        raise SetupError(
            f"Account {BIG_ACCOUNT_ID} has {total} visible invoices, fewer than {DEEP_PAGE} "
            f"pages of {PAGE_SIZE}; use a larger --big-account-invoices."
        )
    (cursor_date, cursor_id, _), (_, _, deep_number) = rows
    return {
        "visible": total,
        "page_size": PAGE_SIZE,
        "first_number": first_number,
        "deep_path": f"/invoices?older={cursor_date.isoformat()}.{cursor_id}",
        "deep_number": deep_number,
        "deep_offset": offset,
    }


def browser_cookie(app: str, cookie: str) -> str:
    """The session cookie a browser holds after its first page: that page adds the sign-out
    form's CSRF token to the session and sends the cookie back updated. wrk replays one cookie,
    so replaying the sign-in response's cookie would make every measured request mint a CSRF
    token and re-sign the session, which no browser does."""
    client = HttpClient(app)
    client.cookies[SESSION_COOKIE] = cookie
    answer = client.get("/invoices")
    if answer.status != 200:
        raise SetupError(f"first page after sign-in: HTTP {answer.status}")
    if client.get("/invoices").header("Set-Cookie"):
        print("WARNING: the app re-sets the session cookie on every signed-in page view")
    return client.cookies[SESSION_COOKIE]


def verify(bare: str, app: str, cookie: str, facts: dict) -> None:
    """Every URL answers 200, and the list pages are invoice lists (not the sign-in page)."""
    answer = HttpClient(bare).get("/")
    if answer.status != 200 or "Bare Flask" not in answer.text:
        raise SetupError(f"bare endpoint: HTTP {answer.status}, body {answer.text[:200]!r}")
    client = HttpClient(app)
    client.cookies[SESSION_COOKIE] = cookie
    for name, path, number in (
        ("first page", "/invoices", facts["first_number"]),
        ("deep page", facts["deep_path"], facts["deep_number"]),
    ):
        answer = client.get(path)
        if answer.status != 200:
            where = answer.header("Location")
            raise SetupError(
                f"{name} {path}: HTTP {answer.status}" + (f" -> {where}" if where else "")
            )
        rows = len(re.findall(r'href="/invoices/\d+"', answer.text))
        if 'name="password"' in answer.text or number not in answer.text:
            raise SetupError(
                f"{name} {path}: 200 but not the expected invoice list "
                f"(looking for {number}; {rows} invoice links)"
            )
        if rows != facts["page_size"]:
            raise SetupError(f"{name} {path}: {rows} invoice rows, expected {facts['page_size']}")


def explain(database_url: str, facts: dict, full: bool) -> None:
    """Run the app's own invoice_list_page for both pages, capture the SQL it sends (on the
    DB-API cursor: the list is a PrecompiledStatement, which engine events do not see), EXPLAIN
    it."""
    import psycopg
    from sqlalchemy import event
    from sqlalchemy.orm import Session

    from billing import queries
    from billing.db import make_engine

    engine = make_engine(database_url)
    captured: list[tuple[str, object]] = []

    class Capturing(psycopg.Cursor):
        def execute(self, query, params=None, **kwargs):
            captured.append((str(query), params))
            return super().execute(query, params, **kwargs)

    @event.listens_for(engine, "checkout")
    def _capture(dbapi_connection, _record, _proxy):
        dbapi_connection.cursor_factory = Capturing

    try:
        for name, older in (
            ("first page", None), ("deep page", facts["deep_path"].split("older=", 1)[1])
        ):
            captured.clear()
            with Session(engine) as session:
                queries.invoice_list_page(session, account_id=BIG_ACCOUNT_ID, older=older)
            statement, parameters = next(c for c in captured if "FROM invoices" in c[0])
            with psycopg.connect(psycopg_conninfo(database_url)) as raw:
                plan = [
                    r[0] for r in raw.execute(
                        "EXPLAIN (ANALYZE, BUFFERS) " + statement, parameters
                    ).fetchall()
                ]
            timing = next((line for line in plan if "Execution Time" in line), "").strip()
            node = next((line.strip() for line in plan if "Scan" in line), "?")
            print(f"  {name:<11} {timing}  [{node.split('  (')[0]}]")
            if full:
                print("    " + "\n    ".join(plan))
    finally:
        engine.dispose()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    exit_on_sigterm()
    try:
        prepare_database(args)
        conninfo = psycopg_conninfo(args.database_url)
        facts = page_facts(conninfo)
        print(
            f"pages: account {BIG_ACCOUNT_ID} shows {facts['visible']:,} invoices; deep page = "
            f"page {DEEP_PAGE} (rows {facts['deep_offset'] + 1:,}-"
            f"{facts['deep_offset'] + facts['page_size']:,}): {facts['deep_path']}"
        )
        threads = args.gunicorn_threads or None
        with ExitStack() as stack:
            bare = stack.enter_context(
                serve("bench.bare_app:app", workers=args.workers, threads=threads)
            )
            app = stack.enter_context(
                serve(
                    "wsgi:app", workers=args.workers, env=app_env(args.database_url),
                    ready_path="/login", threads=threads,
                )
            )
            print(f"servers (both): gunicorn {' '.join(gunicorn_args(args.workers, threads)[:6])}; "
                  f"bare {bare.base_url}, app {app.base_url}")
            cookie = browser_cookie(
                app.base_url, sign_in(app.base_url, email=BENCH_EMAIL, password=BENCH_PASSWORD)
            )
            first_url, deep_url = app.url("/invoices"), app.url(facts["deep_path"])
            verify(bare.base_url, app.base_url, cookie, facts)
            print(f"signed in as {BENCH_EMAIL}; all URLs answer 200 with the expected content")
            headers = {"Cookie": f"{SESSION_COOKIE}={cookie}"}
            targets = [
                Target("bare", bare.url("/")),
                Target("first page", first_url, headers),
                Target("deep page", deep_url, headers),
            ]
            runner = load_runner(
                duration=args.duration, threads=args.threads, connections=args.connections
            )
            print(f"load: {runner.description}, {args.rounds} rounds, order rotates each round")
            results = measure_alternating(targets, args.rounds, runner)
            if any(not r.clean for m in results.rounds for r in m.values()):
                print(f"app log tail ({app.log_path}):\n{app.log_tail()}")
    except SetupError as exc:
        print(f"SETUP FAILED: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted; servers stopped", file=sys.stderr)
        return 130

    print()
    print("requests per second")
    print_results(results)
    print()
    print("ratios of medians")
    bare_rps, first_rps, deep_rps = (results.median(t.name) for t in targets)
    bare_name, first_name, deep_name = (t.name for t in targets)
    check_ratio(
        "list / bare", first_rps, bare_rps, LIST_GOAL, results.ratios(first_name, bare_name)
    )
    check_ratio(
        "deep / first", deep_rps, first_rps, DEEP_GOAL, results.ratios(deep_name, first_name)
    )
    print()
    print("list query (the app's invoice_list_page SQL, EXPLAIN ANALYZE):")
    explain(args.database_url, facts, args.explain)
    return 0


if __name__ == "__main__":
    sys.exit(main())
