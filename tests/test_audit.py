"""Every write is in the audit log with who, when, before and after; the logs are for bureau and sysadmin."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from models import AuditLog, DictItem, Region


def dictionary_item(db_session, name="博士研究生"):
    return db_session.scalar(select(DictItem).where(DictItem.category == "education", DictItem.name == name))


def test_edit_is_audited_with_before_and_after(client_as, db_session):
    item = dictionary_item(db_session)
    client = client_as("sysadmin")
    response = client.post_form(
        f"/admin/dictionary/edit/?id={item.id}",
        {"category": "education", "code": item.code, "name": "博士", "sort": "1", "active": "y"},
    )
    assert response.status_code == 302
    row = db_session.scalars(select(AuditLog).where(AuditLog.action == "update", AuditLog.table_name == "dict_item")).one()
    assert row.username == "sysadmin" and row.row_id == str(item.id) and row.ip == "127.0.0.1"
    assert row.before == {"name": "博士研究生"} and row.after == {"name": "博士"}


def test_create_and_delete_are_audited(client_as, db_session):
    client = client_as("sysadmin")
    client.post_form("/admin/dictionary/new/", {"category": "title", "code": "99", "name": "研究员级", "sort": "9", "active": "y"})
    created = db_session.scalar(select(DictItem).where(DictItem.code == "99"))
    assert created is not None
    client.post_form("/admin/dictionary/delete/", {"id": created.id})
    actions = db_session.execute(select(AuditLog.action, AuditLog.before, AuditLog.after).where(AuditLog.table_name == "dict_item", AuditLog.row_id == str(created.id)).order_by(AuditLog.id)).all()
    assert [a.action for a in actions] == ["create", "delete"]
    assert actions[0].after["name"] == "研究员级" and actions[1].before["name"] == "研究员级"


def test_a_failed_write_leaves_no_audit_row_and_no_change(client_as, db_session):
    region = db_session.scalar(select(Region).where(Region.name == "渝北区"))
    client = client_as("sysadmin")
    other = db_session.scalar(select(Region).where(Region.name == "江北区"))
    response = client.post_form(f"/admin/region/edit/?id={region.id}", {"code": other.code, "name": "渝北区", "kind": "district", "sort": "1"})
    assert response.status_code == 200  # the form comes back; the duplicate code is refused
    assert "500" not in str(response.status_code)
    db_session.expire_all()
    assert db_session.get(Region, region.id).code == "500112"
    assert db_session.scalar(select(AuditLog).where(AuditLog.table_name == "region")) is None


def test_password_hashes_never_reach_the_log(db_session):
    from models import Role, User
    from rules.audit import Actor, acting_as

    with acting_as(Actor(user_id=1, username="sysadmin")):
        user = User(username="audit_probe", name="审计探针", role=Role.sysadmin, password_hash="$argon2id$secret")
        db_session.add(user)
        db_session.commit()
        user.password_hash = "$argon2id$other"
        db_session.commit()
    rows = db_session.scalars(select(AuditLog).where(AuditLog.table_name == "app_user").order_by(AuditLog.id)).all()
    assert [r.action for r in rows] == ["create", "update"]
    assert rows[0].after["password_hash"] == "******" and rows[0].username == "sysadmin"
    # a new password also raises the session version (rules/sessions.py): every session ends
    assert rows[1].before == {"password_hash": "******", "session_version": 0}
    assert rows[1].after == {"password_hash": "******", "session_version": 1}


@pytest.mark.parametrize("username,allowed", [("sysadmin", True), ("bureau", True), ("unit_cqu", False), ("authority_yb", False), ("applicant_zhang", False)])
def test_logs_are_only_for_bureau_and_sysadmin(client_as, username, allowed):
    client = client_as(username)
    for endpoint in ("operation_log", "login_log"):
        assert client.get(f"/admin/{endpoint}/").status_code == (200 if allowed else 404)


def test_login_log_shows_logins_and_operation_log_the_rest(client_as, db_session):
    client_as("unit_cqu")
    client = client_as("sysadmin")
    item = dictionary_item(db_session, "硕士研究生")
    client.post_form(f"/admin/dictionary/edit/?id={item.id}", {"category": "education", "code": item.code, "name": "硕士", "sort": "2", "active": "y"})
    logins = client.get("/admin/login_log/").get_data(as_text=True)
    operations = client.get("/admin/operation_log/").get_data(as_text=True)
    assert "登录成功" in logins and "修改" not in re.sub(r"<(script|style).*?</\1>", "", logins, flags=re.S).split("登录日志")[-1]
    assert "修改" in operations and "登录成功" not in operations
    filtered = client.get("/admin/login_log/", query_string={"search": "unit_cqu"}).get_data(as_text=True)
    assert "共 1 条" in filtered


def test_saving_a_user_unchanged_writes_no_role_change(client_as, db_session):
    """The form posts the role as its code; the same role is no change in the 操作日志."""
    from models import AuditLog, User
    from tests.form_helpers import form_data

    zhang = db_session.scalar(select(User).where(User.username == "applicant_zhang"))
    client = client_as("sysadmin")
    data = form_data(client.get(f"/admin/user/edit/?id={zhang.id}").get_data(as_text=True))
    data["name"] = "张伟（已核对）"
    client.post(f"/admin/user/edit/?id={zhang.id}", data=data)
    db_session.expire_all()
    row = db_session.scalars(select(AuditLog).where(AuditLog.table_name == "app_user", AuditLog.row_id == str(zhang.id),
                                                   AuditLog.action == "update").order_by(AuditLog.id.desc())).first()
    assert row.after.get("name") == "张伟（已核对）" and "role" not in row.after, row.after
