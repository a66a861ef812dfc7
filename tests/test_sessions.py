"""Sessions that end (issue #12): logout, password change, reset, disable and role change end a
user's sessions in every browser and worker; 在线用户 and 强退; GET /logout only asks.

Oracles: status codes and redirects seen by each client, and SQL counts of login_session rows.
"""
from __future__ import annotations

import hashlib
import os
import re
import uuid

import pytest
from sqlalchemy import func, select

from models import AuditLog, LoginSession, Role, User
from tests.conftest import DEMO_PASSWORD, Client, login
from tests.form_helpers import edit, scalar

NEW_PASSWORD = "Kx9#mPq2vL"


def user_id(db_session, username: str) -> int:
    return scalar(db_session, select(User.id).where(User.username == username))


def open_rows(db_session, username: str) -> int:
    db_session.rollback()  # a fresh snapshot: the clients commit in their own sessions
    return db_session.scalar(
        select(func.count()).select_from(LoginSession).join(User, User.id == LoginSession.user_id)
        .where(User.username == username, LoginSession.ended_at.is_(None))
    )


def signed_in(client) -> bool:
    response = client.get("/admin/")
    if response.status_code == 200:
        return True
    assert response.status_code == 302 and "/login" in response.headers["Location"], response.status_code
    return False


def logout(client):
    return client.post_form("/logout")


def test_login_stores_only_the_tokens_hash(app, db_session):
    client = login(app, "unit_cqu")
    cookie = client.get_cookie("session").value
    data = app.session_interface.get_signing_serializer(app).loads(cookie)
    rows = db_session.scalars(select(LoginSession).where(LoginSession.user_id == user_id(db_session, "unit_cqu"))).all()
    assert len(rows) == 1 and rows[0].ended_at is None and rows[0].ip == "127.0.0.1"
    assert rows[0].token_hash == hashlib.sha256(data["_sid"].encode()).hexdigest() != data["_sid"]
    assert data["_sv"] == scalar(db_session, select(User.session_version).where(User.username == "unit_cqu"))


def test_logout_in_one_browser_ends_the_other(app, db_session):
    first, second = login(app, "unit_cqu"), login(app, "unit_cqu")
    assert open_rows(db_session, "unit_cqu") == 2 and signed_in(first) and signed_in(second)
    version = scalar(db_session, select(User.session_version).where(User.username == "unit_cqu"))
    response = logout(first)
    assert response.status_code == 302 and response.headers["Location"].endswith("/login")
    assert not signed_in(first) and not signed_in(second)
    assert open_rows(db_session, "unit_cqu") == 0
    assert scalar(db_session, select(User.session_version).where(User.username == "unit_cqu")) == version + 1
    reasons = db_session.scalars(select(LoginSession.end_reason).where(LoginSession.user_id == user_id(db_session, "unit_cqu"))).all()
    assert reasons == ["logout", "logout"]
    assert scalar(db_session, select(func.count()).select_from(AuditLog).where(AuditLog.action == "logout")) == 1


def test_a_cookie_captured_before_logout_stops_working(app, db_session):
    client = login(app, "unit_cqu")
    stolen = client.get_cookie("session").value
    logout(client)
    replay = app.test_client()
    replay.set_cookie("session", stolen)
    response = replay.get("/admin/person/")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_get_logout_only_asks(app, db_session):
    client = login(app, "unit_cqu")
    page = client.get("/logout")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "确定退出登录？" in html and "取消" in html and 'method="post"' in html
    assert signed_in(client) and open_rows(db_session, "unit_cqu") == 1


def test_logout_without_csrf_does_not_log_out(app, db_session):
    client = login(app, "unit_cqu")
    response = client.post("/logout", data={})
    assert response.status_code in (200, 302)
    assert signed_in(client) and open_rows(db_session, "unit_cqu") == 1
    response = client.post("/logout", data={"csrf_token": "forged"})
    assert signed_in(client) and open_rows(db_session, "unit_cqu") == 1


def test_the_menu_logs_out_by_post(app):
    client = login(app, "unit_cqu")
    html = client.get("/admin/").get_data(as_text=True)
    form = re.search(r'<form id="logout-form" method="post" action="/logout"[^>]*>(.*?)</form>', html, re.S)
    assert form and 'name="csrf_token"' in form.group(1)
    assert 'form="logout-form"' in html and 'href="/logout"' not in html


