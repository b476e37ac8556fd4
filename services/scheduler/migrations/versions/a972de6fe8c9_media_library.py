"""media library

Revision ID: a972de6fe8c9
Revises: 2653a5e485fa
Create Date: 2026-12-04 21:30:00.000000
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = 'a972de6fe8c9'
down_revision: str | None = '2653a5e485fa'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('media',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('workspace_id', sa.UUID(), nullable=False),
    sa.Column('content_key', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('mime', sa.String(length=100), nullable=False),
    sa.Column('size_bytes', sa.BigInteger(), nullable=False),
    sa.Column('width', sa.Integer(), nullable=False),
    sa.Column('height', sa.Integer(), nullable=False),
    sa.Column('duration_s', sa.Float(), nullable=True),
    sa.Column('facts', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('name', sa.String(length=300), nullable=False),
    sa.Column('alt', sa.Text(), nullable=True),
    sa.Column('tags', postgresql.ARRAY(sa.String(length=100)), nullable=False),
    sa.Column('source_url', sa.String(length=2000), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_media')),
    schema='scheduler'
    )
    op.create_index('ix_media_workspace_created', 'media', ['workspace_id', 'created_at', 'id'], unique=False, schema='scheduler')
    op.create_index(op.f('ix_scheduler_media_content_key'), 'media', ['content_key'], unique=False, schema='scheduler')


def downgrade() -> None:
    op.drop_index(op.f('ix_scheduler_media_content_key'), table_name='media', schema='scheduler')
    op.drop_index('ix_media_workspace_created', table_name='media', schema='scheduler')
    op.drop_table('media', schema='scheduler')
