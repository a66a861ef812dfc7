"""用户管理 (seed 004): the unit admin's users, 启用/禁用, 模块配置, 重置密码; 填报用户注册; password policy."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from models import AuditLog, Role, Unit, User
from tests.conftest import DEMO_PASSWORD, login
from tests.form_helpers import field_errors, form_data, row
from tests.mail_helpers import outbox_password


def user(db_session, username) -> User:
    return row(db_session, User, username=username)


def listed(client) -> set[str]:
    page = client.get("/admin/user/?page_size=100").get_data(as_text=True)
    return set(re.findall(r'name="rowid" class="action-checkbox" value="(\d+)"', page))


def test_unit_admin_sees_only_its_units_users(client_as, db_session):
    cqu = db_session.scalar(select(Unit.id).where(Unit.name == "重庆大学"))
    expected = {str(i) for i in db_session.scalars(select(User.id).where(User.unit_id == cqu))}
    assert listed(client_as("unit_cqu")) == expected
    for other in ("unit_swu", "applicant_swu", "applicant_ent", "authority_yb"):
        target = user(db_session, other)
        assert client_as("unit_cqu").get(f"/admin/user/details/?id={target.id}").status_code == 404


def test_disable_and_enable(app, client_as, db_session):
    zhang = user(db_session, "applicant_zhang")
    client = client_as("unit_cqu")
    client.action("user", "disable", [zhang.id])
    assert user(db_session, "applicant_zhang").active is False
    assert "已禁用 1 条" in client.get("/admin/user/").get_data(as_text=True)
    with pytest.raises(AssertionError):
        login(app, "applicant_zhang")
    client.action("user", "enable", [zhang.id])
    assert user(db_session, "applicant_zhang").active is True
    login(app, "applicant_zhang")
    log = db_session.scalars(select(AuditLog).where(AuditLog.table_name == "app_user", AuditLog.row_id == str(zhang.id), AuditLog.action == "update")).all()
    log = [entry for entry in log if "active" in entry.after]
    assert [entry.after["active"] for entry in log[-2:]] == [False, True] and log[-2].before["active"] is True


def test_a_unit_admin_cannot_disable_itself_and_others_are_skipped(client_as, db_session):
    me, zhang = user(db_session, "unit_cqu"), user(db_session, "applicant_zhang")
    client = client_as("unit_cqu")
    client.action("user", "disable", [me.id, zhang.id])
    message = client.get("/admin/user/").get_data(as_text=True)
    assert "已禁用 1 条，跳过 1 条" in message and "不能对本人账号执行此操作" in message
    assert user(db_session, "unit_cqu").active is True and user(db_session, "applicant_zhang").active is False


@pytest.mark.parametrize("target", ["applicant_swu", "unit_swu", "applicant_ent"])
@pytest.mark.parametrize("action", ["disable", "reset_password"])
def test_another_units_users_are_out_of_reach(client_as, db_session, target, action):
    victim = user(db_session, target)
    before = (victim.active, victim.password_hash, victim.must_change_password)
    assert client_as("unit_cqu").action("user", action, [victim.id]).status_code == 404
    assert client_as("unit_cqu").post_form(f"/admin/user/edit/?id={victim.id}", {"name": "x", "active": ""}).status_code == 404
    after = user(db_session, target)
    assert (after.active, after.password_hash, after.must_change_password) == before


def test_reset_password_gives_a_one_time_password_that_must_be_changed(app, client_as, db_session):
    zhang = user(db_session, "applicant_zhang")
    client = client_as("unit_cqu")
    client.action("user", "reset_password", [zhang.id])
    page = client.get("/admin/user/").get_data(as_text=True)
    password = outbox_password(db_session)
    assert "applicant_zhang：临时密码已保存至站内消息" in page and password not in page
    assert user(db_session, "applicant_zhang").must_change_password is True
    with pytest.raises(AssertionError):
        login(app, "applicant_zhang", DEMO_PASSWORD)  # the old password no longer works
    fresh = login(app, "applicant_zhang", password)
    assert fresh.get("/admin/person/").headers["Location"].endswith("/change-password")
    weak = fresh.post_form("/change-password", {"old_password": password, "new_password": "abcdefgh", "confirm": "abcdefgh"})
    assert "至少三种" in weak.get_data(as_text=True)
    with_phone = fresh.post_form("/change-password", {"old_password": password, "new_password": f"A@{zhang.mobile}", "confirm": f"A@{zhang.mobile}"})
    assert "不能包含手机号码" in with_phone.get_data(as_text=True)
    assert user(db_session, "applicant_zhang").must_change_password is True
    done = fresh.post_form("/change-password", {"old_password": password, "new_password": "Zw#Cqu2024", "confirm": "Zw#Cqu2024"})
    assert done.status_code == 302 and user(db_session, "applicant_zhang").must_change_password is False
    assert fresh.get("/admin/person/").status_code == 200


def test_module_configuration(client_as, db_session):
    zhang = user(db_session, "applicant_zhang")
    client = client_as("unit_cqu")
    page = client.get(f"/admin/user/edit/?id={zhang.id}").get_data(as_text=True)
    assert all(label in page for label in ("科研项目", "创业资助", "创新资助", "技术创新项目"))
    assert 'id="role"' not in page and 'id="unit"' not in page  # not the unit admin's to change
    data = form_data(page)
    data["modules"] = ["research", "innovation_fund"]
    data["role"] = "sysadmin"  # posted anyway: ignored
    assert client.post(f"/admin/user/edit/?id={zhang.id}", data=data).status_code == 302
    zhang = user(db_session, "applicant_zhang")
    assert zhang.modules == ["research", "innovation_fund"] and zhang.role == Role.applicant
    assert "科研项目、创新资助" in client.get("/admin/user/").get_data(as_text=True)


def test_unit_admin_cannot_create_accounts_directly(client_as):
    assert client_as("unit_cqu").get("/admin/user/new/").status_code in (302, 404)


def test_sysadmin_password_policy_on_create(client_as, db_session):
    client = client_as("sysadmin")
    page = client.get("/admin/user/new/").get_data(as_text=True)
    data = form_data(page)
    data.update(username="newuser", name="新用户", role="bureau", new_password="newuser2024")
    response = client.post("/admin/user/new/", data=data)
    assert response.status_code == 200 and any("至少三种" in e or "用户名" in e for e in field_errors(response))
    assert user(db_session, "newuser") is None
