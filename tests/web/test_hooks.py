"""POST /hooks/stripe: signatures on the raw body, each event stored once, processed once,
out-of-order and duplicate delivery harmless; events delivered by localstripe to a live app."""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import func, select

from billing.clock import utcnow
from billing.models import (
    Account,
    AuditEntry,
    Invoice,
    Payment,
    PaymentStatus,
    Refund,
    SavedCard,
    WebhookEvent,
    WebhookEventStatus,
)
from billing.services import card_payments, cards
from billing.services.card_payments import Share
from tests.admin import sign_in_staff
from tests.conftest import free_port
from tests.helpers import post_form
from tests.localstripe_fixture import TEST_WEBHOOK_SECRET, stripe_overrides
from tests.payments_helpers import (
    CARD_3DS,
    CARD_OK,
    authenticate,
    confirm_card_setup,
    event,
    post_event,
    wait_for,
)
from tests.payments_helpers import client as stripe_client


@pytest.fixture
def settings_overrides(localstripe):
    return stripe_overrides(localstripe.base_url)


@pytest.fixture
def gateway(app):
    return app.extensions["paydesk.gateway"]


def saved_card(session, gateway, localstripe, account, number=CARD_OK):
    customer = cards.ensure_customer(
        session, gateway, account_id=account.id, now=utcnow(), actor="t"
    )
    api = stripe_client(localstripe.base_url)
    pm = api.v1.payment_methods.create(
        params={
            "type": "card",
            "card": {"number": number, "exp_month": 12, "exp_year": 2030, "cvc": "123"},
        }
    )
    card = gateway.attach_card(payment_method_id=pm["id"], customer_id=customer)
    return cards.save_card(session, account_id=account.id, card=card, now=utcnow(), actor="t")


def pending_payment(session, gateway, localstripe, invoice, number=CARD_OK):
    card = saved_card(
        session, gateway, localstripe, session.get(Account, invoice.account_id), number
    )
    return card_payments.start_card_payment(
        session,
        account_id=invoice.account_id,
        shares=[Share(invoice.id, invoice.amount_due_minor)],
        card=gateway.retrieve_card(card.processor_payment_method_id),
        allow_partial=True,
        processor="stripe",
        now=utcnow(),
        actor="t",
    )


def charge_at_stripe_only(gateway, session, payment):
    """Charge as charge_payment would, but 'die' before recording the answer."""
    customer = session.get(Account, payment.account_id).processor_customer_id
    return gateway.charge(
        customer_id=customer,
        payment_method_id=payment.processor_payment_method_id,
        amount_minor=payment.amount_minor,
        currency=payment.currency,
        idempotency_key=f"payment:{payment.id}",
        metadata={"paydesk_payment_id": str(payment.id)},
    )


def test_a_forged_or_stale_signature_is_refused_and_nothing_is_stored(client, session):
    payload = event(
        "evt_forged", "payment_intent.succeeded", {"object": "payment_intent", "id": "pi_x"}
    )
    assert post_event(client, payload, secret="whsec_not_the_real_one").status_code == 400
    stale = post_event(client, payload, timestamp=int(time.time()) - 301)
    assert stale.status_code == 400
    unsigned = client.post(
        "/hooks/stripe", data=b"{}", headers={"Content-Type": "application/json"}
    )
    assert unsigned.status_code == 400
    assert session.scalar(select(func.count()).select_from(WebhookEvent)) == 0


def test_answers_are_json_for_a_server_with_no_cookie_or_page_headers(client, session):
    payload = event("evt_plain", "customer.created", {"object": "customer", "id": "cus_x"})
    stored = post_event(client, payload)
    assert stored.status_code == 200 and stored.json == {"received": True, "duplicate": False}
    assert stored.headers["X-Content-Type-Options"] == "nosniff"
    assert stored.headers["Cache-Control"] == "no-store"
    assert "frame-ancestors 'none'" in stored.headers["Content-Security-Policy"]
    assert "Set-Cookie" not in stored.headers and "Vary" not in stored.headers
    for response, code in (
        (client.get("/hooks/stripe"), 405),
        (client.post("/hooks/other", data=b"{}"), 404),
        (client.post("/hooks/stripe", data=b"x" * (5 * 1024 * 1024)), 413),
    ):
        assert response.status_code == code
        assert response.is_json and response.json["error"]
    assert session.scalar(select(func.count()).select_from(WebhookEvent)) == 1


