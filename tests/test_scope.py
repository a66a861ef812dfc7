"""The scope walk: every registered model view, for every demo account, on every read and write
path — list, count (also with search), details, edit (GET and POST), delete, every action, export,
ajax look-ups, foreign-key select fields, inline edit and filter options — returns and changes
nothing outside the account's data scope. Out-of-scope ids answer 404.
"""
from __future__ import annotations

import io
import json
import re

import pytest
from openpyxl import load_workbook
from sqlalchemy import String, inspect as sa_inspect, select

from admin_views.base import ScopedModelView
from extensions import db
from models import User
from rules import permissions, scope
from tests.conftest import DEMO_ACCOUNTS

ACCOUNTS = DEMO_ACCOUNTS + ("unit_swu", "authority_jb", "applicant_swu")


def _registered_views():
    from app import create_app

    app = create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://", "SECRET_KEY": "x"})
    admin = app.extensions["admin"][0]
    return sorted(v.endpoint for v in admin._views if isinstance(v, ScopedModelView))


ENDPOINTS = _registered_views()


def view_of(app, endpoint) -> ScopedModelView:
    admin = app.extensions["admin"][0]
    return next(v for v in admin._views if getattr(v, "endpoint", None) == endpoint)


def principal_of(username):
    user = db.session.execute(select(User).where(User.username == username)).scalar_one()
    return scope.Principal.of(user)


def pk_of(model):
    return sa_inspect(model).primary_key[0]


def visible_and_hidden(app, view, p):
    """Ids the account may see in this view (scope and the view's fixed filter) and all others."""
    from flask_login import login_user

    pk = pk_of(view.model)
    stmt = select(pk).where(scope.predicate(p, view.model))
    with app.test_request_context():
        login_user(db.session.get(User, p.user_id))  # a fixed filter may depend on the role
        extra = view.base_filter()
    if extra is not None:
        stmt = stmt.where(extra)
    visible = set(db.session.scalars(stmt))
    everything = set(db.session.scalars(select(pk) if extra is None else select(pk).where(extra)))
    return visible, everything - visible


def sentinels(model, ids) -> set[str]:
    """Unique text values (统一社会信用代码, 证件号码, …) of the given rows: they must never be shown."""
    columns = [
        c for c in sa_inspect(model).columns
        if c.unique and isinstance(c.type, String) and not c.primary_key and c.name not in ("name", "username")
    ]
    if not columns or not ids:
        return set()
    rows = db.session.execute(select(*columns).where(pk_of(model).in_(ids))).all()
    return {str(v) for row in rows for v in row if v and len(str(v)) >= 11}


def fingerprint(model):
    return db.session.execute(select(model.__table__).order_by(pk_of(model))).all()


def listed_ids(client, endpoint, **args):
    ids, count = [], None
    for page in range(10):
        html = client.get(f"/admin/{endpoint}/", query_string={"page_size": 100, "page": page, **args}).get_data(as_text=True)
        if count is None:
            m = re.search(r"共 (\d+) 条", html)
            count = int(m.group(1)) if m else None
        found = re.findall(r'name="rowid" class="action-checkbox" value="([^"]+)"', html)
        ids += found
        if len(found) < 100:
            return ids, count, html
    return ids, count, html


