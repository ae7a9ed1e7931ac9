"""Money and dates for people, per locale, through Babel.

Used by the Jinja filters (web/jinja.py) and by documents and emails rendered in jobs (which do
not load the web layer), so one set of rules formats money everywhere.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache

from babel.core import Locale, UnknownLocaleError
from babel.dates import format_date as _babel_date
from babel.dates import format_datetime as _babel_datetime
from babel.numbers import format_decimal

from billing.money import to_major

DEFAULT_LOCALE = "en_US"


@lru_cache(maxsize=256)
def _locale(locale: str | None) -> Locale:
    """A parsed Babel Locale, cached: pages format a hundred values in one locale."""
    try:
        return Locale.parse(locale or DEFAULT_LOCALE)
    except (ValueError, UnknownLocaleError):
        return Locale.parse(DEFAULT_LOCALE)


def safe_locale(locale: str | None) -> str:
    """`locale` if Babel knows it, else the default (a bad stored value never breaks a page)."""
    return str(_locale(locale))


@lru_cache(maxsize=16384)
def format_money(amount_minor: int, currency: str, locale: str | None = None) -> str:
    """'$1,234.50', '1.234,50 €', '¥1,235' — exact, from integer minor units.

    The same as babel.numbers.format_currency(..., currency_digits=True) with the locale's
    standard pattern, minus re-parsing the locale on every call. Cached: Babel's pattern
    apply was most of a list page's time, and amounts repeat (prices, re-viewed pages)."""
    parsed = _locale(locale)
    return parsed.currency_formats["standard"].apply(
        to_major(amount_minor, currency), parsed, currency=currency, currency_digits=True
    )


def format_quantity(value: Decimal | int, locale: str | None = None) -> str:
    """A quantity or rate without trailing zeros: 2.0000 -> '2', 1.5000 -> '1.5', 10 -> '10'."""
    return format_decimal(
        Decimal(value).normalize(), locale=_locale(locale), decimal_quantization=False
    )


@lru_cache(maxsize=4096)
def format_day(value: date | None, locale: str | None = None, fmt: str = "medium") -> str:
    """A calendar date, e.g. 'Nov 25, 2026' or '25.11.2026' (cached: lists repeat dates)."""
    return "" if value is None else _babel_date(value, format=fmt, locale=_locale(locale))


def format_instant(value: datetime | None, locale: str | None = None) -> str:
    """An instant in UTC, e.g. 'Nov 25, 2026, 3:14 PM UTC'."""
    if value is None:
        return ""
    return _babel_datetime(value, format="medium", tzinfo=None, locale=_locale(locale)) + " UTC"