def test_a_succeeded_event_pays_once_however_often_it_arrives(
    client, session, make, gateway, localstripe
):
    invoice = make.invoice()
    payment = pending_payment(session, gateway, localstripe, invoice)
    result = charge_at_stripe_only(gateway, session, payment)
    intent = (
        stripe_client(localstripe.base_url)
        .v1.payment_intents.retrieve(result.payment_intent_id)
        .to_dict()
    )
    payload = event("evt_paid_1", "payment_intent.succeeded", intent)
    first, again = post_event(client, payload), post_event(client, payload)
    assert first.status_code == again.status_code == 200
    assert (first.json["duplicate"], again.json["duplicate"]) == (False, True)
    # The same outcome under another event id (Stripe retries with the same id; be safe anyway).
    assert (
        post_event(client, event("evt_paid_2", "payment_intent.succeeded", intent)).status_code
        == 200
    )
    session.expire_all()
    assert session.get(Payment, payment.id).status == PaymentStatus.SUCCEEDED
    assert session.get(Invoice, invoice.id).status == "paid"
    applied = session.scalar(
        select(func.count()).where(
            AuditEntry.action == "invoice.payment_applied", AuditEntry.subject_id == invoice.id
        )
    )
    assert applied == 1
    rows = session.scalars(select(WebhookEvent).order_by(WebhookEvent.id)).all()
    assert [r.status for r in rows] == [WebhookEventStatus.PROCESSED, WebhookEventStatus.PROCESSED]


def test_an_older_failure_event_never_undoes_a_success(client, session, make, gateway, localstripe):
    invoice = make.invoice()
    payment = pending_payment(session, gateway, localstripe, invoice, CARD_3DS)
    result = charge_at_stripe_only(gateway, session, payment)
    assert result.status == "requires_action"
    stale = (
        stripe_client(localstripe.base_url)
        .v1.payment_intents.retrieve(result.payment_intent_id)
        .to_dict()
    )
    authenticate(localstripe.base_url, result.client_secret)
    fresh = (
        stripe_client(localstripe.base_url)
        .v1.payment_intents.retrieve(result.payment_intent_id)
        .to_dict()
    )
    assert post_event(client, event("evt_ok", "payment_intent.succeeded", fresh)).status_code == 200
    # The requires_action event was sent first but arrives last.
    assert (
        post_event(client, event("evt_late", "payment_intent.requires_action", stale)).status_code
        == 200
    )
    session.expire_all()
    assert session.get(Payment, payment.id).status == PaymentStatus.SUCCEEDED
    assert session.get(Invoice, invoice.id).status == "paid"


def test_charge_refunded_records_the_refund_once(client, session, make, gateway, localstripe):
    invoice = make.invoice()
    payment = pending_payment(session, gateway, localstripe, invoice)
    card_payments.charge_payment(
        session, gateway, payment_id=payment.id, now=utcnow(), actor="t", base_url="http://x"
    )
    session.refresh(payment)
    api = stripe_client(localstripe.base_url)
    refund = api.v1.refunds.create(
        params={"payment_intent": payment.processor_payment_id, "amount": 500}
    )
    charge = {
        "object": "charge",
        "id": payment.processor_charge_id,
        "payment_intent": payment.processor_payment_id,
        "refunds": {"data": [refund.to_dict()]},
    }
    for event_id in ("evt_refund_1", "evt_refund_1", "evt_refund_2"):
        assert post_event(client, event(event_id, "charge.refunded", charge)).status_code == 200
    session.expire_all()
    refunds = session.scalars(select(Refund)).all()
    assert [(r.amount_minor, r.processor_refund_id) for r in refunds] == [(500, refund["id"])]
    assert session.get(Payment, payment.id).amount_refunded_minor == 500