@pytest.mark.parametrize("endpoint", ENDPOINTS)
@pytest.mark.parametrize("username", ACCOUNTS)
def test_nothing_outside_the_scope(app, client_as, username, endpoint):
    client = client_as(username)
    view = view_of(app, endpoint)
    p = principal_of(username)
    model = view.model

    if not permissions.allowed(p, endpoint, "view"):
        assert client.get(f"/admin/{endpoint}/").status_code == 404
        assert client.get(f"/admin/{endpoint}/export/xlsx/").status_code == 404
        return

    visible, hidden = visible_and_hidden(app, view, p)
    secret = sentinels(model, hidden)
    before = fingerprint(model)

    # list and count
    ids, count, html = listed_ids(client, endpoint)
    assert {view._coerce_pk(i) for i in ids} <= visible, "list shows rows outside the scope"
    assert (count or 0) == len(visible), f"count {count} != {len(visible)} rows in scope"
    assert not [s for s in secret if s in html]

    # count with search: a term taken from an out-of-scope row must not be counted
    if view._search_supported and secret:
        term = sorted(secret)[0]
        ids, count, html = listed_ids(client, endpoint, search=term)
        assert {view._coerce_pk(i) for i in ids} <= visible
        assert count is None or count <= len(visible)
        assert count is None or count == len(ids), "search count includes rows outside the scope"

    # filter option lists name only rows inside the scope
    m = re.search(r'<div id="filter-groups-data" class="d-none">(.*?)</div>', html, re.S)
    if m:
        payload = json.dumps(json.loads(m.group(1)), ensure_ascii=False)
        assert not [s for s in secret if s in payload]

    # details, edit form and create form of visible rows: no foreign select options
    for pk in sorted(visible)[:3]:
        if view.can_view_details:
            page = client.get(f"/admin/{endpoint}/details/", query_string={"id": pk})
            assert page.status_code in (200, 302)  # some details pages hand over to a richer page
        if permissions.allowed(p, endpoint, "edit"):
            page = client.get(f"/admin/{endpoint}/edit/", query_string={"id": pk})
            assert page.status_code in (200, 302)  # a row in a state that cannot be edited hands back
            assert_select_options_in_scope(page.get_data(as_text=True), view, p)
    if permissions.allowed(p, endpoint, "create"):
        page = client.get(f"/admin/{endpoint}/new/")
        assert page.status_code in (200, 302)
        assert_select_options_in_scope(page.get_data(as_text=True), view, p)

    # ajax look-ups list only rows inside the scope
    for name, loader in (view._form_ajax_refs or {}).items():
        data = client.get(f"/admin/{endpoint}/ajax/lookup/", query_string={"name": name, "query": ""}).get_json()
        allowed = set(db.session.scalars(select(pk_of(loader.model)).where(scope.predicate(p, loader.model))))
        assert {row[0] for row in data} <= allowed

    # export: exactly the rows in scope; posting a foreign id answers 404
    response = client.get(f"/admin/{endpoint}/export/xlsx/")
    if response.status_code == 200 and response.mimetype.endswith("sheet"):
        sheet = load_workbook(io.BytesIO(response.data), read_only=True).worksheets[0]
        rows = list(sheet.iter_rows(values_only=True))
        assert len(rows) - 1 == len(visible)
        text = "\n".join(str(v) for row in rows for v in row if v is not None)
        assert not [s for s in secret if s in text]

    # every write path with an out-of-scope id: 404 and nothing changed
    for pk in sorted(hidden)[:3]:
        details = client.get(f"/admin/{endpoint}/details/", query_string={"id": pk}).status_code
        assert details == 404 if view.can_view_details else details in (302, 404)
        assert client.get(f"/admin/{endpoint}/edit/", query_string={"id": pk}).status_code in (302, 404)
        assert client.post_form(f"/admin/{endpoint}/edit/?id={pk}", {"name": "x"}).status_code in (302, 404)
        assert client.post_form(f"/admin/{endpoint}/delete/", {"id": pk}).status_code in (302, 404)
        assert client.post_form(f"/admin/{endpoint}/ajax/update/", {"list_form_pk": pk, "name": "x"}).status_code == 404
        assert client.get(f"/admin/{endpoint}/export/xlsx/", query_string={"rowid": pk}).status_code == 404
        for action in view._actions_data:
            if view.machine is not None and action in view.machine.by_action:
                # a transition skips the foreign id with a reason that does not confirm it exists
                response = client.action(endpoint, action, [pk], reason="越权测试")
                assert response.status_code in (302, 404), f"action {action} with a foreign id answered {response.status_code}"
                if response.status_code == 302:
                    flashed = client.get(f"/admin/{endpoint}/").get_data(as_text=True)
                    assert "记录不存在或不在您的数据范围内" in flashed and not [s for s in secret if s in flashed]
                continue
            rowids = [pk] + sorted(visible)[:1]
            response = client.action(endpoint, action, rowids, reason="越权测试")
            assert response.status_code == 404, f"action {action} with a foreign id answered {response.status_code}"
        if hidden and view.can_edit:
            if client.get(f"/admin/{endpoint}/edit/", query_string={"id": pk}).status_code != 404:
                pytest.fail("edit of a foreign row did not answer 404")
    db.session.expire_all()
    assert fingerprint(model) == before, "an out-of-scope request changed rows"


def assert_select_options_in_scope(html: str, view, p) -> None:
    mapper = sa_inspect(view.model)
    for rel in mapper.relationships:
        m = re.search(rf'<select[^>]*id="{rel.key}"[^>]*>(.*?)</select>', html, re.S)
        if not m:
            continue
        values = {v for v in re.findall(r'<option[^>]*value="([^"]*)"', m.group(1)) if v and v != "__None"}
        remote = rel.mapper.class_
        allowed = {str(v) for v in db.session.scalars(select(pk_of(remote)).where(scope.predicate(p, remote)))}
        assert values <= allowed, f"{view.endpoint}.{rel.key} offers rows outside the scope: {sorted(values - allowed)[:5]}"
