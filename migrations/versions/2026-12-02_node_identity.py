"""node.evidence and node.confidence (how a node was identified); stored_file.product (the
product the user chose for an upload)

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 07:00:00.000000
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('node', schema=None) as batch_op:
        batch_op.add_column(sa.Column('evidence', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('confidence', sa.String(length=16), nullable=True))
    with op.batch_alter_table('stored_file', schema=None) as batch_op:
        batch_op.add_column(sa.Column('product', sa.String(length=32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('stored_file', schema=None) as batch_op:
        batch_op.drop_column('product')
    with op.batch_alter_table('node', schema=None) as batch_op:
        batch_op.drop_column('confidence')
        batch_op.drop_column('evidence')
