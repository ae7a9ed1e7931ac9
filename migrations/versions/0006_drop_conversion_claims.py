"""Drop the conversion claims of quotes and orders: a conversion is one transaction now

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

import billing.db

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

INSTANT = billing.db.UTCDateTime(timezone=True)


def upgrade() -> None:
    for table in ("quotes", "orders"):
        with op.batch_alter_table(table) as batch:
            batch.drop_column("conversion_started_at")


def downgrade() -> None:
    for table in ("quotes", "orders"):
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("conversion_started_at", INSTANT, nullable=True))
