"""mitigations: a fencing token (attempt) and the status a revert started from

Every claim into ``executing`` or ``reverting`` increments ``attempt``; the outcome is written
only while the row still holds the claim's status and attempt, so a process that lost its claim
(its lock dropped while it kept running) cannot overwrite what another process settled.
``revert_from`` keeps the status a revert started from, so a revert left half-way by a dead
process can be settled back to it.

Revision ID: 0016_mitigation_fence
Revises: 0003_runbooks
"""

import sqlalchemy as sa
from alembic import op

revision = "0016_mitigation_fence"
down_revision = "0003_runbooks"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("mitigations") as batch:
        batch.add_column(sa.Column("attempt", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("revert_from", sa.String(length=30), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("mitigations") as batch:
        batch.drop_column("revert_from")
        batch.drop_column("attempt")
