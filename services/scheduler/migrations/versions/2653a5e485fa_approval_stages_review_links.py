"""approval stages, no self-approval, external review links and their comments

Revision ID: 2653a5e485fa
Revises: 49dee29f740a
Create Date: 2026-12-04 21:20:00.000000
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '2653a5e485fa'
down_revision: str | None = '49dee29f740a'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column('workspace_settings', sa.Column('approval_stages', postgresql.JSONB(astext_type=sa.Text()), server_default='[]', nullable=False), schema='scheduler')
    op.add_column('workspace_settings', sa.Column('forbid_self_approval', sa.Boolean(), server_default='false', nullable=False), schema='scheduler')
    op.add_column('posts', sa.Column('approval_stage', sa.Integer(), server_default='0', nullable=False), schema='scheduler')
    op.create_table('review_links',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('workspace_id', sa.UUID(), nullable=False),
    sa.Column('post_id', sa.UUID(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('reviewer', sa.String(length=200), nullable=False),
    sa.Column('created_by', sa.String(length=200), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('window_start', sa.DateTime(timezone=True), nullable=True),
    sa.Column('window_count', sa.Integer(), server_default='0', nullable=False),
    sa.ForeignKeyConstraint(['post_id'], ['scheduler.posts.id'], name=op.f('fk_review_links_post_id_posts'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_review_links')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_review_links_token_hash')),
    schema='scheduler'
    )
    op.create_index(op.f('ix_scheduler_review_links_post_id'), 'review_links', ['post_id'], unique=False, schema='scheduler')
    op.create_index(op.f('ix_scheduler_review_links_workspace_id'), 'review_links', ['workspace_id'], unique=False, schema='scheduler')
    op.create_table('review_comments',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('workspace_id', sa.UUID(), nullable=False),
    sa.Column('post_id', sa.UUID(), nullable=False),
    sa.Column('link_id', sa.UUID(), nullable=False),
    sa.Column('author', sa.String(length=200), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['link_id'], ['scheduler.review_links.id'], name=op.f('fk_review_comments_link_id_review_links'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['post_id'], ['scheduler.posts.id'], name=op.f('fk_review_comments_post_id_posts'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_review_comments')),
    schema='scheduler'
    )
    op.create_index(op.f('ix_scheduler_review_comments_post_id'), 'review_comments', ['post_id'], unique=False, schema='scheduler')


def downgrade() -> None:
    op.drop_index(op.f('ix_scheduler_review_comments_post_id'), table_name='review_comments', schema='scheduler')
    op.drop_table('review_comments', schema='scheduler')
    op.drop_index(op.f('ix_scheduler_review_links_workspace_id'), table_name='review_links', schema='scheduler')
    op.drop_index(op.f('ix_scheduler_review_links_post_id'), table_name='review_links', schema='scheduler')
    op.drop_table('review_links', schema='scheduler')
    op.drop_column('posts', 'approval_stage', schema='scheduler')
    op.drop_column('workspace_settings', 'forbid_self_approval', schema='scheduler')
    op.drop_column('workspace_settings', 'approval_stages', schema='scheduler')
