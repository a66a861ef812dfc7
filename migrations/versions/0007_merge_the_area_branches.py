"""merge the area branches

Revision ID: 0007
Revises: 0003, 0004, 0005, 0006
Create Date: 2026-11-22 01:25:17.247341

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0007'
down_revision = ('0003', '0004', '0005', '0006')
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
