"""timeline_events: one index on (incident_id, kind), in place of the one on incident_id alone

Rendering an incident reads its role assignments (`bot.roles.roles_of`: the incident's events of
one kind) for every chat message and card; with the incident's index only, each read went over
every event of the incident, and a storm logs one per joined alert (thousands). The new index
serves every lookup by incident as the old one did.

Revision ID: 0016g_timeline_kind
Revises: 0016_intake
"""

from alembic import op

revision = "0016g_timeline_kind"
down_revision = "0016_intake"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_timeline_events_incident_kind", "timeline_events", ["incident_id", "kind"])
    op.drop_index("ix_timeline_events_incident_id", table_name="timeline_events")


def downgrade() -> None:
    op.create_index("ix_timeline_events_incident_id", "timeline_events", ["incident_id"])
    op.drop_index("ix_timeline_events_incident_kind", table_name="timeline_events")
