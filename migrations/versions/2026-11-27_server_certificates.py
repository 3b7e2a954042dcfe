"""analysis_run.server_certificates: each node's own server certificate (server_*.pem)

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27 18:00:00.000000
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('analysis_run', schema=None) as batch_op:
        batch_op.add_column(sa.Column('server_certificates', sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('analysis_run', schema=None) as batch_op:
        batch_op.drop_column('server_certificates')
