"""alerts: one index on (incident_id, fingerprint), in place of the one on incident_id alone

Intake looks an alert up by its incident and fingerprint on every delivery; with the
incident's index only, each re-send read every alert of its incident (thousands in a storm).

Revision ID: 0016_intake
Revises: 0010_catalog
"""

from alembic import op

revision = "0016_intake"
down_revision = "0010_catalog"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_alerts_incident_fingerprint", "alerts", ["incident_id", "fingerprint"])
    op.drop_index("ix_alerts_incident_id", table_name="alerts")


def downgrade() -> None:
    op.create_index("ix_alerts_incident_id", "alerts", ["incident_id"])
    op.drop_index("ix_alerts_incident_fingerprint", table_name="alerts")
