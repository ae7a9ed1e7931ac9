"""Money going back and forward: account credit, offline and card refunds, the Pay Now widget

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

import billing.db

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
METHODS_BEFORE = "method IN ('card', 'check', 'cash', 'bank_transfer', 'other')"
METHODS_AFTER = "method IN ('card', 'check', 'cash', 'bank_transfer', 'other', 'account_credit')"
KINDS = (
    "kind IN ('overpayment', 'applied', 'credit_note', 'refund_reversal', 'restored', "
    "'adjustment')"
)


def upgrade() -> None:
    op.create_table(
        "account_credits",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("account_id", ID, nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), server_default="", nullable=False),
        sa.Column("payment_id", ID, nullable=True),
        sa.Column("invoice_id", ID, nullable=True),
        sa.Column("refund_id", ID, nullable=True),
        sa.Column("credit_note_id", sa.BigInteger(), nullable=True),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("created_at", billing.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("amount_minor <> 0", name=op.f("ck_account_credits_amount_nonzero")),
        sa.CheckConstraint(KINDS, name=op.f("ck_account_credits_kind")),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"], name=op.f("fk_account_credits_account_id_accounts")),
        sa.ForeignKeyConstraint(["invoice_id"], ["invoices.id"], name=op.f("fk_account_credits_invoice_id_invoices")),
        sa.ForeignKeyConstraint(["payment_id"], ["payments.id"], name=op.f("fk_account_credits_payment_id_payments")),
        sa.ForeignKeyConstraint(["refund_id"], ["refunds.id"], name=op.f("fk_account_credits_refund_id_refunds")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_account_credits")),
    )
    with op.batch_alter_table("account_credits") as batch_op:
        batch_op.create_index("ix_account_credits_account_currency", ["account_id", "currency", "id"], unique=False)
        batch_op.create_index("ix_account_credits_payment", ["payment_id"], unique=False)

    with op.batch_alter_table("payments") as batch_op:
        batch_op.drop_constraint(op.f("ck_payments_method"), type_="check")
        batch_op.create_check_constraint(op.f("ck_payments_method"), METHODS_AFTER)

    with op.batch_alter_table("payment_allocations") as batch_op:
        batch_op.add_column(sa.Column("amount_refunded_minor", sa.BigInteger(), server_default="0", nullable=False))
        batch_op.create_check_constraint(
            op.f("ck_payment_allocations_refund_within_amount"),
            "amount_refunded_minor >= 0 AND amount_refunded_minor <= amount_minor",
        )

    with op.batch_alter_table("refunds") as batch_op:
        batch_op.add_column(sa.Column("reference", sa.String(length=200), server_default="", nullable=False))
        batch_op.add_column(sa.Column("failure_message", sa.Text(), server_default="", nullable=False))
        batch_op.create_index("ix_refunds_status_created", ["status", "created_at"], unique=False)

    with op.batch_alter_table("company_settings") as batch_op:
        batch_op.add_column(sa.Column("allow_account_credit", sa.Boolean(), server_default="1", nullable=False))

    op.create_table(
        "pay_widgets",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("public_key", sa.String(length=32), nullable=False),
        sa.Column("title", sa.String(length=100), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("fixed_amount_minor", sa.BigInteger(), nullable=True),
        sa.Column("min_amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("max_amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("allowed_origins", sa.Text(), server_default="", nullable=False),
        sa.Column("create_invoice", sa.Boolean(), server_default="0", nullable=False),
        sa.Column("is_active", sa.Boolean(), server_default="1", nullable=False),
        sa.Column("created_at", billing.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", billing.db.UTCDateTime(timezone=True), nullable=True),
        sa.CheckConstraint("fixed_amount_minor IS NULL OR fixed_amount_minor > 0", name=op.f("ck_pay_widgets_fixed_amount_positive")),
        sa.CheckConstraint("min_amount_minor > 0 AND max_amount_minor >= min_amount_minor", name=op.f("ck_pay_widgets_amount_range")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pay_widgets")),
        sa.UniqueConstraint("public_key", name=op.f("uq_pay_widgets_public_key")),
    )
    op.create_table(
        "widget_payments",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("widget_id", ID, nullable=False),
        sa.Column("payment_id", ID, nullable=False),
        sa.Column("invoice_id", ID, nullable=True),
        sa.Column("payer_name", sa.String(length=200), nullable=False),
        sa.Column("payer_email", sa.String(length=320), nullable=False),
        sa.Column("description", sa.String(length=500), server_default="", nullable=False),
        sa.Column("ip", sa.String(length=45), server_default="", nullable=False),
        sa.Column("created_at", billing.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["invoice_id"], ["invoices.id"], name=op.f("fk_widget_payments_invoice_id_invoices")),
        sa.ForeignKeyConstraint(["payment_id"], ["payments.id"], name=op.f("fk_widget_payments_payment_id_payments")),
        sa.ForeignKeyConstraint(["widget_id"], ["pay_widgets.id"], name=op.f("fk_widget_payments_widget_id_pay_widgets")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_widget_payments")),
        sa.UniqueConstraint("payment_id", name=op.f("uq_widget_payments_payment_id")),
    )
    with op.batch_alter_table("widget_payments") as batch_op:
        batch_op.create_index(batch_op.f("ix_widget_payments_widget_id"), ["widget_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("widget_payments") as batch_op:
        batch_op.drop_index(batch_op.f("ix_widget_payments_widget_id"))
    op.drop_table("widget_payments")
    op.drop_table("pay_widgets")
    with op.batch_alter_table("company_settings") as batch_op:
        batch_op.drop_column("allow_account_credit")
    with op.batch_alter_table("refunds") as batch_op:
        batch_op.drop_index("ix_refunds_status_created")
        batch_op.drop_column("failure_message")
        batch_op.drop_column("reference")
    with op.batch_alter_table("payment_allocations") as batch_op:
        batch_op.drop_constraint(op.f("ck_payment_allocations_refund_within_amount"), type_="check")
        batch_op.drop_column("amount_refunded_minor")
    # Payments made from credit stay (invoices' paid amounts rely on them), labelled "other".
    op.execute("UPDATE payments SET method = 'other', reference = 'Account credit' WHERE method = 'account_credit'")
    with op.batch_alter_table("payments") as batch_op:
        batch_op.drop_constraint(op.f("ck_payments_method"), type_="check")
        batch_op.create_check_constraint(op.f("ck_payments_method"), METHODS_BEFORE)
    with op.batch_alter_table("account_credits") as batch_op:
        batch_op.drop_index("ix_account_credits_payment")
        batch_op.drop_index("ix_account_credits_account_currency")
    op.drop_table("account_credits")
