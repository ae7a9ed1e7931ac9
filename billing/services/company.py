"""The company's own details (printed on invoices, shown in page headers), edited in admin.

`update_company_settings` is one transaction: it validates everything first (a bad value changes
nothing), creates the single settings row if it is missing, writes an audit entry and commits.
The logo is checked by its bytes, never by the file name or the browser's declared type: it must
start with the PNG or JPEG signature, open in Pillow as that same format, and be at most 1 MB.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime
from io import BytesIO
from typing import Any

from email_validator import EmailNotValidError, validate_email
from PIL import Image, UnidentifiedImageError
from sqlalchemy import select
from sqlalchemy.orm import Session

from billing import audit, queries
from billing.errors import ValidationFailed
from billing.models import CompanySettings, QuoteConversion
from billing.money import check_currency

MAX_LOGO_BYTES = 1024 * 1024
MAX_LOGO_SIDE = 4000  # pixels; a logo is small, and this keeps decompression bombs out
SIGNATURES = {
    b"\x89PNG\r\n\x1a\n": ("PNG", "image/png"),
    b"\xff\xd8\xff": ("JPEG", "image/jpeg"),
}
# field -> (maximum length, required)
TEXT_FIELDS: dict[str, tuple[int, bool]] = {
    "name": (200, True),
    "address": (2000, False),
    "email": (320, False),
    "phone": (64, False),
    "tax_id": (64, False),
    "invoice_footer": (2000, False),
}
LABELS = {
    "name": "Company name",
    "address": "Address",
    "email": "Email",
    "phone": "Phone",
    "tax_id": "Tax ID",
    "invoice_footer": "Invoice footer",
}
FIELDS = (*TEXT_FIELDS, "default_currency")
# Saves in this process bump it; every BrandingCache reloads when it changes.
_branding_generation = 0


@dataclass(frozen=True)
class Branding:
    """What every page header shows: the company name and whether a logo exists."""

    name: str
    has_logo: bool


class BrandingCache:
    """The company branding, kept per process so pages skip a query per request. A save in
    this process invalidates it at once (the generation counter); other processes reload it
    within `ttl` seconds."""

    def __init__(self, ttl: float = 10.0) -> None:
        self.ttl = ttl
        self._value: Branding | None = None
        self._loaded_at = 0.0
        self._generation = -1

    def get(self, session: Session) -> Branding:
        """The cached branding, reloaded when stale or after a save."""
        now = time.monotonic()
        fresh = now - self._loaded_at < self.ttl and self._generation == _branding_generation
        if self._value is None or not fresh:
            company = queries.company(session)
            self._generation = _branding_generation
            self._value = Branding(company.name, company.logo_mime is not None)
            self._loaded_at = now
        return self._value


def _invalidate_branding() -> None:
    """Make every BrandingCache in this process reload on its next read."""
    global _branding_generation
    _branding_generation += 1


def _clean_text(value: Any) -> str:
    """Strip the ends and use \\n line endings (browsers send \\r\\n from textareas)."""
    return str(value or "").replace("\r\n", "\n").replace("\r", "\n").strip()


def check_logo(data: bytes) -> str:
    """The MIME type of a PNG or JPEG logo; raises ValueError with a message for people."""
    if len(data) > MAX_LOGO_BYTES:
        raise ValueError("The logo must be 1 MB or smaller.")
    expected = next((fmt for sig, fmt in SIGNATURES.items() if data.startswith(sig)), None)
    if expected is None:
        raise ValueError("The logo must be a PNG or JPEG image.")
    pil_format, mime = expected
    try:
        with Image.open(BytesIO(data)) as image:
            if image.format != pil_format:
                raise ValueError("The logo must be a PNG or JPEG image.")
            width, height = image.size
            if width > MAX_LOGO_SIDE or height > MAX_LOGO_SIDE:
                raise ValueError(f"The logo may be at most {MAX_LOGO_SIDE} pixels on a side.")
            image.verify()
    except (UnidentifiedImageError, OSError, SyntaxError, Image.DecompressionBombError):
        raise ValueError("The logo could not be read as an image. Try another file.") from None
    return mime


def _validate(values: dict[str, Any], logo: bytes | None) -> tuple[dict[str, str], str | None]:
    """(clean values, logo MIME type); raises ValidationFailed listing every bad field."""
    errors: dict[str, str] = {}
    clean: dict[str, str] = {}
    for field, (max_length, required) in TEXT_FIELDS.items():
        text = _clean_text(values.get(field))
        if required and not text:
            errors[field] = f"{LABELS[field]} is required."
        elif len(text) > max_length:
            errors[field] = f"{LABELS[field]} can be at most {max_length} characters."
        clean[field] = text
    if clean["email"] and "email" not in errors:
        try:
            # Syntax only (no DNS); reserved demo domains such as example.test are fine.
            validate_email(clean["email"], check_deliverability=False, test_environment=True)
        except EmailNotValidError:
            errors["email"] = "Enter an email address like billing@example.com."
    try:
        clean["default_currency"] = check_currency(str(values.get("default_currency") or ""))
    except ValueError:
        errors["default_currency"] = "Enter a three-letter ISO 4217 code, such as USD or EUR."
    if values.get("quote_auto_convert") is not None:  # absent: left as it is
        conversion = str(values["quote_auto_convert"])
        if conversion not in QuoteConversion.__members__.values():
            errors["quote_auto_convert"] = "Choose what an accepted quote becomes."
        clean["quote_auto_convert"] = conversion
    logo_mime = None
    if logo:
        try:
            logo_mime = check_logo(logo)
        except ValueError as exc:
            errors["logo"] = str(exc)
    if errors:
        raise ValidationFailed(errors)
    return clean, logo_mime


def update_company_settings(
    session: Session,
    *,
    values: dict[str, Any],
    logo: bytes | None,
    logo_mime: str | None,
    remove_logo: bool,
    now: datetime,
    actor: str,
) -> CompanySettings:
    """Save the company's details. `values` holds name, address, email, phone, tax_id,
    default_currency and invoice_footer, and optionally allow_account_credit (whether an
    overpayment becomes account credit; left unchanged when absent). A new `logo` replaces the
    old one (and wins over `remove_logo`); `logo_mime` is what the browser claimed and is not
    trusted: the stored type comes from the bytes. Raises ValidationFailed ({field: message})
    and changes nothing. Saving the same values again is a no-op (no audit entry). Commits."""
    del logo_mime  # the bytes decide the type; see check_logo
    clean, new_mime = _validate(values, logo)
    row = session.scalar(
        select(CompanySettings).order_by(CompanySettings.id).limit(1).with_for_update()
    )
    created = row is None
    if row is None:
        row = CompanySettings(
            id=1,
            name="Your Company",
            default_currency="USD",
            address="",
            email="",
            phone="",
            tax_id="",
            invoice_footer="",
        )
        session.add(row)
    before: dict[str, Any] = {}
    after: dict[str, Any] = {}
    for field in FIELDS:
        if getattr(row, field) != clean[field]:
            before[field], after[field] = getattr(row, field), clean[field]
            setattr(row, field, clean[field])
    if "allow_account_credit" in values:  # optional: callers that omit it keep the setting
        allowed = bool(values["allow_account_credit"])
        if row.allow_account_credit is not allowed:
            before["allow_account_credit"] = row.allow_account_credit
            after["allow_account_credit"] = allowed
            row.allow_account_credit = allowed
    conversion = clean.get("quote_auto_convert")
    if conversion is not None and row.quote_auto_convert != conversion:
        before["quote_auto_convert"] = row.quote_auto_convert
        row.quote_auto_convert = after["quote_auto_convert"] = conversion
    if logo:
        row.logo, row.logo_mime = logo, new_mime
        after["logo_changed"] = True
    elif remove_logo and row.logo_mime is not None:
        row.logo, row.logo_mime = None, None
        after["logo_changed"] = True
    if not after and not created:
        session.rollback()
        return row
    row.updated_at = now
    audit.record(
        session,
        actor=actor,
        action="company_settings.created" if created else "company_settings.updated",
        subject=row,
        now=now,
        before=before or None,
        after=after,
    )
    session.commit()
    _invalidate_branding()
    return row
