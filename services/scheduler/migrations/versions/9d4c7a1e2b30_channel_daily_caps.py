"""channel daily caps: posts per 24 hours the scheduler places on a channel

Revision ID: 9d4c7a1e2b30
Revises: 5b8e2f0d9c41
Create Date: 2026-12-04 23:59:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '9d4c7a1e2b30'
down_revision: str | None = '5b8e2f0d9c41'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column('channels', sa.Column('daily_cap', sa.Integer(), nullable=True),
                  schema='scheduler')


def downgrade() -> None:
    op.drop_column('channels', 'daily_cap', schema='scheduler')
