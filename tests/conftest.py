"""Test fixtures: one database per run (SQLite file, or a fresh PostgreSQL schema when
TEST_DATABASE_URL is set), restored to the demo snapshot before every test, and a logged-in
client per demo account (`client_as("unit_cqu")`).
"""
from __future__ import annotations

import os
import re
import uuid
from typing import Iterator

import pytest
from flask.testing import FlaskClient
from sqlalchemy import create_engine, insert, select, text

from models import Base
from models.base import scratch_schema_url

DEMO_PASSWORD = "Demo@12345"


def _database_url(tmp_path_factory) -> tuple[str, str | None]:
    url = os.environ.get("TEST_DATABASE_URL")
    if not url:
        return f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}", None
    schema = f"t_{uuid.uuid4().hex[:12]}"
    return scratch_schema_url(url, schema), schema  # an unreachable server fails the run here


@pytest.fixture(scope="session")
def database(tmp_path_factory) -> Iterator[dict]:
    url, schema = _database_url(tmp_path_factory)
    engine = create_engine(url)
    Base.metadata.create_all(engine)
    yield {"url": url, "schema": schema, "engine": engine}
    engine.dispose()
    if schema:
        admin = create_engine(os.environ["TEST_DATABASE_URL"])
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(scope="session")
def password_hash() -> str:
    from rules.passwords import hash_password

    return hash_password(DEMO_PASSWORD)


@pytest.fixture(scope="session")
def _app(database, tmp_path_factory):
    from app import create_app

    instance = tmp_path_factory.mktemp("instance")
    app = create_app(
        {
            "TESTING": True,
            "SQLALCHEMY_DATABASE_URI": database["url"],
            "SECRET_KEY": "test-" + uuid.uuid4().hex,
            "EXPORT_DIR": str(instance / "exports"),
        }
    )
    return app


@pytest.fixture(scope="session")
def snapshot(_app, password_hash) -> dict:
    """The demo world, loaded once; every test starts from a copy of it."""
    from extensions import db
    from seed.demo import seed_demo

    with _app.app_context():
        _wipe(db.engine)
        seed_demo(db.session, password_hash=password_hash)
        db.session.commit()
        data = {}
        with db.engine.connect() as conn:
            for table in Base.metadata.sorted_tables:
                data[table.name] = [dict(row._mapping) for row in conn.execute(select(table))]
        return data


def _wipe(engine) -> None:
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            names = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
            conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        else:
            for table in reversed(Base.metadata.sorted_tables):
                conn.execute(table.delete())


def _restore(engine, data: dict) -> None:
    _wipe(engine)
    with engine.begin() as conn:
        for table in Base.metadata.sorted_tables:
            rows = data.get(table.name)
            if rows:
                conn.execute(insert(table), rows)
        if engine.dialect.name == "postgresql":
            for table in Base.metadata.sorted_tables:
                if "id" in table.c and data.get(table.name):
                    conn.execute(
                        text(f"SELECT setval(pg_get_serial_sequence('\"{table.name}\"', 'id'), (SELECT max(id) FROM \"{table.name}\"))")
                    )


@pytest.fixture
def app(_app, snapshot):
    from extensions import db

    with _app.app_context():
        _restore(db.engine, snapshot)
        db.session.remove()
    with _app.app_context():
        yield _app
        db.session.remove()


@pytest.fixture
def db_session(app):
    from extensions import db

    return db.session


class Client(FlaskClient):
    """A test client that knows its CSRF token and posts admin actions the way the page does."""

    csrf_token: str = ""

    def open(self, *args, **kwargs):
        # Each request gets its own app context, as in production: a fresh `g` (Flask-WTF caches
        # the CSRF token there) and its own database session, separate from the test's session.
        with self.application.app_context():
            return super().open(*args, **kwargs)

    def refresh_csrf(self) -> str:
        page = self.get("/change-password").get_data(as_text=True)
        match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page) or re.search(
            r'id="csrf_token" name="csrf_token" type="hidden" value="([^"]+)"', page
        )
        self.csrf_token = match.group(1) if match else ""
        return self.csrf_token

    def post_form(self, url: str, data: dict | None = None, **kwargs):
        data = dict(data or {})
        data.setdefault("csrf_token", self.csrf_token)
        return self.post(url, data=data, **kwargs)

    def action(self, endpoint: str, action: str, ids, **fields):
        data = {"action": action, "rowid": [str(i) for i in ids], **fields}
        return self.post_form(f"/admin/{endpoint}/action/", data)


def login(app, username: str, password: str = DEMO_PASSWORD) -> Client:
    app.test_client_class = Client
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    response = client.post("/login", data={"username": username, "password": password, "csrf_token": token})
    assert response.status_code == 302, f"login as {username} failed: {response.status_code}"
    client.refresh_csrf()
    return client


@pytest.fixture
def client_as(app):
    clients: dict[str, Client] = {}

    def make(username: str) -> Client:
        if username not in clients:
            clients[username] = login(app, username)
        return clients[username]

    return make


@pytest.fixture
def anon(app) -> Client:
    app.test_client_class = Client
    return app.test_client()


DEMO_ACCOUNTS = (
    "sysadmin",
    "bureau",
    "authority_yb",
    "unit_cqu",
    "dept_cqu_se",
    "applicant_zhang",
    "applicant_li",
    "unit_ent",
    "applicant_ent",
)
