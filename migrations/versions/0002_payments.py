"""Payments: processor settings, saved cards, payment attempts, webhook events, pay links, account credit

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

import billing.db

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "pay_links",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("invoice_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("nonce", sa.String(length=32), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", billing.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", billing.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", billing.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["invoice_id"], ["invoices.id"], name=op.f("fk_pay_links_invoice_id_invoices"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pay_links")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_pay_links_token_hash")),
    )
    with op.batch_alter_table("pay_links") as batch_op:
        batch_op.create_index(batch_op.f("ix_pay_links_invoice_id"), ["invoice_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("pay_links") as batch_op:
        batch_op.drop_index(batch_op.f("ix_pay_links_invoice_id"))
    op.drop_table("pay_links")
