"""Quotes in the customer portal and through the emailed link: what a customer sees, how they
accept (typing their name) or decline (saying why), and what they can never do."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from pypdf import PdfReader
from sqlalchemy import select

from billing.clock import utcnow
from billing.models import AuditEntry, Invoice, PortalRole, QuoteConversion, QuoteStatus
from tests.helpers import csrf_token, post_form, sign_in
from tests.quote_helpers import link_token, make_quote, set_auto_convert

NOW = utcnow()


@pytest.fixture
def acme(make):
    return make.account(name="Acme Corp")


@pytest.fixture
def ada(make, acme):
    return make.portal_user(acme, name="Ada Lovelace")


@pytest.fixture
def signed_in(client, ada):
    sign_in(client, ada.email)
    return client


@pytest.fixture
def quote(session, acme):
    return make_quote(session, acme, now=NOW)


def test_the_list_shows_only_this_accounts_sent_quotes(signed_in, session, make, acme, quote):
    draft = make_quote(session, acme, send=False, now=NOW)
    theirs = make_quote(session, make.account(name="Globex"), now=NOW)
    html = signed_in.get("/quotes").get_data(as_text=True)
    assert quote.number in html and theirs.number not in html
    assert f"/quotes/{draft.id}" not in html
    assert "Sent" in html and "$6,106.25" in html


def test_other_accounts_quotes_and_drafts_are_404(signed_in, session, make, acme):
    theirs = make_quote(session, make.account(name="Globex"), now=NOW)
    draft = make_quote(session, acme, send=False, now=NOW)
    for path in [
        f"/quotes/{theirs.id}",
        f"/quotes/{draft.id}",
        "/quotes/999999",
        f"/quotes/{10**30}",
    ]:
        assert signed_in.get(path).status_code == 404, path
    token = csrf_token(signed_in, "/quotes")
    answer = signed_in.post(
        f"/quotes/{theirs.id}/accept", data={"csrf_token": token, "name": "Ada Lovelace"}
    )
    assert answer.status_code == 404
    session.refresh(theirs)
    assert theirs.status == QuoteStatus.SENT


def test_a_customer_accepts_a_quote_by_typing_their_name(signed_in, session, ada, quote):
    page = signed_in.get(f"/quotes/{quote.id}").get_data(as_text=True)
    assert "Accept this quote" in page and "Your full name" in page
    response = post_form(
        signed_in,
        f"/quotes/{quote.id}/accept",
        {"name": "Ada Lovelace"},
        form_path=f"/quotes/{quote.id}",
    )
    assert response.status_code == 302
    session.refresh(quote)
    assert quote.status == QuoteStatus.ACCEPTED and quote.accepted_name == "Ada Lovelace"
    assert quote.responded_ip == "127.0.0.1"
    entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "quote.accepted")).one()
    assert entry.actor == f"portal_user:{ada.id}"
    shown = signed_in.get(f"/quotes/{quote.id}").get_data(as_text=True)
    assert "you accepted quote" in shown and "Accepted by <strong>Ada Lovelace</strong>" in shown
    assert "Accept this quote" not in shown

    # A second acceptance is refused with a clear message.
    again = post_form(signed_in, f"/quotes/{quote.id}/accept", {"name": "Ada"}, form_path="/quotes")
    assert again.status_code == 302
    assert "already accepted" in signed_in.get(again.location).get_data(as_text=True)


def test_accepting_without_a_name_changes_nothing(signed_in, session, quote):
    response = post_form(
        signed_in, f"/quotes/{quote.id}/accept", {"name": "  "}, form_path="/quotes"
    )
    assert response.status_code == 422
    assert "Type your full name" in response.get_data(as_text=True)
    session.refresh(quote)
    assert quote.status == QuoteStatus.SENT


def test_a_customer_declines_with_a_reason(signed_in, session, quote):
    empty = post_form(signed_in, f"/quotes/{quote.id}/decline", {"reason": ""}, form_path="/quotes")
    assert empty.status_code == 422 and "Tell us why" in empty.get_data(as_text=True)
    response = post_form(
        signed_in, f"/quotes/{quote.id}/decline", {"reason": "Over budget"}, form_path="/quotes"
    )
    assert response.status_code == 302
    session.refresh(quote)
    assert quote.status == QuoteStatus.DECLINED and quote.decline_reason == "Over budget"
    assert "Over budget" in signed_in.get(f"/quotes/{quote.id}").get_data(as_text=True)


def test_a_viewer_reads_but_cannot_answer(client, session, make, acme, quote):
    viewer = make.portal_user(acme, role=PortalRole.VIEWER)
    sign_in(client, viewer.email)
    page = client.get(f"/quotes/{quote.id}").get_data(as_text=True)
    assert "Only an owner or billing contact" in page and "Accept this quote" not in page
    response = post_form(client, f"/quotes/{quote.id}/accept", {"name": "V"}, form_path="/quotes")
    assert response.status_code == 403
    session.refresh(quote)
    assert quote.status == QuoteStatus.SENT


def test_an_expired_quote_cannot_be_accepted(signed_in, session, acme):
    old = make_quote(session, acme, now=NOW - timedelta(days=40), valid_days=30)
    page = signed_in.get(f"/quotes/{old.id}").get_data(as_text=True)
    assert "This quote has expired" in page and "Accept this quote" not in page
    response = post_form(
        signed_in, f"/quotes/{old.id}/accept", {"name": "Ada"}, form_path="/quotes"
    )
    assert "can no longer be accepted" in signed_in.get(response.location).get_data(as_text=True)
    session.refresh(old)
    assert old.status == QuoteStatus.SENT


def test_csrf_is_required(signed_in, session, quote):
    response = signed_in.post(f"/quotes/{quote.id}/accept", data={"name": "Ada"})
    assert response.status_code in (400, 422)
    session.refresh(quote)
    assert quote.status == QuoteStatus.SENT


def test_with_auto_convert_the_invoice_appears_in_the_portal(signed_in, session, quote):
    set_auto_convert(session, QuoteConversion.FINALIZE)
    post_form(
        signed_in, f"/quotes/{quote.id}/accept", {"name": "Ada Lovelace"}, form_path="/quotes"
    )
    invoice = session.scalars(select(Invoice).where(Invoice.quote_id == quote.id)).one()
    assert invoice.number and invoice.total_minor == quote.total_minor
    assert invoice.number in signed_in.get("/invoices").get_data(as_text=True)
    shown = signed_in.get(f"/quotes/{quote.id}").get_data(as_text=True)
    assert f'href="/invoices/{invoice.id}"' in shown


# --- the emailed link ---------------------------------------------------------------------


def test_opening_the_link_only_shows_the_quote(client, session, quote):
    page = client.get(f"/quote/{link_token(quote)}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert quote.number in html and "Website redesign" in html and "Accept this quote" in html
    assert "/invoices" not in html and "Sign out" not in html  # nothing of the account
    session.refresh(quote)
    assert quote.status == QuoteStatus.SENT


def test_accepting_through_the_link(client, session, quote):
    path = f"/quote/{link_token(quote)}"
    response = post_form(client, f"{path}/accept", {"name": "Ada Lovelace"}, form_path=path)
    assert response.status_code == 302 and response.location.endswith(path)
    session.refresh(quote)
    assert quote.status == QuoteStatus.ACCEPTED
    entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "quote.accepted")).one()
    assert (
        entry.actor == f"quote_link:{quote.id}" and entry.after["accepted_name"] == "Ada Lovelace"
    )
    token = csrf_token(client, "/login")  # the session's CSRF token, from any form
    again = client.post(f"{path}/accept", data={"csrf_token": token, "name": "Eve"})
    assert "already accepted" in client.get(again.location).get_data(as_text=True)
    session.refresh(quote)
    assert quote.accepted_name == "Ada Lovelace"


def test_declining_through_the_link(client, session, quote):
    path = f"/quote/{link_token(quote)}"
    post_form(client, f"{path}/decline", {"reason": "Not now"}, form_path=path)
    session.refresh(quote)
    assert quote.status == QuoteStatus.DECLINED


def test_unknown_links_are_refused_and_rate_limited(client, session, quote):
    for _ in range(5):
        assert client.get("/quote/" + "x" * 43).status_code == 410
    assert client.get("/quote/" + "y" * 43).status_code == 429
    assert client.get(f"/quote/{link_token(quote)}").status_code == 429  # per IP, for a while


def test_quote_pdfs_are_account_scoped(signed_in, client, session, make, quote):
    own = signed_in.get(f"/quotes/{quote.id}.pdf")
    assert own.status_code == 200 and own.mimetype == "application/pdf"
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(own.data)).pages)
    assert quote.number in text and "Website redesign" in text and "Valid until" in text
    theirs = make_quote(session, make.account(name="Globex"), now=NOW)
    assert signed_in.get(f"/quotes/{theirs.id}.pdf").status_code == 404
    public = client.get(f"/quote/{link_token(quote)}/quote.pdf")
    assert public.status_code == 200 and public.mimetype == "application/pdf"
