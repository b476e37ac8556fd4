"""audit entries

Revision ID: 274d2a0ce278
Revises: 9b329519689d
Create Date: 2026-12-04 21:10:00.000000
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '274d2a0ce278'
down_revision: str | None = '9b329519689d'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('audit_entries',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('workspace_id', sa.UUID(), nullable=False),
    sa.Column('occurred_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('actor', sa.String(length=100), nullable=False),
    sa.Column('actor_role', sa.String(length=20), nullable=False),
    sa.Column('action', sa.String(length=100), nullable=False),
    sa.Column('resource_type', sa.String(length=50), nullable=False),
    sa.Column('resource_id', sa.String(length=200), nullable=False),
    sa.Column('service', sa.String(length=30), nullable=False),
    sa.Column('details', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_entries')),
    schema='gateway'
    )
    op.create_index('ix_audit_entries_workspace', 'audit_entries', ['workspace_id', 'occurred_at', 'id'], unique=False, schema='gateway')
    op.create_index('ix_audit_entries_resource', 'audit_entries', ['workspace_id', 'resource_type', 'resource_id'], unique=False, schema='gateway')
    op.create_index('ix_audit_entries_occurred', 'audit_entries', ['occurred_at'], unique=False, schema='gateway')


def downgrade() -> None:
    op.drop_index('ix_audit_entries_occurred', table_name='audit_entries', schema='gateway')
    op.drop_index('ix_audit_entries_resource', table_name='audit_entries', schema='gateway')
    op.drop_index('ix_audit_entries_workspace', table_name='audit_entries', schema='gateway')
    op.drop_table('audit_entries', schema='gateway')
