"""channel read model: an account on several channels, facts applied in event order

Revision ID: 2270a29f2dfa
Revises: 226a8625e7ad
Create Date: 2026-12-04 20:50:00.000000
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '2270a29f2dfa'
down_revision: str | None = '226a8625e7ad'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_constraint('uq_channels_network', 'channels', schema='inbox', type_='unique')
    op.create_index('ix_inbox_channels_account', 'channels', ['network', 'external_id'],
                    unique=False, schema='inbox')
    op.add_column('channels', sa.Column('facts_at', sa.DateTime(timezone=True), nullable=True),
                  schema='inbox')


def downgrade() -> None:
    op.drop_column('channels', 'facts_at', schema='inbox')
    op.drop_index('ix_inbox_channels_account', table_name='channels', schema='inbox')
    op.create_unique_constraint('uq_channels_network', 'channels', ['network', 'external_id'],
                                schema='inbox')
