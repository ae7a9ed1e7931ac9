"""The portal's home page: what the customer owes and when, and the company logo."""

from flask import abort, render_template
from flask_login import current_user

from billing import queries
from billing.clock import utcnow
from billing.services import credit
from web.auth import portal_login_required
from web.extensions import db


@portal_login_required
def home():
    summary = queries.account_summary(
        db.session, account_id=current_user.account_id, today=utcnow().date()
    )
    recent = queries.invoice_list_page(db.session, account_id=current_user.account_id, limit=5)
    return render_template(
        "portal/home.html",
        summary=summary,
        recent=recent.items,
        credit=credit.credit_summary(db.session, account_id=current_user.account_id, limit=0),
    )


def brand_logo():
    """The company logo for page headers (public: it is on every invoice anyway)."""
    company = queries.company(db.session)
    if not company.logo:
        abort(404)
    return (
        company.logo,
        200,
        {
            "Content-Type": company.logo_mime or "image/png",
            "Cache-Control": "public, max-age=300",
        },
    )
