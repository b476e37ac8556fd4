"""thread parts and the retry deadline on publish jobs

Revision ID: b7e41c9a2d05
Revises: 51da6bef7508
Create Date: 2026-12-04 21:20:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = 'b7e41c9a2d05'
down_revision: str | None = '51da6bef7508'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        'publish_jobs',
        sa.Column('parts', postgresql.JSONB(astext_type=sa.Text()), server_default='[]',
                  nullable=False),
        schema='publisher',
    )
    op.add_column(
        'publish_jobs',
        sa.Column('retry_until', sa.DateTime(timezone=True), nullable=True),
        schema='publisher',
    )


def downgrade() -> None:
    op.drop_column('publish_jobs', 'retry_until', schema='publisher')
    op.drop_column('publish_jobs', 'parts', schema='publisher')
