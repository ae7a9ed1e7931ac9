"""A one-click pay link for one invoice, opened without signing in.

The token is HMAC-SHA256(server secret, "pay_link:<id>:<nonce>"): only its SHA-256 hash is
stored, so a copy of the database opens nothing, yet the server can show staff the same link
again (to copy it) without keeping the token. Regenerating draws a new nonce (and hash), which
kills the old link; revoking sets revoked_at.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from billing.db import Base
from billing.models._columns import fk, instant, pk
from billing.models.invoice import Invoice


class PayLink(Base):
    __tablename__ = "pay_links"

    id: Mapped[int] = pk()
    invoice_id: Mapped[int] = fk("invoices.id", ondelete="CASCADE")
    nonce: Mapped[str] = mapped_column(String(32))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = instant(nullable=False)
    expires_at: Mapped[datetime] = instant(nullable=False)
    revoked_at: Mapped[datetime | None] = instant()

    invoice: Mapped[Invoice] = relationship()

    def is_live(self, now: datetime) -> bool:
        return self.revoked_at is None and self.expires_at > now
