"""target retries: attempts and the next attempt time

Revision ID: d3a95e0c71b4
Revises: a972de6fe8c9
Create Date: 2026-12-04 21:35:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = 'd3a95e0c71b4'
down_revision: str | None = 'a972de6fe8c9'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column('targets', sa.Column('attempts', sa.Integer(), server_default='0',
                                       nullable=False), schema='scheduler')
    op.add_column('targets', sa.Column('next_attempt_at', sa.DateTime(timezone=True),
                                       nullable=True), schema='scheduler')


def downgrade() -> None:
    op.drop_column('targets', 'next_attempt_at', schema='scheduler')
    op.drop_column('targets', 'attempts', schema='scheduler')
