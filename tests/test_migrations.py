"""The Alembic migrations build exactly the schema the models declare, on SQLite and PostgreSQL."""
from __future__ import annotations

import os
import uuid

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from models import Base


def fresh_url(tmp_path):
    url = os.environ.get("TEST_DATABASE_URL")
    if not url:
        return f"sqlite:///{tmp_path / 'migrated.db'}", None
    schema = f"m_{uuid.uuid4().hex[:12]}"
    with create_engine(url).begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    parsed = make_url(url)
    return parsed.set(query={**parsed.query, "options": f"-csearch_path={schema}"}).render_as_string(hide_password=False), schema


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
                context = MigrationContext.configure(conn, opts={"compare_type": True})
                diff = [d for d in compare_metadata(context, Base.metadata)]
            assert diff == [], f"models and migrations differ: {diff[:5]}"
            downgrade(revision="base")
            engine.dispose()
    finally:
        if schema:
            with create_engine(os.environ["TEST_DATABASE_URL"]).begin() as conn:
                conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
