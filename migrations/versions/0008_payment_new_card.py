"""Card payments remember whether their card was entered for them (and saved with them), so a
card whose first payment fails, even after 3-D Secure, is removed again; and how much of them
their invoices could no longer take when they settled, so that part goes back to the card when
it does not become account credit

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("payments") as batch:
        batch.add_column(sa.Column("new_card", sa.Boolean(), server_default="0", nullable=False))
        batch.add_column(
            sa.Column("overflow_minor", sa.BigInteger(), server_default="0", nullable=False)
        )
        batch.create_check_constraint(
            "overflow", "overflow_minor >= 0 AND overflow_minor <= amount_minor"
        )


def downgrade() -> None:
    with op.batch_alter_table("payments") as batch:
        batch.drop_constraint(op.f("ck_payments_overflow"), type_="check")
        batch.drop_column("overflow_minor")
        batch.drop_column("new_card")
