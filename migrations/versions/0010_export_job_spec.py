"""export jobs store the resolved export (spec) instead of the list's query string

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 20:00:00

The 下载中心 worker no longer replays a request: the request stores what to export (model, who
asked, the list's ordered-id SELECT with its values, the columns, the ticked rows) as one JSON
document. Jobs still queued from before have no spec and fail with a message asking to export again.
"""
from alembic import op
import sqlalchemy as sa


revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('export_job', schema=None) as batch_op:
        batch_op.add_column(sa.Column('spec', sa.JSON(), nullable=True))
        batch_op.drop_column('args')
        batch_op.drop_column('columns')
        batch_op.drop_column('rowids')


def downgrade():
    with op.batch_alter_table('export_job', schema=None) as batch_op:
        batch_op.add_column(sa.Column('rowids', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('columns', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('args', sa.JSON(), nullable=False, server_default='[]'))
        batch_op.drop_column('spec')
    with op.batch_alter_table('export_job', schema=None) as batch_op:
        batch_op.alter_column('args', server_default=None)
