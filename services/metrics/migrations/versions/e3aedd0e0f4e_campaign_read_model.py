"""campaigns and which posts are in them, as the scheduler says

Revision ID: e3aedd0e0f4e
Revises: 254fe20b83fc
Create Date: 2026-12-04 21:10:00.000000
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = 'e3aedd0e0f4e'
down_revision: str | None = '254fe20b83fc'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('campaign_posts',
    sa.Column('post_id', sa.UUID(), nullable=False),
    sa.Column('workspace_id', sa.UUID(), nullable=False),
    sa.Column('campaign_id', sa.UUID(), nullable=True),
    sa.Column('set_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('post_id', name=op.f('pk_campaign_posts')),
    schema='metrics'
    )
    op.create_index(op.f('ix_metrics_campaign_posts_campaign_id'), 'campaign_posts', ['campaign_id'], unique=False, schema='metrics')
    op.create_table('campaigns',
    sa.Column('campaign_id', sa.UUID(), nullable=False),
    sa.Column('workspace_id', sa.UUID(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('starts_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('ends_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('goal', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.Column('utm', postgresql.JSONB(astext_type=sa.Text()), server_default='{}', nullable=False),
    sa.Column('tags', postgresql.ARRAY(sa.String(length=100)), server_default='{}', nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('campaign_id', name=op.f('pk_campaigns')),
    schema='metrics'
    )
    op.create_index(op.f('ix_metrics_campaigns_workspace_id'), 'campaigns', ['workspace_id'], unique=False, schema='metrics')


def downgrade() -> None:
    op.drop_index(op.f('ix_metrics_campaigns_workspace_id'), table_name='campaigns', schema='metrics')
    op.drop_table('campaigns', schema='metrics')
    op.drop_index(op.f('ix_metrics_campaign_posts_campaign_id'), table_name='campaign_posts', schema='metrics')
    op.drop_table('campaign_posts', schema='metrics')
