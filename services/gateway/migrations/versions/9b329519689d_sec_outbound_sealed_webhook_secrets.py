"""client webhook signing secrets sealed at rest

Revision ID: 9b329519689d
Revises: 35eaae613c7a
Create Date: 2026-12-04 20:30:00

Existing rows keep their clear secret until `python -m shared.reseal gateway` seals it (the
migration has no key); new and rotated secrets are sealed at once.
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '9b329519689d'
down_revision: str | None = '35eaae613c7a'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column('webhook_subscriptions', sa.Column('key_id', sa.String(length=64), nullable=True), schema='gateway')
    op.add_column('webhook_subscriptions', sa.Column('sealed_secret', sa.LargeBinary(), nullable=True), schema='gateway')
    op.add_column('webhook_subscriptions', sa.Column('sealed_previous_secret', sa.LargeBinary(), nullable=True), schema='gateway')
    op.alter_column('webhook_subscriptions', 'secret', existing_type=sa.String(length=200), nullable=True, schema='gateway')


def downgrade() -> None:
    # Sealed secrets cannot be put back in clear without the key: refuse rather than lose them.
    op.execute(
        "DO $$ BEGIN IF EXISTS (SELECT 1 FROM gateway.webhook_subscriptions WHERE secret IS NULL) "
        "THEN RAISE EXCEPTION 'sealed webhook secrets present; cannot downgrade'; END IF; END $$"
    )
    op.alter_column('webhook_subscriptions', 'secret', existing_type=sa.String(length=200), nullable=False, schema='gateway')
    op.drop_column('webhook_subscriptions', 'sealed_previous_secret', schema='gateway')
    op.drop_column('webhook_subscriptions', 'sealed_secret', schema='gateway')
    op.drop_column('webhook_subscriptions', 'key_id', schema='gateway')
