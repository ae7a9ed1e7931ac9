"""Quote lines get what invoice lines have: catalog product, several taxes (inclusive or not),
line and quote discounts as a percent or an amount

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

QUOTE_NON_NEGATIVE = (
    "subtotal_minor >= 0 AND discount_minor >= 0 AND tax_minor >= 0 AND total_minor >= 0"
)
LINE_NON_NEGATIVE = (
    "unit_amount_minor >= 0 AND amount_minor >= 0 AND discount_minor >= 0"
    " AND tax_minor >= 0 AND tax_rate >= 0"
)


def _money(name: str) -> sa.Column:
    return sa.Column(name, sa.BigInteger(), server_default="0", nullable=False)


def upgrade() -> None:
    with op.batch_alter_table("quotes") as batch:
        batch.add_column(_money("tax_inclusive_minor"))
        batch.add_column(sa.Column("discount_percent", sa.Numeric(7, 4), nullable=True))
        batch.add_column(_money("discount_fixed_minor"))
        batch.drop_constraint(op.f("ck_quotes_total_equation"), type_="check")
        batch.drop_constraint(op.f("ck_quotes_non_negative"), type_="check")
        batch.create_check_constraint(
            "total_equation",
            "total_minor = subtotal_minor - discount_minor + tax_minor - tax_inclusive_minor",
        )
        batch.create_check_constraint(
            "non_negative",
            QUOTE_NON_NEGATIVE + " AND tax_inclusive_minor >= 0 AND discount_fixed_minor >= 0",
        )
        batch.create_check_constraint("inclusive_within_tax", "tax_inclusive_minor <= tax_minor")
        batch.create_check_constraint(
            "discount_percent_range",
            "discount_percent IS NULL OR (discount_percent >= 0 AND discount_percent <= 100)",
        )
    # A quote's discount so far was always an amount.
    op.execute("UPDATE quotes SET discount_fixed_minor = discount_minor")

    with op.batch_alter_table("quote_lines") as batch:
        batch.add_column(sa.Column("product_id", ID, nullable=True))
        batch.add_column(sa.Column("discount_percent", sa.Numeric(7, 4), nullable=True))
        batch.add_column(_money("discount_fixed_minor"))
        batch.add_column(_money("tax_inclusive_minor"))
        batch.create_foreign_key(
            op.f("fk_quote_lines_product_id_products"),
            "products",
            ["product_id"],
            ["id"],
            ondelete="SET NULL",
        )
        batch.create_index(op.f("ix_quote_lines_product_id"), ["product_id"], unique=False)
        batch.drop_constraint(op.f("ck_quote_lines_non_negative"), type_="check")
        batch.create_check_constraint(
            "non_negative",
            LINE_NON_NEGATIVE + " AND tax_inclusive_minor >= 0 AND discount_fixed_minor >= 0",
        )
        batch.create_check_constraint("inclusive_within_tax", "tax_inclusive_minor <= tax_minor")

    op.create_table(
        "quote_line_taxes",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("quote_line_id", ID, nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("tax_rate_id", ID, nullable=True),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("percentage", sa.Numeric(precision=7, scale=4), nullable=False),
        sa.Column("is_inclusive", sa.Boolean(), server_default="0", nullable=False),
        _money("amount_minor"),
        sa.CheckConstraint(
            "percentage >= 0 AND percentage <= 100 AND amount_minor >= 0",
            name=op.f("ck_quote_line_taxes_in_range"),
        ),
        sa.ForeignKeyConstraint(
            ["quote_line_id"],
            ["quote_lines.id"],
            name=op.f("fk_quote_line_taxes_quote_line_id_quote_lines"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tax_rate_id"],
            ["tax_rates.id"],
            name=op.f("fk_quote_line_taxes_tax_rate_id_tax_rates"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_quote_line_taxes")),
        sa.UniqueConstraint("quote_line_id", "position", name="uq_quote_line_taxes_line_position"),
    )
    with op.batch_alter_table("quote_line_taxes") as batch:
        batch.create_index(
            op.f("ix_quote_line_taxes_quote_line_id"), ["quote_line_id"], unique=False
        )
        batch.create_index(op.f("ix_quote_line_taxes_tax_rate_id"), ["tax_rate_id"], unique=False)
    # Lines written with a single exclusive rate keep it as one tax named "Tax".
    op.execute(
        "INSERT INTO quote_line_taxes"
        " (quote_line_id, position, name, percentage, is_inclusive, amount_minor)"
        " SELECT id, 0, 'Tax', tax_rate, false, tax_minor FROM quote_lines WHERE tax_rate > 0"
    )


def downgrade() -> None:
    with op.batch_alter_table("quote_line_taxes") as batch:
        batch.drop_index(op.f("ix_quote_line_taxes_tax_rate_id"))
        batch.drop_index(op.f("ix_quote_line_taxes_quote_line_id"))
    op.drop_table("quote_line_taxes")
    with op.batch_alter_table("quote_lines") as batch:
        batch.drop_constraint(op.f("ck_quote_lines_inclusive_within_tax"), type_="check")
        batch.drop_constraint(op.f("ck_quote_lines_non_negative"), type_="check")
        batch.create_check_constraint("non_negative", LINE_NON_NEGATIVE)
        batch.drop_index(op.f("ix_quote_lines_product_id"))
        batch.drop_constraint(op.f("fk_quote_lines_product_id_products"), type_="foreignkey")
        for column in ("tax_inclusive_minor", "discount_fixed_minor", "discount_percent"):
            batch.drop_column(column)
        batch.drop_column("product_id")
    with op.batch_alter_table("quotes") as batch:
        for name in ("discount_percent_range", "inclusive_within_tax", "non_negative"):
            batch.drop_constraint(op.f(f"ck_quotes_{name}"), type_="check")
        batch.drop_constraint(op.f("ck_quotes_total_equation"), type_="check")
        batch.create_check_constraint("non_negative", QUOTE_NON_NEGATIVE)
        batch.create_check_constraint(
            "total_equation", "total_minor = subtotal_minor - discount_minor + tax_minor"
        )
        for column in ("discount_fixed_minor", "discount_percent", "tax_inclusive_minor"):
            batch.drop_column(column)
