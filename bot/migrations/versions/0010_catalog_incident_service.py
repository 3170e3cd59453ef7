"""incidents.catalog_service: the catalog service an incident is about (None: not in the catalog)

Revision ID: 0010_catalog
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0010_catalog"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("incidents") as batch:
        batch.add_column(sa.Column("catalog_service", sa.String(length=200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("incidents") as batch:
        batch.drop_column("catalog_service")
