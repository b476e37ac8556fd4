"""changes to published targets: what was asked of the network, when, and how it went

Revision ID: 5b8e2f0d9c41
Revises: d3a95e0c71b4
Create Date: 2026-12-04 23:40:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '5b8e2f0d9c41'
down_revision: str | None = 'd3a95e0c71b4'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_COLUMNS = (
    sa.Column('change_request_id', postgresql.UUID(as_uuid=True), nullable=True),
    sa.Column('change_action', sa.String(length=10), nullable=True),
    sa.Column('change_fields', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.Column('change_by', sa.String(length=200), nullable=True),
    sa.Column('change_requested_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('change_answered_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('edited_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('deleted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('remote_error', sa.Text(), nullable=True),
)


def upgrade() -> None:
    for column in _COLUMNS:
        op.add_column('targets', column, schema='scheduler')


def downgrade() -> None:
    for column in reversed(_COLUMNS):
        op.drop_column('targets', column.name, schema='scheduler')
