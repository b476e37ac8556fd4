"""campaigns as things: existing post campaigns become campaign rows

Revision ID: 49dee29f740a
Revises: 189f4f723dbd
Create Date: 2026-12-04 21:00:00.000000
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '49dee29f740a'
down_revision: str | None = '189f4f723dbd'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('campaigns',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('workspace_id', sa.UUID(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('starts_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('ends_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('goal', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.Column('utm', postgresql.JSONB(astext_type=sa.Text()), server_default='{}', nullable=False),
    sa.Column('tags', postgresql.ARRAY(sa.String(length=100)), server_default='{}', nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_campaigns')),
    sa.UniqueConstraint('workspace_id', 'name', name=op.f('uq_campaigns_workspace_id')),
    schema='scheduler'
    )
    op.create_index(op.f('ix_scheduler_campaigns_workspace_id'), 'campaigns', ['workspace_id'], unique=False, schema='scheduler')
    op.add_column('posts', sa.Column('campaign_id', sa.UUID(), nullable=True), schema='scheduler')
    op.create_index(op.f('ix_scheduler_posts_campaign_id'), 'posts', ['campaign_id'], unique=False, schema='scheduler')

    # The campaigns posts named by string become campaigns (one per workspace and name, dated
    # from their first post), and the posts point at them.
    op.execute(
        """
        INSERT INTO scheduler.campaigns (id, workspace_id, name, utm, tags, version, created_at,
                                         updated_at)
        SELECT gen_random_uuid(), workspace_id, campaign, '{}', '{}', 1, min(created_at), now()
        FROM scheduler.posts WHERE campaign IS NOT NULL AND campaign <> ''
        GROUP BY workspace_id, campaign
        """
    )
    op.execute(
        """
        UPDATE scheduler.posts AS p SET campaign_id = c.id
        FROM scheduler.campaigns AS c
        WHERE c.workspace_id = p.workspace_id AND c.name = p.campaign
        """
    )
    # Others (metrics' campaign reports) learn of them as of any new campaign: through the
    # outbox, which the relay publishes once the services run.
    op.execute(
        """
        INSERT INTO scheduler.outbox (event_id, routing_key, body)
        SELECT e.id, e.type, convert_to(json_build_object(
            'id', e.id, 'type', e.type, 'version', 1,
            'occurred_at', to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
            'workspace_id', e.workspace_id, 'correlation_id', NULL, 'causation_id', NULL,
            'traceparent', NULL, 'data', e.data)::text, 'UTF8')
        FROM (
            SELECT gen_random_uuid() AS id, 'campaign.created' AS type, c.workspace_id,
                   json_build_object('campaign_id', c.id, 'name', c.name, 'starts_at', NULL,
                                     'ends_at', NULL, 'goal', NULL, 'utm', '{}'::json,
                                     'tags', '[]'::json, 'campaign_version', 1) AS data,
                   0 AS rank
            FROM scheduler.campaigns AS c
            UNION ALL
            SELECT gen_random_uuid(), 'post.campaign_set', p.workspace_id,
                   json_build_object('post_id', p.id, 'campaign_id', p.campaign_id,
                                     'set_at', to_char(p.updated_at AT TIME ZONE 'UTC',
                                                       'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')),
                   1
            FROM scheduler.posts AS p WHERE p.campaign_id IS NOT NULL
        ) AS e
        ORDER BY e.rank
        """
    )


def downgrade() -> None:
    op.drop_index(op.f('ix_scheduler_posts_campaign_id'), table_name='posts', schema='scheduler')
    op.drop_column('posts', 'campaign_id', schema='scheduler')
    op.drop_index(op.f('ix_scheduler_campaigns_workspace_id'), table_name='campaigns', schema='scheduler')
    op.drop_table('campaigns', schema='scheduler')
