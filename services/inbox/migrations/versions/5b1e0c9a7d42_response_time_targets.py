"""response-time targets per workspace and priority; when a conversation breached its own

Revision ID: 5b1e0c9a7d42
Revises: 2270a29f2dfa
Create Date: 2026-12-05 00:20:00.000000
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '5b1e0c9a7d42'
down_revision: str | None = '2270a29f2dfa'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'sla_targets',
        sa.Column('workspace_id', postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column('priority', sa.String(length=10), nullable=False),
        sa.Column('minutes', sa.Integer(), nullable=False),
        sa.Column('updated_by', sa.String(length=200), nullable=True),
        sa.PrimaryKeyConstraint('workspace_id', 'priority'),
        schema='inbox',
    )
    op.add_column('conversations',
                  sa.Column('sla_breached_at', sa.DateTime(timezone=True), nullable=True),
                  schema='inbox')
    # The breach finder looks only at open threads nobody has answered yet.
    op.create_index('ix_inbox_conversations_awaiting', 'conversations',
                    ['workspace_id', 'created_at'], unique=False, schema='inbox',
                    postgresql_where=sa.text(
                        "status = 'open' AND first_response_at IS NULL "
                        "AND sla_breached_at IS NULL"))


def downgrade() -> None:
    op.drop_index('ix_inbox_conversations_awaiting', table_name='conversations', schema='inbox')
    op.drop_column('conversations', 'sla_breached_at', schema='inbox')
    op.drop_table('sla_targets', schema='inbox')
