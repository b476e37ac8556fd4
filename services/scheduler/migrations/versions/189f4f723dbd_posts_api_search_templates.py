"""posts api: search text, detached occurrences, templates

Revision ID: 189f4f723dbd
Revises: f2ae861bbaa1
Create Date: 2026-12-04 20:50:00.000000
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '189f4f723dbd'
down_revision: str | None = 'f2ae861bbaa1'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute('CREATE EXTENSION IF NOT EXISTS pg_trgm')
    op.add_column('posts', sa.Column('search_text', sa.Text(), server_default='', nullable=False), schema='scheduler')
    op.add_column('posts', sa.Column('series_id', sa.UUID(), nullable=True), schema='scheduler')
    op.add_column('posts', sa.Column('occurrence_at', sa.DateTime(timezone=True), nullable=True), schema='scheduler')
    # Existing posts become searchable: their copy and their variants, lower-cased.
    op.execute(
        """
        UPDATE scheduler.posts AS p SET search_text = lower(concat_ws(E'\\n', p.text, (
            SELECT string_agg(DISTINCT t.text, E'\\n') FROM scheduler.targets AS t
            WHERE t.post_id = p.id AND t.text IS NOT NULL)))
        """
    )
    op.create_index('ix_scheduler_posts_workspace_created', 'posts', ['workspace_id', 'created_at', 'id'], unique=False, schema='scheduler')
    op.create_index('ix_scheduler_posts_search_trgm', 'posts', ['search_text'], unique=False, schema='scheduler', postgresql_using='gin', postgresql_ops={'search_text': 'gin_trgm_ops'})
    op.create_table('templates',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('workspace_id', sa.UUID(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('body', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('created_by', sa.String(length=200), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_templates')),
    schema='scheduler'
    )
    op.create_index(op.f('ix_scheduler_templates_workspace_id'), 'templates', ['workspace_id'], unique=False, schema='scheduler')


def downgrade() -> None:
    op.drop_index(op.f('ix_scheduler_templates_workspace_id'), table_name='templates', schema='scheduler')
    op.drop_table('templates', schema='scheduler')
    op.drop_index('ix_scheduler_posts_search_trgm', table_name='posts', schema='scheduler', postgresql_using='gin')
    op.drop_index('ix_scheduler_posts_workspace_created', table_name='posts', schema='scheduler')
    op.drop_column('posts', 'occurrence_at', schema='scheduler')
    op.drop_column('posts', 'series_id', schema='scheduler')
    op.drop_column('posts', 'search_text', schema='scheduler')
