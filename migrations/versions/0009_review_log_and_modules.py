"""审批意见 of people, unit registrations and progress reports (review_log); 模块配置 code
`innovation` becomes the call type's own code `innovation_fund`

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 18:20:00
"""
import json

import sqlalchemy as sa
from alembic import op


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'review_log',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('target', sa.String(length=30), nullable=False),
        sa.Column('target_id', sa.Integer(), nullable=False),
        sa.Column('action', sa.String(length=20), nullable=False),
        sa.Column('from_status', sa.String(length=20), nullable=False),
        sa.Column('to_status', sa.String(length=20), nullable=False),
        sa.Column('opinion', sa.Text(), nullable=True),
        sa.Column('user_id', sa.Integer(), nullable=True),
        sa.Column('username', sa.String(length=50), nullable=True),
        sa.Column('role', sa.String(length=20), nullable=True),
        sa.Column('at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['user_id'], ['app_user.id'], name=op.f('fk_review_log_user_id_app_user'), ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_review_log')),
    )
    op.create_index('ix_review_log_target', 'review_log', ['target', 'target_id', 'id'], unique=False)
    _rename_module('innovation', 'innovation_fund')


def downgrade():
    _rename_module('innovation_fund', 'innovation')
    op.drop_index('ix_review_log_target', table_name='review_log')
    op.drop_table('review_log')


def _rename_module(old, new):
    conn = op.get_bind()
    users = sa.table('app_user', sa.column('id', sa.Integer), sa.column('modules', sa.JSON))
    for user_id, modules in conn.execute(sa.select(users.c.id, users.c.modules)).all():
        if isinstance(modules, str):
            modules = json.loads(modules)
        if modules and old in modules:
            renamed = [new if m == old else m for m in modules]
            conn.execute(users.update().where(users.c.id == user_id).values(modules=renamed))
