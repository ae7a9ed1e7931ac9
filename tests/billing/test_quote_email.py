"""Sending a quote: the email reaches a real SMTP server with the quote's PDF and a link that
opens the quote without signing in."""

from __future__ import annotations

import io
import re

import pytest
from pypdf import PdfReader

from billing.clock import utcnow
from tests.quote_helpers import make_quote


@pytest.fixture
def settings_overrides(smtp):
    return {"smtp_url": smtp[0]}


def test_the_quote_email_carries_the_pdf_and_a_working_link(client, session, make, smtp):
    _, mailbox = smtp
    account = make.account(name="Acme Corp", billing_email="ap@acme.test")
    quote = make_quote(session, account, now=utcnow())
    [message] = mailbox.to("ap@acme.test")
    assert message["Subject"].startswith(f"Quote {quote.number}")
    [pdf] = list(message.iter_attachments())
    assert pdf.get_filename() == f"quote-{quote.number}.pdf"
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.get_content())).pages)
    assert "QUOTE" in text and quote.number in text
    body = message.get_body(("plain",)).get_content()
    link = re.search(r"http://localhost(/quote/[\w-]+)", body).group(1)
    page = client.get(link)
    assert page.status_code == 200 and "Accept this quote" in page.get_data(as_text=True)
