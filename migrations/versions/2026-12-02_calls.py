"""call, call_messages, call_background: SIP calls of the logs, keep-alive folded per peer;
analysis.calls_extracted (call flows are extracted only with LOUPE_CALL_FLOWS=true)

Revision ID: 0009
Revises: 0011
Create Date: 2026-12-02 09:00:00.000000
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0009'
down_revision: str | None = '0011'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('analysis') as batch:
        batch.add_column(
            sa.Column('calls_extracted', sa.Boolean(), server_default=sa.false(), nullable=False)
        )
    op.create_table(
        'call',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('analysis_id', sa.String(length=64), nullable=False),
        sa.Column('number', sa.Integer(), nullable=False),
        sa.Column('method', sa.String(length=32), nullable=False),
        sa.Column('from_uri', sa.Text(), nullable=False),
        sa.Column('to_uri', sa.Text(), nullable=False),
        sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('final_status', sa.String(length=200), nullable=False),
        sa.Column('failed', sa.Boolean(), nullable=False),
        sa.Column('end_reason', sa.Text(), nullable=False),
        sa.Column('nodes', sa.JSON(), nullable=False),
        sa.Column('call_ids', sa.JSON(), nullable=False),
        sa.Column('joined_by', sa.String(length=64), nullable=True),
        sa.Column('message_count', sa.Integer(), nullable=False),
        sa.Column('search', sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(['analysis_id'], ['analysis.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_call_analysis_number', 'call', ['analysis_id', 'number'], unique=True)
    op.create_index('ix_call_analysis_failed', 'call', ['analysis_id', 'failed', 'number'])
    op.create_table(
        'call_messages',
        sa.Column('call_id', sa.Integer(), nullable=False),
        sa.Column('analysis_id', sa.String(length=64), nullable=False),
        sa.Column('messages', sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(['call_id'], ['call.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['analysis_id'], ['analysis.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('call_id'),
    )
    op.create_index('ix_call_messages_analysis_id', 'call_messages', ['analysis_id'])
    op.create_table(
        'call_background',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('analysis_id', sa.String(length=64), nullable=False),
        sa.Column('node', sa.Text(), nullable=False),
        sa.Column('peer', sa.Text(), nullable=False),
        sa.Column('method', sa.String(length=32), nullable=False),
        sa.Column('count', sa.Integer(), nullable=False),
        sa.Column('failures', sa.Integer(), nullable=False),
        sa.Column('statuses', sa.JSON(), nullable=False),
        sa.Column('first_seen', sa.DateTime(timezone=True), nullable=True),
        sa.Column('last_seen', sa.DateTime(timezone=True), nullable=True),
        sa.Column('file', sa.Text(), nullable=False),
        sa.Column('line', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['analysis_id'], ['analysis.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_call_background_analysis_id', 'call_background', ['analysis_id'])


def downgrade() -> None:
    op.drop_index('ix_call_background_analysis_id', table_name='call_background')
    op.drop_table('call_background')
    op.drop_index('ix_call_messages_analysis_id', table_name='call_messages')
    op.drop_table('call_messages')
    op.drop_index('ix_call_analysis_failed', table_name='call')
    op.drop_index('ix_call_analysis_number', table_name='call')
    op.drop_table('call')
    with op.batch_alter_table('analysis') as batch:
        batch.drop_column('calls_extracted')
