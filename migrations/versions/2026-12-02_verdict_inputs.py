"""analysis_run.examined (log lines the signatures read), finding.signature_status, and an
index on stored_file.sha256 (an upload identical to an earlier one is linked to it)

Revision ID: 0011
Revises: 0006
Create Date: 2026-12-02 06:30:00.000000
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0011'
down_revision: str | None = '0008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('analysis_run', schema=None) as batch_op:
        batch_op.add_column(sa.Column('examined', sa.JSON(), nullable=True))
    with op.batch_alter_table('finding', schema=None) as batch_op:
        batch_op.add_column(sa.Column('signature_status', sa.String(length=16), nullable=True))
    with op.batch_alter_table('stored_file', schema=None) as batch_op:
        batch_op.create_index('ix_stored_file_sha256', ['sha256'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('stored_file', schema=None) as batch_op:
        batch_op.drop_index('ix_stored_file_sha256')
    with op.batch_alter_table('finding', schema=None) as batch_op:
        batch_op.drop_column('signature_status')
    with op.batch_alter_table('analysis_run', schema=None) as batch_op:
        batch_op.drop_column('examined')
