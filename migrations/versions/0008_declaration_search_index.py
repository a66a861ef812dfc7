"""申报书 search index: a trigram GIN index over 项目名称, 项目编号, 负责人 (PostgreSQL only)

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-22 03:30:00

The list's 搜索 is ILIKE '%词%' on three columns; a b-tree cannot serve a leading wildcard, so
on PostgreSQL one pg_trgm index covers all three. SQLite has no equivalent and keeps scanning.
"""
from alembic import op


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    op.create_index(
        "ix_declaration_search_trgm", "declaration", ["name", "number", "leader"], postgresql_using="gin",
        postgresql_ops={"name": "gin_trgm_ops", "number": "gin_trgm_ops", "leader": "gin_trgm_ops"},
    )


def downgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    op.drop_index("ix_declaration_search_trgm", table_name="declaration")
