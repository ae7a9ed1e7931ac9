"""The email log: every message the app queued, newest first, and one message in full.

Email bodies are never rendered as HTML here (the CSP forbids frames, and an email's markup has
no business in the admin's page). The plain-text body is shown escaped, with http(s) links made
clickable by the `linkify` filter, so a demo's magic sign-in link is one click away.
"""

import re

from flask import current_app, render_template, request
from markupsafe import Markup, escape

from billing import admin_queries, queries
from web.auth import staff_login_required
from web.extensions import db

URL = re.compile(r"https?://[^\s<>\"'`]+", re.IGNORECASE)
TRAILING = ".,;:!?)]}'\""


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
        mail_from=current_app.extensions["paydesk.settings"].mail_from,
    )
