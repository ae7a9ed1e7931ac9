"""Card payments remember whether their card was entered for them (and saved with them), so a
card whose first payment fails, even after 3-D Secure, is removed again

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


def downgrade() -> None:
    with op.batch_alter_table("payments") as batch:
        batch.drop_column("new_card")
