"""Invoice management: customer terms, catalog, tax rates, discounts, credit notes

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

import billing.db

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
WHEN = billing.db.UTCDateTime(timezone=True)

INVOICE_CHECKS_BEFORE = {
    "non_negative": "subtotal_minor >= 0 AND discount_minor >= 0 AND tax_minor >= 0 AND total_minor >= 0"
    " AND amount_paid_minor >= 0 AND amount_refunded_minor >= 0 AND amount_due_minor >= 0",
    "total_equation": "total_minor = subtotal_minor - discount_minor + tax_minor",
    "paid_within_total": "amount_paid_minor <= total_minor",
    "due_equation": "amount_due_minor = total_minor - amount_paid_minor",
}
INVOICE_CHECKS_AFTER = {
    "non_negative": INVOICE_CHECKS_BEFORE["non_negative"]
    + " AND amount_credited_minor >= 0 AND tax_inclusive_minor >= 0 AND discount_fixed_minor >= 0",
    "total_equation": "total_minor = subtotal_minor - discount_minor + tax_minor - tax_inclusive_minor",
    "paid_within_total": "amount_paid_minor + amount_credited_minor <= total_minor",
    "due_equation": "amount_due_minor = total_minor - amount_paid_minor - amount_credited_minor",
}
INVOICE_CHECKS_NEW = {
    "inclusive_within_tax": "tax_inclusive_minor <= tax_minor",
    "discount_percent_range": "discount_percent IS NULL OR (discount_percent >= 0 AND discount_percent <= 100)",
    "net_days_non_negative": "net_days IS NULL OR net_days >= 0",
}
LINE_NON_NEGATIVE_BEFORE = (
    "unit_amount_minor >= 0 AND amount_minor >= 0 AND discount_minor >= 0"
    " AND tax_minor >= 0 AND tax_rate >= 0"
)
LINE_NON_NEGATIVE_AFTER = LINE_NON_NEGATIVE_BEFORE + " AND tax_inclusive_minor >= 0 AND discount_fixed_minor >= 0"
PURPOSES_BEFORE = "purpose IN ('magic_link', 'password_reset')"
PURPOSES_AFTER = "purpose IN ('magic_link', 'password_reset', 'invitation')"


def _money(name: str) -> sa.Column:
    return sa.Column(name, sa.BigInteger(), server_default="0", nullable=False)


def upgrade() -> None:
    with op.batch_alter_table("accounts") as batch_op:
        batch_op.add_column(sa.Column("payment_terms_days", sa.Integer(), server_default="30", nullable=False))
        batch_op.add_column(sa.Column("invoice_cc", sa.Text(), server_default="", nullable=False))
        batch_op.add_column(sa.Column("updated_at", WHEN, nullable=True))
        batch_op.create_check_constraint(
            op.f("ck_accounts_terms_range"), "payment_terms_days >= 0 AND payment_terms_days <= 3650"
        )
        batch_op.create_index("ix_accounts_name_id", ["name", "id"], unique=False)

    with op.batch_alter_table("login_tokens") as batch_op:
        batch_op.drop_constraint(op.f("ck_login_tokens_purpose"), type_="check")
        batch_op.create_check_constraint(op.f("ck_login_tokens_purpose"), PURPOSES_AFTER)

    with op.batch_alter_table("emails") as batch_op:
        batch_op.add_column(sa.Column("cc", sa.Text(), server_default="", nullable=False))

    op.create_table(
        "tax_rates",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("percentage", sa.Numeric(precision=7, scale=4), nullable=False),
        sa.Column("is_inclusive", sa.Boolean(), server_default="0", nullable=False),
        sa.Column("is_active", sa.Boolean(), server_default="1", nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
        sa.CheckConstraint("percentage >= 0 AND percentage <= 100", name=op.f("ck_tax_rates_percentage_range")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tax_rates")),
    )
    op.create_table(
        "products",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), server_default="", nullable=False),
        sa.Column("is_active", sa.Boolean(), server_default="1", nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("updated_at", WHEN, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_products")),
    )
    op.create_table(
        "product_prices",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("product_id", ID, nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("unit_amount_minor", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("unit_amount_minor >= 0", name=op.f("ck_product_prices_non_negative")),
        sa.ForeignKeyConstraint(
            ["product_id"], ["products.id"], name=op.f("fk_product_prices_product_id_products"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_product_prices")),
        sa.UniqueConstraint("product_id", "currency", name="uq_product_prices_product_currency"),
    )
    with op.batch_alter_table("product_prices") as batch_op:
        batch_op.create_index(batch_op.f("ix_product_prices_product_id"), ["product_id"], unique=False)
    op.create_table(
        "product_tax_rates",
        sa.Column("product_id", ID, nullable=False),
        sa.Column("tax_rate_id", ID, nullable=False),
        sa.ForeignKeyConstraint(
            ["product_id"], ["products.id"], name=op.f("fk_product_tax_rates_product_id_products"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["tax_rate_id"], ["tax_rates.id"], name=op.f("fk_product_tax_rates_tax_rate_id_tax_rates"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("product_id", "tax_rate_id", name=op.f("pk_product_tax_rates")),
    )

    with op.batch_alter_table("invoices") as batch_op:
        for column in ("amount_credited_minor", "tax_inclusive_minor", "discount_fixed_minor"):
            batch_op.add_column(_money(column))
        batch_op.add_column(sa.Column("discount_percent", sa.Numeric(precision=7, scale=4), nullable=True))
        batch_op.add_column(sa.Column("net_days", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("footer", sa.Text(), server_default="", nullable=False))
        batch_op.add_column(sa.Column("sent_at", WHEN, nullable=True))
        for name in INVOICE_CHECKS_BEFORE:
            batch_op.drop_constraint(op.f(f"ck_invoices_{name}"), type_="check")
        for name, sql in (INVOICE_CHECKS_AFTER | INVOICE_CHECKS_NEW).items():
            batch_op.create_check_constraint(op.f(f"ck_invoices_{name}"), sql)

    with op.batch_alter_table("invoice_lines") as batch_op:
        batch_op.add_column(sa.Column("product_id", ID, nullable=True))
        batch_op.add_column(sa.Column("discount_percent", sa.Numeric(precision=7, scale=4), nullable=True))
        batch_op.add_column(_money("discount_fixed_minor"))
        batch_op.add_column(_money("tax_inclusive_minor"))
        batch_op.create_foreign_key(
            op.f("fk_invoice_lines_product_id_products"), "products", ["product_id"], ["id"], ondelete="SET NULL"
        )
        batch_op.create_index(batch_op.f("ix_invoice_lines_product_id"), ["product_id"], unique=False)
        batch_op.drop_constraint(op.f("ck_invoice_lines_non_negative"), type_="check")
        batch_op.create_check_constraint(op.f("ck_invoice_lines_non_negative"), LINE_NON_NEGATIVE_AFTER)
        batch_op.create_check_constraint(
            op.f("ck_invoice_lines_inclusive_within_tax"), "tax_inclusive_minor <= tax_minor"
        )

    op.create_table(
        "invoice_line_taxes",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("invoice_line_id", ID, nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("tax_rate_id", ID, nullable=True),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("percentage", sa.Numeric(precision=7, scale=4), nullable=False),
        sa.Column("is_inclusive", sa.Boolean(), server_default="0", nullable=False),
        _money("amount_minor"),
        sa.CheckConstraint(
            "percentage >= 0 AND percentage <= 100 AND amount_minor >= 0", name=op.f("ck_invoice_line_taxes_in_range")
        ),
        sa.ForeignKeyConstraint(
            ["invoice_line_id"], ["invoice_lines.id"],
            name=op.f("fk_invoice_line_taxes_invoice_line_id_invoice_lines"), ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tax_rate_id"], ["tax_rates.id"], name=op.f("fk_invoice_line_taxes_tax_rate_id_tax_rates"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invoice_line_taxes")),
        sa.UniqueConstraint("invoice_line_id", "position", name="uq_invoice_line_taxes_line_position"),
    )
    with op.batch_alter_table("invoice_line_taxes") as batch_op:
        batch_op.create_index(batch_op.f("ix_invoice_line_taxes_invoice_line_id"), ["invoice_line_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_invoice_line_taxes_tax_rate_id"), ["tax_rate_id"], unique=False)
    # Lines written before line taxes existed keep their single exclusive rate as one tax.
    op.execute(
        "INSERT INTO invoice_line_taxes (invoice_line_id, position, name, percentage, is_inclusive, amount_minor) "
        "SELECT id, 0, 'Tax', tax_rate, false, tax_minor FROM invoice_lines WHERE tax_rate > 0"
    )

    op.create_table(
        "credit_notes",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("account_id", ID, nullable=False),
        sa.Column("invoice_id", ID, nullable=False),
        sa.Column("number", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("issue_date", sa.Date(), nullable=False),
        sa.Column("reason", sa.Text(), server_default="", nullable=False),
        _money("amount_minor"),
        _money("tax_minor"),
        _money("applied_to_due_minor"),
        _money("outside_minor"),
        sa.Column("settlement", sa.String(length=16), nullable=False),
        sa.Column("settlement_status", sa.String(length=16), nullable=False),
        sa.Column("settlement_error", sa.Text(), server_default="", nullable=False),
        sa.Column("payment_id", ID, nullable=True),
        sa.Column("refund_id", ID, nullable=True),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("settled_at", WHEN, nullable=True),
        sa.Column("sent_at", WHEN, nullable=True),
        sa.CheckConstraint("kind IN ('full', 'lines', 'amount')", name=op.f("ck_credit_notes_kind")),
        sa.CheckConstraint(
            "settlement IN ('none', 'refund', 'account_credit')", name=op.f("ck_credit_notes_settlement")
        ),
        sa.CheckConstraint(
            "settlement_status IN ('not_needed', 'pending', 'done', 'failed')",
            name=op.f("ck_credit_notes_settlement_status"),
        ),
        sa.CheckConstraint("amount_minor > 0", name=op.f("ck_credit_notes_amount_positive")),
        sa.CheckConstraint("tax_minor >= 0 AND tax_minor <= amount_minor", name=op.f("ck_credit_notes_tax_within_amount")),
        sa.CheckConstraint(
            "applied_to_due_minor >= 0 AND outside_minor >= 0 AND applied_to_due_minor + outside_minor = amount_minor",
            name=op.f("ck_credit_notes_split_equation"),
        ),
        sa.CheckConstraint(
            "(outside_minor = 0) = (settlement = 'none')", name=op.f("ck_credit_notes_settled_only_when_outside")
        ),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"], name=op.f("fk_credit_notes_account_id_accounts")),
        sa.ForeignKeyConstraint(["invoice_id"], ["invoices.id"], name=op.f("fk_credit_notes_invoice_id_invoices")),
        sa.ForeignKeyConstraint(["payment_id"], ["payments.id"], name=op.f("fk_credit_notes_payment_id_payments")),
        sa.ForeignKeyConstraint(["refund_id"], ["refunds.id"], name=op.f("fk_credit_notes_refund_id_refunds")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_credit_notes")),
        sa.UniqueConstraint("number", name=op.f("uq_credit_notes_number")),
    )
    with op.batch_alter_table("credit_notes") as batch_op:
        batch_op.create_index(batch_op.f("ix_credit_notes_account_id"), ["account_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_credit_notes_invoice_id"), ["invoice_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_credit_notes_payment_id"), ["payment_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_credit_notes_refund_id"), ["refund_id"], unique=False)
    op.create_table(
        "credit_note_lines",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("credit_note_id", ID, nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("invoice_line_id", ID, nullable=True),
        sa.Column("description", sa.String(length=500), nullable=False),
        sa.Column("quantity", sa.Numeric(precision=18, scale=4), nullable=False),
        _money("amount_minor"),
        _money("tax_minor"),
        sa.CheckConstraint("quantity > 0", name=op.f("ck_credit_note_lines_quantity_positive")),
        sa.CheckConstraint(
            "tax_minor >= 0 AND tax_minor <= amount_minor", name=op.f("ck_credit_note_lines_tax_within_amount")
        ),
        sa.ForeignKeyConstraint(
            ["credit_note_id"], ["credit_notes.id"],
            name=op.f("fk_credit_note_lines_credit_note_id_credit_notes"), ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["invoice_line_id"], ["invoice_lines.id"], name=op.f("fk_credit_note_lines_invoice_line_id_invoice_lines")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_credit_note_lines")),
        sa.UniqueConstraint("credit_note_id", "position", name="uq_credit_note_lines_note_position"),
    )
    with op.batch_alter_table("credit_note_lines") as batch_op:
        batch_op.create_index(batch_op.f("ix_credit_note_lines_credit_note_id"), ["credit_note_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_credit_note_lines_invoice_line_id"), ["invoice_line_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("credit_note_lines") as batch_op:
        batch_op.drop_index(batch_op.f("ix_credit_note_lines_invoice_line_id"))
        batch_op.drop_index(batch_op.f("ix_credit_note_lines_credit_note_id"))
    op.drop_table("credit_note_lines")
    with op.batch_alter_table("credit_notes") as batch_op:
        batch_op.drop_index(batch_op.f("ix_credit_notes_refund_id"))
        batch_op.drop_index(batch_op.f("ix_credit_notes_payment_id"))
        batch_op.drop_index(batch_op.f("ix_credit_notes_invoice_id"))
        batch_op.drop_index(batch_op.f("ix_credit_notes_account_id"))
    op.drop_table("credit_notes")
    with op.batch_alter_table("invoice_line_taxes") as batch_op:
        batch_op.drop_index(batch_op.f("ix_invoice_line_taxes_tax_rate_id"))
        batch_op.drop_index(batch_op.f("ix_invoice_line_taxes_invoice_line_id"))
    op.drop_table("invoice_line_taxes")

    with op.batch_alter_table("invoice_lines") as batch_op:
        batch_op.drop_constraint(op.f("ck_invoice_lines_inclusive_within_tax"), type_="check")
        batch_op.drop_constraint(op.f("ck_invoice_lines_non_negative"), type_="check")
        batch_op.create_check_constraint(op.f("ck_invoice_lines_non_negative"), LINE_NON_NEGATIVE_BEFORE)
        batch_op.drop_index(batch_op.f("ix_invoice_lines_product_id"))
        batch_op.drop_constraint(op.f("fk_invoice_lines_product_id_products"), type_="foreignkey")
        for column in ("tax_inclusive_minor", "discount_fixed_minor", "discount_percent", "product_id"):
            batch_op.drop_column(column)

    with op.batch_alter_table("invoices") as batch_op:
        for name in (*INVOICE_CHECKS_AFTER, *INVOICE_CHECKS_NEW):
            batch_op.drop_constraint(op.f(f"ck_invoices_{name}"), type_="check")
        for name, sql in INVOICE_CHECKS_BEFORE.items():
            batch_op.create_check_constraint(op.f(f"ck_invoices_{name}"), sql)
        for column in (
            "sent_at", "footer", "net_days", "discount_percent",
            "discount_fixed_minor", "tax_inclusive_minor", "amount_credited_minor",
        ):
            batch_op.drop_column(column)

    op.drop_table("product_tax_rates")
    with op.batch_alter_table("product_prices") as batch_op:
        batch_op.drop_index(batch_op.f("ix_product_prices_product_id"))
    op.drop_table("product_prices")
    op.drop_table("products")
    op.drop_table("tax_rates")

    with op.batch_alter_table("emails") as batch_op:
        batch_op.drop_column("cc")
    op.execute("DELETE FROM login_tokens WHERE purpose = 'invitation'")
    with op.batch_alter_table("login_tokens") as batch_op:
        batch_op.drop_constraint(op.f("ck_login_tokens_purpose"), type_="check")
        batch_op.create_check_constraint(op.f("ck_login_tokens_purpose"), PURPOSES_BEFORE)
    with op.batch_alter_table("accounts") as batch_op:
        batch_op.drop_index("ix_accounts_name_id")
        batch_op.drop_constraint(op.f("ck_accounts_terms_range"), type_="check")
        for column in ("updated_at", "invoice_cc", "payment_terms_days"):
            batch_op.drop_column(column)
