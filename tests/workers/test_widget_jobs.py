"""The Pay Now widget's periodic job, run twice: an invoice made for a widget payment that was
later canceled (3-D Secure abandoned) is voided once; a paid one is never touched."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from billing.errors import AuthenticationRequired
from billing.models import Invoice, InvoiceStatus, Payment, PaymentStatus
from billing.services import widgets
from tests.factories import NOW
from tests.fake_gateway import THREE_D_SECURE
from tests.money_back import RefundingFakeGateway
from workers.jobs.widgets import void_unpaid_widget_invoices_job


@pytest.fixture
def gateway():
    return RefundingFakeGateway()


@pytest.fixture
def app(settings, gateway):
    from web.app import create_app
    from web.extensions import db

    application = create_app(settings, gateway=gateway)
    yield application
    db.factory.kw["bind"].dispose()


def pay(session, gateway, widget, number):
    setup = gateway.succeeded_setup(
        number, customer_id=None, metadata={widgets.SETUP_METADATA: str(widget.id)}
    )
    return widgets.pay_with_widget(
        session,
        gateway,
        public_key=widget.public_key,
        payer=widgets.PayerInput("20.00", "Order 5", "Grace", "grace@example.test"),
        setup_intent_id=setup,
        ip="203.0.113.1",
        now=NOW,
        base_url="http://localhost",
    )


def test_void_unpaid_widget_invoices_job_twice(session, gateway):
    widget = widgets.save_widget(
        session,
        values={"title": "Pay", "currency": "USD", "create_invoice": True},
        now=NOW,
        actor="t",
    )
    paid = pay(session, gateway, widget, "4242424242424242")
    with pytest.raises(AuthenticationRequired) as abandoned:
        pay(session, gateway, widget, THREE_D_SECURE)
    session.get(Payment, abandoned.value.payment_id).status = PaymentStatus.CANCELED
    session.commit()

    assert void_unpaid_widget_invoices_job() == 1
    assert void_unpaid_widget_invoices_job() == 0

    session.expire_all()
    statuses = {
        p.id: session.scalar(
            select(Invoice.status).where(Invoice.id == p.allocations[0].invoice_id)
        )
        for p in session.scalars(select(Payment))
    }
    assert statuses == {paid.id: InvoiceStatus.PAID, abandoned.value.payment_id: InvoiceStatus.VOID}
