"""queue freezes: a workspace's or a channel's outgoing queue stopped during a crisis

Revision ID: 743b3f1f5cf9
Revises: 8a41d2c7e5f0
Create Date: 2026-12-04 20:58:00.000000
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '743b3f1f5cf9'
down_revision: str | None = '8a41d2c7e5f0'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('queue_freezes',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('workspace_id', sa.UUID(), nullable=False),
    sa.Column('scope', sa.String(length=40), nullable=False),
    sa.Column('channel_id', sa.UUID(), nullable=True),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('frozen_by', sa.String(length=200), nullable=False),
    sa.Column('alert_id', sa.UUID(), nullable=True),
    sa.Column('frozen_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('resumed_by', sa.String(length=200), nullable=True),
    sa.Column('resumed_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_queue_freezes')),
    schema='scheduler'
    )
    op.create_index(op.f('ix_scheduler_queue_freezes_workspace_id'), 'queue_freezes',
                    ['workspace_id'], unique=False, schema='scheduler')
    op.create_index('ux_scheduler_queue_freezes_active', 'queue_freezes',
                    ['workspace_id', 'scope'], unique=True, schema='scheduler',
                    postgresql_where=sa.text('resumed_at IS NULL'))


def downgrade() -> None:
    op.drop_index('ux_scheduler_queue_freezes_active', table_name='queue_freezes',
                  schema='scheduler')
    op.drop_index(op.f('ix_scheduler_queue_freezes_workspace_id'), table_name='queue_freezes',
                  schema='scheduler')
    op.drop_table('queue_freezes', schema='scheduler')
