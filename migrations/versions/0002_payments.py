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

    op.create_table(
        "processor_settings",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("stripe_secret_key_encrypted", sa.Text(), nullable=True),
        sa.Column("stripe_secret_key_hint", sa.String(length=40), server_default="", nullable=False),
        sa.Column("stripe_publishable_key", sa.String(length=255), server_default="", nullable=False),
        sa.Column("stripe_webhook_secret_encrypted", sa.Text(), nullable=True),
        sa.Column("stripe_webhook_secret_hint", sa.String(length=40), server_default="", nullable=False),
        sa.Column("allow_partial_payments", sa.Boolean(), server_default="1", nullable=False),
        sa.Column("updated_at", billing.db.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_processor_settings")),
    )
    op.create_table(
        "saved_cards",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("account_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("processor_payment_method_id", sa.String(length=64), nullable=False),
        sa.Column("brand", sa.String(length=32), nullable=False),
        sa.Column("last4", sa.String(length=4), nullable=False),
        sa.Column("exp_month", sa.Integer(), nullable=False),
        sa.Column("exp_year", sa.Integer(), nullable=False),
        sa.Column("is_default", sa.Boolean(), server_default="0", nullable=False),
        sa.Column("created_at", billing.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("removed_at", billing.db.UTCDateTime(timezone=True), nullable=True),
        sa.CheckConstraint("exp_month BETWEEN 1 AND 12", name=op.f("ck_saved_cards_exp_month")),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"], name=op.f("fk_saved_cards_account_id_accounts")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_saved_cards")),
        sa.UniqueConstraint("processor_payment_method_id", name=op.f("uq_saved_cards_processor_payment_method_id")),
    )
    with op.batch_alter_table("saved_cards") as batch_op:
        batch_op.create_index("ix_saved_cards_account_removed", ["account_id", "removed_at"], unique=False)

    op.create_table(
        "webhook_events",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("processor", sa.String(length=16), nullable=False),
        sa.Column("processor_event_id", sa.String(length=255), nullable=False),
        sa.Column("type", sa.String(length=100), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("last_error", sa.Text(), server_default="", nullable=False),
        sa.Column("note", sa.Text(), server_default="", nullable=False),
        sa.Column("received_at", billing.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("processed_at", billing.db.UTCDateTime(timezone=True), nullable=True),
        sa.CheckConstraint("status IN ('received', 'processed', 'ignored', 'failed')", name=op.f("ck_webhook_events_status")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_events")),
        sa.UniqueConstraint("processor_event_id", name=op.f("uq_webhook_events_processor_event_id")),
    )
    with op.batch_alter_table("webhook_events") as batch_op:
        batch_op.create_index("ix_webhook_events_received", ["received_at", "id"], unique=False)
        batch_op.create_index("ix_webhook_events_status_received", ["status", "received_at"], unique=False)

    with op.batch_alter_table("payments") as batch_op:
        batch_op.add_column(sa.Column("processor_payment_method_id", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("processor_requested_at", billing.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.drop_constraint(op.f("ck_payments_status"), type_="check")
        batch_op.create_check_constraint(
            op.f("ck_payments_status"),
            "status IN ('pending', 'requires_action', 'succeeded', 'failed', 'canceled')",
        )
        batch_op.create_index("ix_payments_status_created", ["status", "created_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("payments") as batch_op:
        batch_op.drop_index("ix_payments_status_created")
        batch_op.drop_constraint(op.f("ck_payments_status"), type_="check")
        batch_op.create_check_constraint(
            op.f("ck_payments_status"), "status IN ('pending', 'succeeded', 'failed', 'canceled')"
        )
        batch_op.drop_column("processor_requested_at")
        batch_op.drop_column("processor_payment_method_id")
    with op.batch_alter_table("webhook_events") as batch_op:
        batch_op.drop_index("ix_webhook_events_status_received")
        batch_op.drop_index("ix_webhook_events_received")
    op.drop_table("webhook_events")
    with op.batch_alter_table("saved_cards") as batch_op:
        batch_op.drop_index("ix_saved_cards_account_removed")
    op.drop_table("saved_cards")
    op.drop_table("processor_settings")
    with op.batch_alter_table("pay_links") as batch_op:
        batch_op.drop_index(batch_op.f("ix_pay_links_invoice_id"))
    op.drop_table("pay_links")
