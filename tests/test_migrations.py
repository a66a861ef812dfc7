"""The Alembic migrations build exactly the schema the models declare, on SQLite and PostgreSQL."""
from __future__ import annotations

import os
import uuid

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, text

from models import Base
from models.base import built_on, scratch_schema_url


def fresh_url(tmp_path):
    url = os.environ.get("TEST_DATABASE_URL")
    if not url:
        return f"sqlite:///{tmp_path / 'migrated.db'}", None
    schema = f"m_{uuid.uuid4().hex[:12]}"
    return scratch_schema_url(url, schema), schema


def test_upgrade_to_head_matches_the_models(tmp_path):
    from flask_migrate import downgrade, upgrade

    from app import create_app

    url, schema = fresh_url(tmp_path)
    try:
        app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "x"})
        with app.app_context():
            upgrade(revision="heads")
            engine = create_engine(url)
            with engine.connect() as conn:
                include = lambda obj, name, kind, reflected, other: built_on(obj, conn.dialect.name)  # noqa: E731
                context = MigrationContext.configure(conn, opts={"compare_type": True, "include_object": include})
                diff = [d for d in compare_metadata(context, Base.metadata)]
            assert diff == [], f"models and migrations differ: {diff[:5]}"
            downgrade(revision="base")
            engine.dispose()
    finally:
        if schema:
            with create_engine(os.environ["TEST_DATABASE_URL"]).begin() as conn:
                conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
