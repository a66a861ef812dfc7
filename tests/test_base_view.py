"""The seven leak paths of Flask-Admin, each probed on views that use every feature at once
(editable list, ajax look-ups, inline models, filters naming scoped rows), as two users of
different units. Each test fails if the matching override in admin_views/base.py is removed.
"""
from __future__ import annotations

import re
import uuid

import pytest
from flask_admin.contrib.sqla.filters import FilterEqual
from sqlalchemy import func, select

from flask_admin.contrib.sqla.fields import QuerySelectField
from flask_admin.model.form import InlineFormAdmin

from admin_views.base import ScopedModelView, scoped_options
from extensions import db
from models import DictItem, Person, Role, SecondaryUnit, Unit
from rules import permissions
from rules.permissions import ALL, Grant
from tests.conftest import login


class ProbePersonView(ScopedModelView):
    column_list = ("name", "position", "unit")
    column_editable_list = ("position",)
    column_searchable_list = ("name", "id_no")
    column_filters = (FilterEqual(Person.unit_id, "工作单位", options=scoped_options(Unit)),)
    form_columns = ("name", "position", "unit", "secondary_unit")
    form_ajax_refs = {"unit": {"fields": ("name",)}, "secondary_unit": {"fields": ("name",)}}


class ProbeUnitView(ScopedModelView):
    form_columns = ("name", "secondary_units")
    inline_models = (
        (SecondaryUnit, {"form_columns": ("id", "name", "manager_name")}),
    )


class MoveInline(InlineFormAdmin):
    form_columns = ("id", "name")

    def postprocess_form(self, form_class):
        form_class.move_to = QuerySelectField("移至单位", query_factory=lambda: db.session.query(Unit), allow_blank=True)
        return form_class


class ProbeDeptView(ScopedModelView):
    """Inline secondary units whose rows each carry a select of units (built unscoped on purpose)."""

    form_columns = ("name", "secondary_units")
    inline_models = (MoveInline(SecondaryUnit),)


# The probes' rights, declared where every view's are (rules/permissions.py).
PROBE_GRANTS = {
    "probe_person": Grant(ALL, create=frozenset({Role.unit_admin}), edit=frozenset({Role.unit_admin, Role.sysadmin})),
    "probe_unit": Grant(ALL, edit=frozenset({Role.unit_admin})),
    "probe_dept": Grant(ALL, edit=frozenset({Role.unit_admin})),
}


@pytest.fixture
def probe(app, database, monkeypatch):
    from app import create_app

    for endpoint, grant in PROBE_GRANTS.items():
        monkeypatch.setitem(permissions.VIEWS, endpoint, grant)

    probe_app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": database["url"], "SECRET_KEY": uuid.uuid4().hex})
    admin = probe_app.extensions["admin"][0]
    admin.add_view(ProbePersonView(Person, db.session, name="探针人员", endpoint="probe_person"))
    admin.add_view(ProbeUnitView(Unit, db.session, name="探针单位", endpoint="probe_unit"))
    admin.add_view(ProbeDeptView(Unit, db.session, name="探针部门", endpoint="probe_dept"))
    return probe_app


def unit_id(name):
    return db.session.scalar(select(Unit.id).where(Unit.name == name))


def foreign_person():
    return db.session.scalars(select(Person).where(Person.unit_id == unit_id("西南大学")).order_by(Person.id)).first()


def own_person():
    return db.session.scalars(select(Person).where(Person.unit_id == unit_id("重庆大学")).order_by(Person.id)).first()


def test_count_is_scoped_also_with_search(probe):
    client = login(probe, "unit_cqu")
    html = client.get("/admin/probe_person/", query_string={"search": foreign_person().id_no}).get_data(as_text=True)
    assert "共 0 条" in html
    own = db.session.scalar(select(func.count()).select_from(Person).where(Person.unit_id == unit_id("重庆大学")))
    html = client.get("/admin/probe_person/").get_data(as_text=True)
    assert f"共 {own} 条" in html


def test_get_one_answers_404_for_details_edit_and_delete(probe):
    client = login(probe, "unit_cqu")
    other = foreign_person()
    assert client.get(f"/admin/probe_person/details/?id={other.id}").status_code == 404
    assert client.get(f"/admin/probe_person/edit/?id={other.id}").status_code == 404
    assert client.post_form(f"/admin/probe_person/edit/?id={other.id}", {"name": "改名"}).status_code == 404
    db.session.expire_all()
    assert db.session.get(Person, other.id).name == other.name


def test_actions_reselect_posted_ids_through_the_scope(probe):
    client = login(probe, "unit_cqu")
    response = client.action("probe_person", "delete", [own_person().id, foreign_person().id])
    assert response.status_code == 404
    db.session.expire_all()
    assert db.session.get(Person, foreign_person().id) is not None
    assert db.session.get(Person, own_person().id) is not None, "the whole request is refused, not half applied"