def test_card_events_keep_saved_cards_in_step(client, session, make, gateway, localstripe):
    account = make.account()
    customer = cards.ensure_customer(
        session, gateway, account_id=account.id, now=utcnow(), actor="t"
    )
    api = stripe_client(localstripe.base_url)
    setup = gateway.create_setup_intent(
        customer_id=customer, idempotency_key="s", metadata={"paydesk_account_id": str(account.id)}
    )
    confirm_card_setup(localstripe.base_url, setup.client_secret, CARD_OK)
    intent = api.v1.setup_intents.retrieve(setup.setup_intent_id).to_dict()
    assert (
        post_event(client, event("evt_setup", "setup_intent.succeeded", intent)).status_code == 200
    )
    card = session.scalar(select(SavedCard))
    assert (card.account_id, card.last4) == (account.id, "4242")
    method = api.v1.payment_methods.retrieve(card.processor_payment_method_id).to_dict()
    method["card"]["exp_year"] = 2033
    post_event(client, event("evt_updated", "payment_method.updated", method))
    session.refresh(card)
    assert card.exp_year == 2033
    post_event(client, event("evt_detached", "payment_method.detached", method))
    session.refresh(card)
    assert card.removed_at is not None
    other = post_event(
        client, event("evt_other", "customer.created", {"object": "customer", "id": customer})
    )
    assert other.status_code == 200
    statuses = dict(
        session.execute(select(WebhookEvent.processor_event_id, WebhookEvent.status)).all()
    )
    assert statuses["evt_other"] == WebhookEventStatus.IGNORED
    assert statuses["evt_setup"] == statuses["evt_detached"] == WebhookEventStatus.PROCESSED


def test_staff_see_events_and_replay_a_failed_one(client, session, make, gateway, localstripe):
    invoice = make.invoice()
    payment = pending_payment(session, gateway, localstripe, invoice)
    result = charge_at_stripe_only(gateway, session, payment)
    intent = (
        stripe_client(localstripe.base_url)
        .v1.payment_intents.retrieve(result.payment_intent_id)
        .to_dict()
    )
    broken = dict(intent, amount=1)  # an answer that does not match the payment: processing fails
    post_event(client, event("evt_broken", "payment_intent.succeeded", broken))
    row = session.scalar(select(WebhookEvent))
    assert row.status == WebhookEventStatus.FAILED and "does not match" in row.last_error
    row.payload = event("evt_broken", "payment_intent.succeeded", intent)  # the fix: a good payload
    session.commit()
    sign_in_staff(client, make)
    page = client.get("/admin/webhooks?status=failed").get_data(as_text=True)
    assert "evt_broken" in page and "does not match" in page
    response = post_form(
        client, f"/admin/webhooks/{row.id}/replay", {}, form_path="/admin/webhooks"
    )
    assert response.status_code == 302
    session.expire_all()
    assert session.get(WebhookEvent, row.id).status == WebhookEventStatus.PROCESSED
    assert session.get(Invoice, invoice.id).status == "paid"


@pytest.fixture
def live_app(app):
    from werkzeug.serving import make_server

    port = free_port()
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{port}"
    server.shutdown()
    server.server_close()


def test_localstripe_delivers_signed_events_to_the_live_app(
    live_app, session, make, gateway, localstripe
):
    localstripe.register_webhook("paydesk", f"{live_app}/hooks/stripe", TEST_WEBHOOK_SECRET)
    invoice = make.invoice()
    payment = pending_payment(session, gateway, localstripe, invoice)
    charge_at_stripe_only(gateway, session, payment)  # the answer is "lost": only the webhook tells

    def processed():  # (events of earlier tests may arrive too: they are ignored)
        session.expire_all()
        return session.scalar(
            select(WebhookEvent.id).where(
                WebhookEvent.type == "payment_intent.succeeded",
                WebhookEvent.status == WebhookEventStatus.PROCESSED,
                WebhookEvent.note == f"payment {payment.id} is succeeded",
            )
        )

    def seen():
        session.expire_all()
        return [(e.type, e.status, e.last_error) for e in session.scalars(select(WebhookEvent))]

    try:
        wait_for(processed, timeout=20)
    except AssertionError:
        raise AssertionError(f"payment_intent.succeeded not processed; events: {seen()}") from None
    assert session.get(Invoice, invoice.id).status == "paid"
    assert session.get(Payment, payment.id).status == PaymentStatus.SUCCEEDED
