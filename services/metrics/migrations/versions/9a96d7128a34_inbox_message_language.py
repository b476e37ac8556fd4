"""inbox messages carry their language, for inbox reports per language

Revision ID: 9a96d7128a34
Revises: 2805b75716e1
Create Date: 2026-12-04 21:00:00.000000
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '9a96d7128a34'
down_revision: str | None = '2805b75716e1'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column('inbox_messages', sa.Column('language', sa.String(length=20), nullable=True),
                  schema='metrics')


def downgrade() -> None:
    op.drop_column('inbox_messages', 'language', schema='metrics')
