"""API keys for other systems (a CRM, a shop) and the per-minute counters that rate-limit them.

A key is shown once when staff create it; only its SHA-256 hash is stored (it carries 256 bits
of randomness, so a fast hash is right). `prefix` (the first characters) lets staff tell keys
apart. `scopes` is a space-separated subset of SCOPES. Revoking sets revoked_at: the key stops
working at once and stays listed for the audit trail.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from billing.db import Base, BigIntPK, UTCDateTime
from billing.models._columns import instant, pk

# scope -> what it allows (shown to staff when they create a key)
SCOPES: dict[str, str] = {
    "orders:write": "Create orders (they become invoices) and read the invoices they created",
    "invoices:read": "Read any invoice's status and amounts",
}


class ApiKey(Base):
    __tablename__ = "api_keys"

    id: Mapped[int] = pk()
    name: Mapped[str] = mapped_column(String(100))
    prefix: Mapped[str] = mapped_column(String(16))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    scopes: Mapped[str] = mapped_column(String(200))
    created_by: Mapped[str] = mapped_column(String(64))  # the staff actor, "staff:3"
    created_at: Mapped[datetime] = instant(nullable=False)
    revoked_at: Mapped[datetime | None] = instant()

    @property
    def scope_set(self) -> frozenset[str]:
        return frozenset(self.scopes.split())

    @property
    def actor(self) -> str:
        """How audit entries name this key."""
        return f"api_key:{self.id}"

    def __repr__(self) -> str:
        return f"<ApiKey {self.id} {self.prefix}… {self.scopes!r}>"


class ApiKeyUsage(Base):
    """Requests made with one key in one minute (a fixed-window rate limit)."""

    __tablename__ = "api_key_usage"

    api_key_id: Mapped[int] = mapped_column(
        BigIntPK, ForeignKey("api_keys.id", ondelete="CASCADE"), primary_key=True
    )
    window_start: Mapped[datetime] = mapped_column(UTCDateTime(), primary_key=True)
    count: Mapped[int] = mapped_column(Integer, default=0)
