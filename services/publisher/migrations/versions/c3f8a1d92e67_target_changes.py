"""edits and deletes of published targets, once per request

Revision ID: c3f8a1d92e67
Revises: b7e41c9a2d05
Create Date: 2026-12-04 23:50:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = 'c3f8a1d92e67'
down_revision: str | None = 'b7e41c9a2d05'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'target_changes',
        sa.Column('request_id', sa.UUID(), nullable=False),
        sa.Column('action', sa.String(length=10), nullable=False),
        sa.Column('workspace_id', sa.UUID(), nullable=False),
        sa.Column('post_id', sa.UUID(), nullable=False),
        sa.Column('target_id', sa.UUID(), nullable=False),
        sa.Column('channel_id', sa.UUID(), nullable=False),
        sa.Column('network', sa.String(length=20), nullable=False),
        sa.Column('external_id', sa.Text(), nullable=False),
        sa.Column('changes', postgresql.JSONB(astext_type=sa.Text()), server_default='{}',
                  nullable=False),
        sa.Column('correlation_id', sa.String(length=200), nullable=True),
        sa.Column('status', sa.String(length=20), server_default='pending', nullable=False),
        sa.Column('attempts', sa.Integer(), server_default='0', nullable=False),
        sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('lease_until', sa.DateTime(timezone=True), nullable=True),
        sa.Column('ok', sa.Boolean(), nullable=True),
        sa.Column('error', sa.Text(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('request_id'),
        schema='publisher',
    )
    op.create_index(
        'ix_publisher_target_changes_due', 'target_changes', ['next_attempt_at'],
        unique=False, schema='publisher',
        postgresql_where=sa.text("status IN ('pending', 'working')"),
    )
    op.create_index(
        op.f('ix_publisher_target_changes_target_id'), 'target_changes', ['target_id'],
        unique=False, schema='publisher',
    )


def downgrade() -> None:
    op.drop_index(op.f('ix_publisher_target_changes_target_id'), table_name='target_changes',
                  schema='publisher')
    op.drop_index('ix_publisher_target_changes_due', table_name='target_changes',
                  schema='publisher')
    op.drop_table('target_changes', schema='publisher')
