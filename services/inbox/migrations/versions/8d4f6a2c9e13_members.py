"""members: who conversations may be assigned to, as the gateway says

Revision ID: 8d4f6a2c9e13
Revises: 5b1e0c9a7d42
Create Date: 2026-12-05 00:30:00.000000
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '8d4f6a2c9e13'
down_revision: str | None = '5b1e0c9a7d42'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'members',
        sa.Column('member_id', postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column('workspace_id', postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column('email', sa.String(length=320), server_default='', nullable=False),
        sa.Column('name', sa.String(length=200), nullable=True),
        sa.Column('removed', sa.Boolean(), server_default='false', nullable=False),
        sa.PrimaryKeyConstraint('member_id'),
        schema='inbox',
    )
    op.create_index('ix_inbox_members_workspace_id', 'members', ['workspace_id'], unique=False,
                    schema='inbox')


def downgrade() -> None:
    op.drop_index('ix_inbox_members_workspace_id', table_name='members', schema='inbox')
    op.drop_table('members', schema='inbox')