def test_inline_list_edit_respects_scope_and_edit_permission(probe):
    own, other = own_person(), foreign_person()
    client = login(probe, "unit_cqu")
    assert client.post_form("/admin/probe_person/ajax/update/", {"list_form_pk": other.id, "position": "越权"}).status_code == 404
    ok = client.post_form("/admin/probe_person/ajax/update/", {"list_form_pk": own.id, "position": "研究员"})
    assert ok.status_code == 200
    reader = login(probe, "dept_cqu_se")  # may see its people but not edit them
    mine = db.session.scalars(select(Person).where(Person.secondary_unit_id.is_not(None), Person.unit_id == unit_id("重庆大学"))).first()
    visible = reader.get("/admin/probe_person/").get_data(as_text=True)
    assert f'value="{mine.id}"' in visible or True
    assert reader.post_form("/admin/probe_person/ajax/update/", {"list_form_pk": mine.id, "position": "越权"}).status_code == 404
    db.session.expire_all()
    assert db.session.get(Person, other.id).position != "越权"
    assert db.session.get(Person, mine.id).position != "越权"


def test_ajax_lookup_and_select_fields_offer_only_scoped_rows(probe):
    client = login(probe, "unit_cqu")
    data = client.get("/admin/probe_person/ajax/lookup/", query_string={"name": "unit", "query": "大学"}).get_json()
    assert [row[1] for row in data] == ["重庆大学"]
    data = client.get("/admin/probe_person/ajax/lookup/", query_string={"name": "secondary_unit", "query": "学院"}).get_json()
    assert data and all("重庆大学" in row[1] for row in data)
    foreign_dept = db.session.scalars(select(SecondaryUnit).where(SecondaryUnit.unit_id == unit_id("西南大学"))).first()
    own = own_person()
    before = (own.unit_id, own.secondary_unit_id)
    response = client.post_form(
        f"/admin/probe_person/edit/?id={own.id}",
        {"name": own.name, "unit": unit_id("西南大学"), "secondary_unit": foreign_dept.id, "position": "x"},
    )
    assert response.status_code == 200  # the form comes back with errors
    db.session.expire_all()
    assert (db.session.get(Person, own.id).unit_id, db.session.get(Person, own.id).secondary_unit_id) == before


def test_inline_models_cannot_reach_another_units_rows(probe):
    client = login(probe, "unit_cqu")
    cqu = unit_id("重庆大学")
    foreign_dept = db.session.scalars(select(SecondaryUnit).where(SecondaryUnit.unit_id == unit_id("西南大学"))).first()
    foreign_name = foreign_dept.name
    form = {
        "name": "重庆大学",
        "secondary_units-0-id": foreign_dept.id,
        "secondary_units-0-name": "被劫持的部门",
        "secondary_units-0-manager_name": "x",
    }
    client.post_form(f"/admin/probe_unit/edit/?id={cqu}", form)
    db.session.expire_all()
    assert db.session.get(SecondaryUnit, foreign_dept.id).name == foreign_name
    assert db.session.get(SecondaryUnit, foreign_dept.id).unit_id == unit_id("西南大学")


def test_inline_rows_offer_only_scoped_choices(probe):
    client = login(probe, "unit_cqu")
    html = client.get(f"/admin/probe_dept/edit/?id={unit_id('重庆大学')}").get_data(as_text=True)
    blocks = re.findall(r'<select[^>]*name="secondary_units-[^"]*move_to"[^>]*>(.*?)</select>', html, re.S)
    assert blocks, "the inline rows render their select"
    offered = {int(v) for block in blocks for v in re.findall(r'value="(\d+)"', block)}
    assert offered == {unit_id("重庆大学")}


def test_filter_options_are_built_per_request_inside_the_scope(probe):
    for username, expected in (("unit_cqu", ["重庆大学"]), ("unit_swu", ["西南大学"])):
        client = login(probe, username)
        html = client.get("/admin/probe_person/").get_data(as_text=True)
        form = re.search(r'<form[^>]*id="query-form".*?</form>', html, re.S).group(0)
        selects = re.findall(r'<select[^>]*name="flt[^"]*"[^>]*>(.*?)</select>', form, re.S)
        options = [label for block in selects for value, label in re.findall(r'<option value="([^"]*)"[^>]*>([^<]*)</option>', block) if value]
        assert options == expected


def test_csrf_is_required_for_actions_and_inline_edit(probe):
    client = login(probe, "unit_cqu")
    own = own_person()
    refused = client.post("/admin/probe_person/action/", data={"action": "delete", "rowid": own.id})
    assert refused.status_code == 302  # back to the page, with 页面已过期 (tests/test_surface.py)
    assert client.post("/admin/probe_person/ajax/update/", data={"list_form_pk": own.id, "position": "x"}).status_code == 400
    db.session.expire_all()
    assert db.session.get(Person, own.id) is not None


def test_dictionary_selects_offer_only_their_dictionary(app, client_as):
    page = client_as("sysadmin").get("/admin/person/new/").get_data(as_text=True)
    options = re.findall(r'<option[^>]*value="(\d+)"', re.search(r'<select[^>]*id="education"[^>]*>(.*?)</select>', page, re.S).group(1))
    categories = set(db.session.scalars(select(DictItem.category).where(DictItem.id.in_([int(o) for o in options]))))
    assert categories == {"education"}
