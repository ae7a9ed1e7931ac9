"""The email log: every message the app queued, newest first, and one message in full.

Email bodies are never rendered as HTML here (the CSP forbids frames, and an email's markup has
no business in the admin's page). The plain-text body is shown escaped, with http(s) links made
clickable by the `linkify` filter, so a demo's magic sign-in link is one click away.
"""

import re

from flask import current_app, render_template, request, url_for
from markupsafe import Markup, escape

from billing import admin_queries, queries
from billing.services.emails import sender
from web.auth import staff_login_required
from web.extensions import db

URL = re.compile(r"https?://[^\s<>\"'`]+", re.IGNORECASE)
TRAILING = ".,;:!?)]}'\""
# An attachment of the log ({"kind", "id"}, see billing.services.emails) as the admin page
# that renders the same document: its label and (endpoint, the endpoint's id argument).
ATTACHMENT_PAGES = {
    "invoice_pdf": ("Invoice PDF", "admin.invoice_pdf", "invoice_id"),
    "credit_note_pdf": ("Credit note PDF", "admin.credit_note_pdf", "credit_note_id"),
    "quote_pdf": ("Quote PDF", "admin.quote_pdf", "quote_id"),
    "receipt_pdf": ("Receipt PDF", "admin.payment_receipt_pdf", "payment_id"),
}


def linkify(text: str | None) -> Markup:
    """Escape `text`, then turn each http(s) URL in it into a link. Only http and https."""
    text = text or ""
    parts: list[str] = []
    position = 0
    for match in URL.finditer(text):
        url = match.group(0).rstrip(TRAILING)
        end = match.start() + len(url)
        parts.append(escape(text[position : match.start()]))
        parts.append(Markup('<a href="{0}" rel="noreferrer">{0}</a>').format(url))
        position = end
    parts.append(escape(text[position:]))
    return Markup("").join(parts)


def attachment_links(attachments: list[dict]) -> list[tuple[str, str]]:
    """(label, URL of the same document in the admin) per attachment of an email."""
    links = []
    for attachment in attachments:
        label, endpoint, argument = ATTACHMENT_PAGES[attachment["kind"]]
        links.append((label, url_for(endpoint, **{argument: attachment["id"]})))
    return links


@staff_login_required
def email_list():
    page = queries.email_page(
        db.session, older=request.args.get("older"), newer=request.args.get("newer")
    )
    return render_template("admin/emails/list.html", page=page)


@staff_login_required
def email_show(email_id: int):
    overview = admin_queries.email_overview(db.session, email_id=email_id)
    return render_template(
        "admin/emails/show.html",
        email=overview.email,
        account=overview.account,
        attachments=attachment_links(overview.email.attachments or []),
        mail_from=sender(db.session, current_app.extensions["paydesk.settings"].mail_from),
    )
