"""channel read model: facts applied in event order

Revision ID: 254fe20b83fc
Revises: 1245135db19f
Create Date: 2026-12-04 20:50:00.000000
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '254fe20b83fc'
down_revision: str | None = '1245135db19f'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column('channels', sa.Column('facts_at', sa.DateTime(timezone=True), nullable=True),
                  schema='metrics')


def downgrade() -> None:
    op.drop_column('channels', 'facts_at', schema='metrics')
