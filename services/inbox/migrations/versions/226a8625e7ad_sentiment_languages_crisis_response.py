"""message languages on conversations, hour-of-week baseline and queue freeze in crisis settings

Revision ID: 226a8625e7ad
Revises: 92a6b6f15f9c
Create Date: 2026-12-04 20:55:00.000000
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '226a8625e7ad'
down_revision: str | None = '92a6b6f15f9c'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column('conversations', sa.Column('language', sa.String(length=20), nullable=True),
                  schema='inbox')
    op.create_index('ix_inbox_conversations_language', 'conversations',
                    ['workspace_id', 'language', 'last_message_at'], unique=False, schema='inbox')
    op.add_column('crisis_settings', sa.Column('baseline_weeks', sa.Integer(),
                                               server_default='4', nullable=False),
                  schema='inbox')
    op.add_column('crisis_settings', sa.Column('freeze_queue', sa.Boolean(),
                                               server_default='false', nullable=False),
                  schema='inbox')


def downgrade() -> None:
    op.drop_column('crisis_settings', 'freeze_queue', schema='inbox')
    op.drop_column('crisis_settings', 'baseline_weeks', schema='inbox')
    op.drop_index('ix_inbox_conversations_language', table_name='conversations', schema='inbox')
    op.drop_column('conversations', 'language', schema='inbox')
