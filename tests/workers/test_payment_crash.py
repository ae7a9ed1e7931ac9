"""Reliability: the worker is killed (SIGKILL) after Stripe charged the card but before the
database heard of it. The payment stays pending; reconciliation finds the charge by its
metadata and settles it, and nothing ever charges the card a second time.

No test hooks in production code: the charge job runs in a real subprocess whose Stripe API
base points at a small proxy started here, which forwards to localstripe and holds the
*response* to POST /v1/payment_intents until the worker is dead.
"""

from __future__ import annotations

import http.client
import os
import signal
import subprocess
import sys
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import pytest

from billing.clock import utcnow
from billing.models import Account, Invoice, Payment, PaymentStatus
from billing.services import card_payments, cards
from billing.services.card_payments import Share
from tests.conftest import ROOT, SECRET
from tests.localstripe_fixture import (
    TEST_PUBLISHABLE_KEY,
    TEST_SECRET_KEY,
    stripe_overrides,
)
from tests.payments_helpers import CARD_OK, charges_for, payment_intents
from tests.payments_helpers import client as stripe_client


class HoldingProxy:
    """Forwards every request to `target`; the response to POST /v1/payment_intents is held
    (never sent) and `charged` is set once localstripe has answered it."""

    def __init__(self, target: str) -> None:
        self.target = urlsplit(target)
        self.charged = threading.Event()
        self.release = threading.Event()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _forward(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                upstream = http.client.HTTPConnection(
                    proxy.target.hostname, proxy.target.port, timeout=30
                )
                headers = {
                    k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")
                }
                upstream.request(self.command, self.path, body=body or None, headers=headers)
                response = upstream.getresponse()
                data = response.read()
                if self.command == "POST" and self.path.startswith("/v1/payment_intents"):
                    proxy.charged.set()
                    proxy.release.wait(60)  # hold the answer: the worker dies waiting for it
                    return
                self.send_response(response.status)
                for key, value in response.getheaders():
                    if key.lower() not in ("transfer-encoding", "connection", "content-length"):
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_DELETE = _forward

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


WORKER = """
import sys
from config import Settings
from workers.__main__ import configure_runtime
from workers.jobs.payments import charge_payment_job
configure_runtime(Settings.from_env())
print(charge_payment_job(int(sys.argv[1])), flush=True)
"""


@pytest.fixture
def settings_overrides(localstripe):
    return stripe_overrides(localstripe.base_url)


def worker_env(database_url: str, api_base: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAYDESK_")}
    env.update(
        PAYDESK_SECRET_KEY=SECRET,
        PAYDESK_DATABASE_URL=database_url,
        PAYDESK_STRIPE_API_BASE=api_base,
        PAYDESK_STRIPE_SECRET_KEY=TEST_SECRET_KEY,
        PAYDESK_STRIPE_PUBLISHABLE_KEY=TEST_PUBLISHABLE_KEY,
        PYTHONPATH=ROOT,
    )
    return env


def test_killed_between_the_charge_and_the_database_then_reconciled(
    app, session, make, localstripe, database_url
):
    gateway = app.extensions["paydesk.gateway"]
    invoice = make.invoice()
    account = session.get(Account, invoice.account_id)
    customer = cards.ensure_customer(
        session, gateway, account_id=account.id, now=utcnow(), actor="t"
    )
    pm = stripe_client(localstripe.base_url).v1.payment_methods.create(
        params={
            "type": "card",
            "card": {"number": CARD_OK, "exp_month": 12, "exp_year": 2031, "cvc": "123"},
        }
    )
    card = cards.save_card(
        session,
        account_id=account.id,
        now=utcnow(),
        actor="t",
        card=gateway.attach_card(payment_method_id=pm["id"], customer_id=customer),
    )
    payment = card_payments.start_card_payment(
        session,
        account_id=account.id,
        shares=[Share(invoice.id, invoice.total_minor)],
        card=gateway.retrieve_card(card.processor_payment_method_id),
        allow_partial=True,
        processor="stripe",
        now=utcnow(),
        actor="portal_user:1",
    )

    proxy = HoldingProxy(localstripe.base_url)
    try:
        worker = subprocess.Popen(
            [sys.executable, "-c", WORKER, str(payment.id)],
            cwd=ROOT,
            env=worker_env(database_url, proxy.url),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        assert proxy.charged.wait(30), worker.communicate(timeout=5)
        os.killpg(worker.pid, signal.SIGKILL)  # between Stripe's "yes" and the database update
        worker.wait(timeout=10)
    finally:
        proxy.close()

    session.expire_all()
    payment = session.get(Payment, payment.id)
    assert payment.status == PaymentStatus.PENDING and payment.processor_payment_id is None
    assert payment.processor_requested_at is not None  # it knows a charge may have happened
    assert len(charges_for(localstripe.base_url, payment.id)) == 1
    assert session.get(Invoice, invoice.id).amount_paid_minor == 0

    # The charge job runs again (RQ's retry, straight to localstripe): it finds the charge.
    again = subprocess.run(
        [sys.executable, "-c", WORKER, str(payment.id)],
        cwd=ROOT,
        env=worker_env(database_url, localstripe.base_url),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert again.returncode == 0 and again.stdout.strip() == "succeeded", again.stderr
    # …and reconciliation, run by the sweeper later, is a no-op now.
    settled = card_payments.reconcile_payment(
        session,
        gateway,
        payment_id=payment.id,
        now=utcnow() + timedelta(minutes=10),
        base_url="http://localhost",
    )
    assert settled.status == PaymentStatus.SUCCEEDED
    assert len(payment_intents(localstripe.base_url)) == 1  # exactly one charge, ever
    session.expire_all()
    invoice = session.get(Invoice, invoice.id)
    assert (invoice.status, invoice.amount_paid_minor) == ("paid", invoice.total_minor)


def test_killed_then_settled_by_reconciliation_alone(app, session, make, localstripe, database_url):
    gateway = app.extensions["paydesk.gateway"]
    invoice = make.invoice()
    account = session.get(Account, invoice.account_id)
    customer = cards.ensure_customer(
        session, gateway, account_id=account.id, now=utcnow(), actor="t"
    )
    pm = stripe_client(localstripe.base_url).v1.payment_methods.create(
        params={
            "type": "card",
            "card": {"number": CARD_OK, "exp_month": 12, "exp_year": 2031, "cvc": "123"},
        }
    )
    card = cards.save_card(
        session,
        account_id=account.id,
        now=utcnow(),
        actor="t",
        card=gateway.attach_card(payment_method_id=pm["id"], customer_id=customer),
    )
    payment = card_payments.start_card_payment(
        session,
        account_id=account.id,
        shares=[Share(invoice.id, invoice.total_minor)],
        card=gateway.retrieve_card(card.processor_payment_method_id),
        allow_partial=True,
        processor="stripe",
        now=utcnow(),
        actor="portal_user:1",
    )
    proxy = HoldingProxy(localstripe.base_url)
    try:
        worker = subprocess.Popen(
            [sys.executable, "-c", WORKER, str(payment.id)],
            cwd=ROOT,
            env=worker_env(database_url, proxy.url),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        assert proxy.charged.wait(30)
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait(timeout=10)
    finally:
        proxy.close()
    assert payment.id in card_payments.payments_to_reconcile(
        session, now=utcnow() + timedelta(minutes=6), min_age=timedelta(minutes=5)
    )
    for _ in range(2):
        settled = card_payments.reconcile_payment(
            session, gateway, payment_id=payment.id, now=utcnow(), base_url="http://localhost"
        )
    assert settled.status == PaymentStatus.SUCCEEDED
    assert len(payment_intents(localstripe.base_url)) == 1
    session.expire_all()
    assert session.get(Invoice, invoice.id).status == "paid"
