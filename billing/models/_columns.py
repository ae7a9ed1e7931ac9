"""Column helpers, so every table spells ids, money and instants the same way."""

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey
from sqlalchemy.orm import Mapped, mapped_column

from billing.db import BigIntPK, UTCDateTime


def pk() -> Mapped[int]:
    return mapped_column(BigIntPK, primary_key=True, autoincrement=True)


def fk(target: str, *, nullable: bool = False, index: bool = True, ondelete: str | None = None):
    return mapped_column(
        BigIntPK, ForeignKey(target, ondelete=ondelete), nullable=nullable, index=index
    )


def money(default: int = 0) -> Mapped[int]:
    return mapped_column(BigInteger, nullable=False, default=default, server_default=str(default))


def instant(*, nullable: bool = True) -> Mapped[datetime | None]:
    return mapped_column(UTCDateTime(), nullable=nullable)
