"""channel and best-times read models: facts applied in event order

Revision ID: f2ae861bbaa1
Revises: 743b3f1f5cf9
Create Date: 2026-12-04 20:50:00.000000
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = 'f2ae861bbaa1'
down_revision: str | None = '743b3f1f5cf9'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column('channels', sa.Column('facts_at', sa.DateTime(timezone=True), nullable=True),
                  schema='scheduler')
    op.add_column('best_times',
                  sa.Column('facts_at', sa.DateTime(timezone=True), nullable=True),
                  schema='scheduler')


def downgrade() -> None:
    op.drop_column('best_times', 'facts_at', schema='scheduler')
    op.drop_column('channels', 'facts_at', schema='scheduler')
