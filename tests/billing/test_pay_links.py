"""Pay links: derived tokens stored only as hashes, expiry, revocation, per-IP limits."""

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from billing.errors import InvalidTransition, RateLimited, TokenInvalid
from billing.models import AuditEntry, PayLink
from billing.services import pay_links
from billing.services.auth import Limits
from tests.factories import NOW

SECRET = "s" * 40
BASE = "https://billing.example"


def url_for(session, invoice, now=NOW):
    url = pay_links.pay_link_url(session, invoice=invoice, secret=SECRET, base_url=BASE, now=now)
    session.commit()
    return url


def token_of(url: str) -> str:
    return url.rsplit("/", 1)[1]


def open_link(session, token, now=NOW, ip="10.0.0.1"):
    return pay_links.invoice_for_token(session, token=token, ip=ip, now=now, limits=Limits())


def test_the_same_link_is_shown_again_and_only_its_hash_is_stored(session, make):
    invoice = make.invoice()
    first, again = url_for(session, invoice), url_for(session, invoice)
    assert first == again and first.startswith(f"{BASE}/pay/")
    link = session.scalar(select(PayLink))
    assert token_of(first) not in (link.token_hash, link.nonce)
    assert open_link(session, token_of(first)).id == invoice.id


def test_expires_30_days_after_the_due_date(session, make):
    invoice = make.invoice()
    token = token_of(url_for(session, invoice))
    due = datetime.combine(invoice.due_date, datetime.min.time(), UTC)
    last_moment = due + timedelta(days=29, hours=23)
    assert open_link(session, token, now=last_moment).id == invoice.id
    with pytest.raises(TokenInvalid):
        open_link(session, token, now=last_moment + timedelta(hours=2))


def test_regenerate_kills_the_old_link_and_is_audited(session, make):
    invoice = make.invoice()
    old = token_of(url_for(session, invoice))
    new = pay_links.regenerate_pay_link(
        session, invoice_id=invoice.id, secret=SECRET, base_url=BASE, now=NOW, actor="staff:1"
    )
    with pytest.raises(TokenInvalid):
        open_link(session, old)
    assert open_link(session, token_of(new)).id == invoice.id
    pay_links.revoke_pay_link(session, invoice_id=invoice.id, now=NOW, actor="staff:1")
    with pytest.raises(TokenInvalid):
        open_link(session, token_of(new))
    actions = session.scalars(
        select(AuditEntry.action).where(AuditEntry.subject_type == "pay_links")
    ).all()
    assert sorted(actions) == ["pay_link.regenerated", "pay_link.revoked"]


def test_drafts_have_no_link_and_paid_invoices_stop_taking_money(session, make):
    with pytest.raises(InvalidTransition):
        url_for(session, make.invoice(finalize=False))
    paid = make.invoice(paid_minor=37999)
    assert not pay_links.is_payable(paid)
    assert pay_links.is_payable(make.invoice())


def test_a_token_made_with_another_secret_does_not_open_the_invoice(session, make):
    invoice = make.invoice()
    url_for(session, invoice)
    link = session.scalar(select(PayLink))
    forged = pay_links._token("t" * 40, link)
    with pytest.raises(TokenInvalid):
        open_link(session, forged)


def test_unknown_tokens_are_limited_per_ip(session):
    for n in range(5):
        with pytest.raises(TokenInvalid):
            open_link(session, f"guess-{n}")
    with pytest.raises(RateLimited):
        open_link(session, "guess-6")
    with pytest.raises(TokenInvalid):
        open_link(session, "guess-7", ip="10.0.0.2")  # another IP is not affected
