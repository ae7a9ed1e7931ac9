"""Quotes, orders from other systems and API keys

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

import billing.db

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
INSTANT = billing.db.UTCDateTime(timezone=True)

QUOTE_STATUSES = "'draft', 'sent', 'accepted', 'declined', 'expired', 'converted'"
CONVERSIONS = "'off', 'draft', 'finalize'"


def _money(name: str) -> sa.Column:
    return sa.Column(name, sa.BigInteger(), server_default="0", nullable=False)


def _lines_columns(parent: str) -> list:
    return [
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column(f"{parent}_id", ID, nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("description", sa.String(length=500), nullable=False),
        sa.Column("quantity", sa.Numeric(precision=18, scale=4), nullable=False),
        sa.Column("unit_amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("tax_rate", sa.Numeric(precision=7, scale=4), nullable=False),
    ]


def upgrade() -> None:
    with op.batch_alter_table("accounts") as batch_op:
        batch_op.add_column(sa.Column("external_id", sa.String(length=100), nullable=True))
        # A unique index (not a constraint), so SQLite adds it without rebuilding the table.
        batch_op.create_index(batch_op.f("ix_accounts_external_id"), ["external_id"], unique=True)
    with op.batch_alter_table("company_settings") as batch_op:
        batch_op.add_column(
            sa.Column("quote_auto_convert", sa.String(length=8), server_default="off", nullable=False)
        )

    op.create_table(
        "api_keys",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("prefix", sa.String(length=16), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("scopes", sa.String(length=200), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", INSTANT, nullable=False),
        sa.Column("revoked_at", INSTANT, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_keys")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_api_keys_token_hash")),
    )
    op.create_table(
        "api_key_usage",
        sa.Column("api_key_id", ID, nullable=False),
        sa.Column("window_start", INSTANT, nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["api_key_id"], ["api_keys.id"], name=op.f("fk_api_key_usage_api_key_id_api_keys"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("api_key_id", "window_start", name=op.f("pk_api_key_usage")),
    )

    op.create_table(
        "quotes",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("account_id", ID, nullable=False),
        sa.Column("number", sa.String(length=32), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("issue_date", sa.Date(), nullable=False),
        sa.Column("expiry_date", sa.Date(), nullable=False),
        _money("subtotal_minor"),
        _money("discount_minor"),
        _money("tax_minor"),
        _money("total_minor"),
        sa.Column("memo", sa.Text(), server_default="", nullable=False),
        sa.Column("link_nonce", sa.String(length=32), nullable=True),
        sa.Column("link_token_hash", sa.String(length=64), nullable=True),
        sa.Column("accepted_name", sa.String(length=200), server_default="", nullable=False),
        sa.Column("decline_reason", sa.Text(), server_default="", nullable=False),
        sa.Column("responded_ip", sa.String(length=45), server_default="", nullable=False),
        sa.Column("auto_convert", sa.String(length=8), nullable=True),
        sa.Column("conversion_started_at", INSTANT, nullable=True),
        sa.Column("invoice_id", ID, nullable=True),
        sa.Column("created_at", INSTANT, nullable=False),
        sa.Column("sent_at", INSTANT, nullable=True),
        sa.Column("responded_at", INSTANT, nullable=True),
        sa.Column("expired_at", INSTANT, nullable=True),
        sa.Column("converted_at", INSTANT, nullable=True),
        sa.CheckConstraint(f"status IN ({QUOTE_STATUSES})", name=op.f("ck_quotes_status")),
        sa.CheckConstraint(
            "status = 'draft' OR number IS NOT NULL", name=op.f("ck_quotes_numbered_once_sent")
        ),
        sa.CheckConstraint(
            "status <> 'converted' OR invoice_id IS NOT NULL",
            name=op.f("ck_quotes_converted_linked"),
        ),
        sa.CheckConstraint(
            f"auto_convert IS NULL OR auto_convert IN ({CONVERSIONS})",
            name=op.f("ck_quotes_auto_convert"),
        ),
        sa.CheckConstraint(
            "subtotal_minor >= 0 AND discount_minor >= 0 AND tax_minor >= 0 AND total_minor >= 0",
            name=op.f("ck_quotes_non_negative"),
        ),
        sa.CheckConstraint(
            "discount_minor <= subtotal_minor", name=op.f("ck_quotes_discount_within_subtotal")
        ),
        sa.CheckConstraint(
            "total_minor = subtotal_minor - discount_minor + tax_minor",
            name=op.f("ck_quotes_total_equation"),
        ),
        sa.CheckConstraint("expiry_date >= issue_date", name=op.f("ck_quotes_expiry_after_issue")),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_quotes_account_id_accounts")
        ),
        sa.ForeignKeyConstraint(
            ["invoice_id"], ["invoices.id"], name=op.f("fk_quotes_invoice_id_invoices")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_quotes")),
        sa.UniqueConstraint("number", name=op.f("uq_quotes_number")),
        sa.UniqueConstraint("link_token_hash", name=op.f("uq_quotes_link_token_hash")),
        sa.UniqueConstraint("invoice_id", name="uq_quotes_invoice_id"),
    )
    with op.batch_alter_table("quotes") as batch_op:
        batch_op.create_index("ix_quotes_account_issue", ["account_id", "issue_date", "id"])
        batch_op.create_index("ix_quotes_status_expiry", ["status", "expiry_date"])

    op.create_table(
        "quote_lines",
        *_lines_columns("quote"),
        _money("amount_minor"),
        _money("discount_minor"),
        _money("tax_minor"),
        sa.CheckConstraint(
            "discount_minor <= amount_minor", name=op.f("ck_quote_lines_discount_within_amount")
        ),
        sa.CheckConstraint("quantity > 0", name=op.f("ck_quote_lines_quantity_positive")),
        sa.CheckConstraint(
            "unit_amount_minor >= 0 AND amount_minor >= 0 AND discount_minor >= 0"
            " AND tax_minor >= 0 AND tax_rate >= 0",
            name=op.f("ck_quote_lines_non_negative"),
        ),
        sa.ForeignKeyConstraint(
            ["quote_id"], ["quotes.id"], name=op.f("fk_quote_lines_quote_id_quotes"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_quote_lines")),
        sa.UniqueConstraint("quote_id", "position", name="uq_quote_lines_quote_position"),
    )
    with op.batch_alter_table("quote_lines") as batch_op:
        batch_op.create_index(batch_op.f("ix_quote_lines_quote_id"), ["quote_id"])

    op.create_table(
        "orders",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("api_key_id", ID, nullable=False),
        sa.Column("idempotency_key", sa.String(length=255), nullable=False),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("account_id", ID, nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reference", sa.String(length=100), server_default="", nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        _money("discount_minor"),
        sa.Column("memo", sa.Text(), server_default="", nullable=False),
        sa.Column("issue_date", sa.Date(), nullable=False),
        sa.Column("due_date", sa.Date(), nullable=True),
        sa.Column("finalize", sa.Boolean(), server_default="0", nullable=False),
        sa.Column("send", sa.Boolean(), server_default="0", nullable=False),
        sa.Column("invoice_id", ID, nullable=True),
        sa.Column("conversion_started_at", INSTANT, nullable=True),
        sa.Column("created_at", INSTANT, nullable=False),
        sa.Column("completed_at", INSTANT, nullable=True),
        sa.CheckConstraint("status IN ('pending', 'completed')", name=op.f("ck_orders_status")),
        sa.CheckConstraint(
            "status = 'pending' OR invoice_id IS NOT NULL", name=op.f("ck_orders_completed_linked")
        ),
        sa.CheckConstraint(
            "due_date IS NULL OR due_date >= issue_date", name=op.f("ck_orders_due_after_issue")
        ),
        sa.CheckConstraint("discount_minor >= 0", name=op.f("ck_orders_non_negative")),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_orders_account_id_accounts")
        ),
        sa.ForeignKeyConstraint(
            ["api_key_id"], ["api_keys.id"], name=op.f("fk_orders_api_key_id_api_keys")
        ),
        sa.ForeignKeyConstraint(
            ["invoice_id"], ["invoices.id"], name=op.f("fk_orders_invoice_id_invoices")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_orders")),
        sa.UniqueConstraint(
            "api_key_id", "idempotency_key", name="uq_orders_api_key_idempotency"
        ),
        sa.UniqueConstraint("invoice_id", name="uq_orders_invoice_id"),
    )
    with op.batch_alter_table("orders") as batch_op:
        batch_op.create_index(batch_op.f("ix_orders_account_id"), ["account_id"])

    op.create_table(
        "order_lines",
        *_lines_columns("order"),
        sa.CheckConstraint("quantity > 0", name=op.f("ck_order_lines_quantity_positive")),
        sa.CheckConstraint(
            "unit_amount_minor >= 0 AND tax_rate >= 0", name=op.f("ck_order_lines_non_negative")
        ),
        sa.ForeignKeyConstraint(
            ["order_id"], ["orders.id"], name=op.f("fk_order_lines_order_id_orders"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_order_lines")),
        sa.UniqueConstraint("order_id", "position", name="uq_order_lines_order_position"),
    )
    with op.batch_alter_table("order_lines") as batch_op:
        batch_op.create_index(batch_op.f("ix_order_lines_order_id"), ["order_id"])


def downgrade() -> None:
    with op.batch_alter_table("order_lines") as batch_op:
        batch_op.drop_index(batch_op.f("ix_order_lines_order_id"))
    op.drop_table("order_lines")
    with op.batch_alter_table("orders") as batch_op:
        batch_op.drop_index(batch_op.f("ix_orders_account_id"))
    op.drop_table("orders")
    with op.batch_alter_table("quote_lines") as batch_op:
        batch_op.drop_index(batch_op.f("ix_quote_lines_quote_id"))
    op.drop_table("quote_lines")
    with op.batch_alter_table("quotes") as batch_op:
        batch_op.drop_index("ix_quotes_status_expiry")
        batch_op.drop_index("ix_quotes_account_issue")
    op.drop_table("quotes")
    op.drop_table("api_key_usage")
    op.drop_table("api_keys")
    with op.batch_alter_table("company_settings") as batch_op:
        batch_op.drop_column("quote_auto_convert")
    with op.batch_alter_table("accounts") as batch_op:
        batch_op.drop_index(batch_op.f("ix_accounts_external_id"))
        batch_op.drop_column("external_id")