def test_password_change_ends_the_other_sessions_but_not_the_changers(app, db_session):
    changer, other = login(app, "applicant_li"), login(app, "applicant_li")
    response = changer.post_form("/change-password", {"old_password": DEMO_PASSWORD, "new_password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert response.status_code == 302
    assert signed_in(changer) and not signed_in(other)
    assert open_rows(db_session, "applicant_li") == 1
    assert signed_in(changer)  # again, after the page above: the re-issued session still counts
    assert login(app, "applicant_li", NEW_PASSWORD)


def test_temporary_password_change_keeps_the_user_signed_in(app, db_session):
    db_session.execute(User.__table__.update().where(User.username == "applicant_li").values(must_change_password=True))
    db_session.commit()
    client = login(app, "applicant_li")
    assert client.get("/admin/").headers["Location"].endswith("/change-password")
    response = client.post_form("/change-password", {"old_password": DEMO_PASSWORD, "new_password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert response.status_code == 302 and client.get("/admin/").status_code == 200


def test_reset_by_the_unit_admin_ends_the_victims_session(app, db_session, client_as):
    victim = login(app, "applicant_li")
    client_as("unit_cqu").action("user", "reset_password", [user_id(db_session, "applicant_li")])
    assert not signed_in(victim) and open_rows(db_session, "applicant_li") == 0
    assert signed_in(client_as("unit_cqu"))


def test_disable_by_the_system_administrator_ends_the_victims_session(app, db_session, client_as):
    victim = login(app, "applicant_li")
    client_as("sysadmin").action("user", "disable", [user_id(db_session, "applicant_li")])
    assert not signed_in(victim) and open_rows(db_session, "applicant_li") == 0
    assert db_session.scalar(select(LoginSession.end_reason).where(LoginSession.user_id == user_id(db_session, "applicant_li"))) == "disabled"


def test_role_change_by_the_system_administrator_ends_the_victims_session(app, db_session, client_as):
    victim = login(app, "applicant_li")
    target = user_id(db_session, "applicant_li")
    response = edit(client_as("sysadmin"), f"/admin/user/edit/?id={target}", role="unit_admin")
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    assert scalar(db_session, select(User.role).where(User.id == target)) == Role.unit_admin
    assert not signed_in(victim) and open_rows(db_session, "applicant_li") == 0


def test_a_move_to_another_unit_ends_the_session(app, db_session, client_as):
    from models import Unit

    victim = login(app, "applicant_li")
    target = user_id(db_session, "applicant_li")
    other = scalar(db_session, select(Unit.id).where(Unit.name != "重庆大学").order_by(Unit.id).limit(1))
    assert edit(client_as("sysadmin"), f"/admin/user/edit/?id={target}", unit=str(other)).status_code == 302
    assert scalar(db_session, select(User.unit_id).where(User.id == target)) == other
    assert not signed_in(victim) and open_rows(db_session, "applicant_li") == 0


def test_an_unrelated_edit_keeps_the_session(app, db_session, client_as):
    victim = login(app, "applicant_li")
    target = user_id(db_session, "applicant_li")
    assert edit(client_as("sysadmin"), f"/admin/user/edit/?id={target}", email="li@example.cn").status_code == 302
    assert signed_in(victim) and open_rows(db_session, "applicant_li") == 1


def test_a_change_outside_the_web_ends_sessions_too(app, db_session):
    """The rule sits in the ORM (rules/sessions.py): a CLI or script change counts like a form."""
    victim = login(app, "applicant_li")
    user = db_session.get(User, user_id(db_session, "applicant_li"))
    user.active = False
    db_session.commit()
    assert open_rows(db_session, "applicant_li") == 0
    user.active = True
    db_session.commit()
    assert not signed_in(victim)


def online_ids(client) -> list[int]:
    html = client.get("/admin/online_user/").get_data(as_text=True)
    return sorted({int(i) for i in re.findall(r'name="rowid" value="(\d+)"', html)})


def session_row(db_session, client) -> int:
    cookie = client.get_cookie("session").value
    data = client.application.session_interface.get_signing_serializer(client.application).loads(cookie)
    db_session.rollback()
    return db_session.scalar(select(LoginSession.id).where(LoginSession.token_hash == hashlib.sha256(data["_sid"].encode()).hexdigest()))


def test_online_users_lists_the_sessions_and_force_logout_ends_one(app, db_session, client_as):
    admin = client_as("sysadmin")
    first, second = login(app, "unit_cqu"), login(app, "unit_cqu")
    page = admin.get("/admin/online_user/")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    for heading in ("用户名", "姓名", "单位", "登录地址", "浏览器", "登录时间", "最近访问时间", "强退", "当前会话"):
        assert heading in html, heading
    assert "重庆大学" in html
    ids = online_ids(admin)
    assert session_row(db_session, first) in ids and session_row(db_session, second) in ids
    target = session_row(db_session, second)
    response = admin.action("online_user", "force_logout", [target])
    assert response.status_code == 302
    assert "已强退 1 条" in admin.get(response.headers["Location"]).get_data(as_text=True)
    assert not signed_in(second) and signed_in(first)
    assert open_rows(db_session, "unit_cqu") == 1
    assert target not in online_ids(admin)
    logged = db_session.scalars(select(AuditLog).where(AuditLog.action == "force_logout")).all()
    assert len(logged) == 1 and logged[0].row_id == str(target) and logged[0].username == "sysadmin"


def test_force_logout_refuses_ones_own_current_session(app, db_session, client_as):
    admin = client_as("sysadmin")
    own = session_row(db_session, admin)
    response = admin.action("online_user", "force_logout", [own])
    assert "不能强退您自己当前的会话" in admin.get(response.headers["Location"]).get_data(as_text=True)
    assert signed_in(admin) and open_rows(db_session, "sysadmin") == 1


@pytest.mark.parametrize("username", ["bureau", "unit_cqu", "applicant_li"])
def test_only_the_system_administrator_opens_online_users(app, db_session, client_as, username):
    victim = login(app, "applicant_zhang")
    client = client_as(username)
    assert client.get("/admin/online_user/").status_code == 404
    assert client.action("online_user", "force_logout", [session_row(db_session, victim)]).status_code == 404
    assert signed_in(victim)


def test_last_seen_is_written_at_most_once_a_minute_and_an_idle_session_ends(app, db_session):
    client = login(app, "unit_cqu")
    row = session_row(db_session, client)
    seen = db_session.scalar(select(LoginSession.last_seen_at).where(LoginSession.id == row))
    signed_in(client)
    db_session.rollback()
    assert db_session.scalar(select(LoginSession.last_seen_at).where(LoginSession.id == row)) == seen
    db_session.execute(LoginSession.__table__.update().where(LoginSession.id == row).values(last_seen_at=seen.replace(year=seen.year - 1)))
    db_session.commit()
    assert not signed_in(client)  # idle far longer than a working day: over


def test_sessions_are_shared_by_workers_through_the_database(app, database):
    """Two app instances (two workers) on one database: logging out on one ends the session on the other."""
    from app import create_app

    config = {"TESTING": True, "SQLALCHEMY_DATABASE_URI": database["url"], "SECRET_KEY": app.config["SECRET_KEY"]}
    if os.environ.get("TEST_REDIS_URL"):
        config["REDIS_URL"] = os.environ["TEST_REDIS_URL"]
    other_worker = create_app(config)
    other_worker.test_client_class = Client
    client = login(app, "unit_cqu")
    elsewhere = other_worker.test_client()
    elsewhere.set_cookie("session", client.get_cookie("session").value)
    assert signed_in(elsewhere)
    logout(client)
    assert not signed_in(elsewhere)


def test_an_address_lock_is_shared_by_workers(database):
    """Failures from one address counted on two workers (Redis when TEST_REDIS_URL is set, else the database) lock it on both."""
    from app import create_app

    config = {"TESTING": True, "SQLALCHEMY_DATABASE_URI": database["url"], "SECRET_KEY": uuid.uuid4().hex}
    if os.environ.get("TEST_REDIS_URL"):
        config["REDIS_URL"] = os.environ["TEST_REDIS_URL"]
    workers = [create_app(config), create_app(config)]
    address = f"10.99.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}"
    clients = []
    for worker in workers:
        worker.test_client_class = Client
        client = worker.test_client()
        client.environ_base["REMOTE_ADDR"] = address
        clients.append(client)
    try:
        for i in range(20):
            page = clients[i % 2].get("/login").get_data(as_text=True)
            token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
            response = clients[i % 2].post("/login", data={"username": f"spray{i}", "password": "Wrong@12345", "csrf_token": token})
        for client in clients:
            page = client.get("/login").get_data(as_text=True)
            token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
            response = client.post("/login", data={"username": "unit_cqu", "password": DEMO_PASSWORD, "csrf_token": token})
            assert response.status_code == 401 and "网络地址登录失败次数过多" in response.get_data(as_text=True)
    finally:
        with workers[0].app_context():
            workers[0].extensions["throttle"].reset(f"ip:{address}")


@pytest.mark.parametrize("agent, label", [
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36", "Chrome（Windows）"),
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36 Edg/120.0", "Edge（Windows）"),
    ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 Version/17.0 Mobile Safari/604.1", "Safari（iOS）"),
    ("Mozilla/5.0 (Linux; Android 13) AppleWebKit/537.36 Chrome/120.0 Mobile Safari/537.36 MicroMessenger/8.0", "微信（Android）"),
    ("", "未知"),
])
def test_browser_labels(agent, label):
    from rules.sessions import browser_label

    assert browser_label(agent) == label
