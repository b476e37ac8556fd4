"""evergreen posts and calendar feeds

Revision ID: 8a41d2c7e5f0
Revises: 6f0c9cd72455
Create Date: 2026-11-24 10:00:00.000000
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '8a41d2c7e5f0'
down_revision: str | None = '6f0c9cd72455'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column('posts', sa.Column('evergreen_gap_days', sa.Integer(), nullable=True), schema='scheduler')
    op.create_table('calendar_feeds',
    sa.Column('workspace_id', sa.UUID(), nullable=False),
    sa.Column('token', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('workspace_id', name=op.f('pk_calendar_feeds')),
    sa.UniqueConstraint('token', name=op.f('uq_calendar_feeds_token')),
    schema='scheduler'
    )


def downgrade() -> None:
    op.drop_table('calendar_feeds', schema='scheduler')
    op.drop_column('posts', 'evergreen_gap_days', schema='scheduler')
