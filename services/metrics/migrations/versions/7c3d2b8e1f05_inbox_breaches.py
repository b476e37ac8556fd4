"""conversations past their response-time target, as the inbox says

Revision ID: 7c3d2b8e1f05
Revises: e3aedd0e0f4e
Create Date: 2026-12-05 00:00:00.000000
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '7c3d2b8e1f05'
down_revision: str | None = 'e3aedd0e0f4e'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('inbox_breaches',
    sa.Column('conversation_id', sa.UUID(), nullable=False),
    sa.Column('breached_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('workspace_id', sa.UUID(), nullable=False),
    sa.Column('priority', sa.String(length=10), nullable=False),
    sa.PrimaryKeyConstraint('conversation_id', 'breached_at', name=op.f('pk_inbox_breaches')),
    schema='metrics'
    )
    op.create_index('ix_inbox_breaches_workspace_time', 'inbox_breaches',
                    ['workspace_id', 'breached_at'], unique=False, schema='metrics')


def downgrade() -> None:
    op.drop_index('ix_inbox_breaches_workspace_time', table_name='inbox_breaches',
                  schema='metrics')
    op.drop_table('inbox_breaches', schema='metrics')
