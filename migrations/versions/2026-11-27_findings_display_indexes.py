"""finding and snippet indexes for the display order: a run's findings and their snippets are
read in order without sorting, a page of them from the index alone (10,000 findings a run)

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27 15:00:00.000000
"""
from __future__ import annotations

from collections.abc import Sequence

from alembic import op


revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # the new indexes start with the columns of the old ones, which they replace
    with op.batch_alter_table('finding', schema=None) as batch_op:
        batch_op.create_index(
            'ix_finding_run_order',
            ['run_id', 'severity_rank', 'signature_id', 'node', 'id'],
            unique=False,
        )
        batch_op.drop_index('ix_finding_run_id')

    with op.batch_alter_table('snippet', schema=None) as batch_op:
        batch_op.create_index('ix_snippet_finding_position', ['finding_id', 'position'], unique=False)
        batch_op.drop_index('ix_snippet_finding_id')


def downgrade() -> None:
    with op.batch_alter_table('snippet', schema=None) as batch_op:
        batch_op.create_index('ix_snippet_finding_id', ['finding_id'], unique=False)
        batch_op.drop_index('ix_snippet_finding_position')

    with op.batch_alter_table('finding', schema=None) as batch_op:
        batch_op.create_index('ix_finding_run_id', ['run_id'], unique=False)
        batch_op.drop_index('ix_finding_run_order')
