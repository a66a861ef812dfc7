"""Reference and demo data, and the per-role menu."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from admin_views.base import ScopedModelView
from models import DictItem, Person, Region, RegionKind, Unit, User
from seed.demo import ACCOUNTS, seed_demo
from tests.conftest import DEMO_ACCOUNTS


def counts(session):
    return {m.__name__: session.scalar(select(func.count()).select_from(m)) for m in (Region, DictItem, Unit, User, Person)}


def test_reference_data_has_the_38_districts_and_the_zones(db_session):
    districts = db_session.scalars(select(Region.name).where(Region.kind == RegionKind.district)).all()
    assert len(districts) == 38 and "渝北区" in districts and "彭水苗族土家族自治县" in districts
    zones = db_session.scalars(select(Region.name).where(Region.kind == RegionKind.zone)).all()
    assert "两江新区" in zones
    liangjiang = set(db_session.scalars(select(Region.name).where(Region.in_liangjiang, Region.kind == RegionKind.district)))
    assert liangjiang == {"江北区", "渝北区", "北碚区"}


def test_every_demo_account_exists_with_its_place(db_session):
    users = {u.username: u for u in db_session.scalars(select(User))}
    assert set(DEMO_ACCOUNTS) <= set(users)
    assert users["dept_cqu_se"].secondary_unit.name == "软件学院" and users["dept_cqu_se"].unit.name == "重庆大学"
    assert users["applicant_li"].secondary_unit_id is None and users["applicant_li"].unit.name == "重庆大学"
    assert users["authority_yb"].region.name == "渝北区"
    assert users["unit_ent"].unit.region.name == "渝北区"


def test_demo_seed_is_idempotent_and_scales_in_bulk(db_session, password_hash):
    before = counts(db_session)
    seed_demo(db_session, password_hash=password_hash)
    db_session.commit()
    assert counts(db_session) == before
    seed_demo(db_session, scale=120, password_hash=password_hash)
    db_session.commit()
    grown = counts(db_session)
    assert grown["Person"] == before["Person"] + 120 and grown["Unit"] == before["Unit"] + 2
    seed_demo(db_session, scale=120, password_hash=password_hash)
    db_session.commit()
    assert counts(db_session) == grown


def accessible(app, role):
    admin = app.extensions["admin"][0]
    return {v.endpoint for v in admin._views if isinstance(v, ScopedModelView) and role in v.roles}


@pytest.mark.parametrize("username", DEMO_ACCOUNTS)
def test_menu_shows_each_role_only_what_it_may_use(app, client_as, username):
    role = next(a[2] for a in ACCOUNTS if a[0] == username)
    client = client_as(username)
    html = client.get("/admin/").get_data(as_text=True)
    menu = set(re.findall(r'href="/admin/([a-z_]+)/', html))
    views = {v.endpoint for v in app.extensions["admin"][0]._views if isinstance(v, ScopedModelView)}
    allowed = accessible(app, role)
    assert menu & views <= allowed, f"menu offers views the role cannot use: {sorted((menu & views) - allowed)}"
    assert menu & views, "the role has a menu"
    for endpoint in views - allowed:
        assert client.get(f"/admin/{endpoint}/").status_code == 404
