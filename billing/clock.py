"""Time is aware UTC everywhere. Services take `now` as an argument; only adapters call utcnow()."""

from datetime import UTC, datetime


def utcnow() -> datetime:
    return datetime.now(UTC)
