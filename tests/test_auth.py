"""Login, throttling, session hygiene, logout and 修改密码."""
from __future__ import annotations

import os
import re
import uuid
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select, update

from extensions import db
from models import AuditLog, LoginThrottle, User
from tests.conftest import DEMO_PASSWORD, login


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html).group(1)


def attempt(client, username, password):
    token = csrf_of(client.get("/login").get_data(as_text=True))
    return client.post("/login", data={"username": username, "password": password, "csrf_token": token})


@pytest.mark.parametrize("login_name", ["unit_cqu", "13900000005"])
def test_login_by_user_name_or_phone(anon, login_name):
    response = attempt(anon, login_name, DEMO_PASSWORD)
    assert response.status_code == 302 and response.headers["Location"].endswith("/admin/")
    assert "重庆大学" in anon.get("/admin/").get_data(as_text=True)


def test_login_by_id_number(anon, db_session):
    id_no = db_session.scalar(select(User.id_no).where(User.username == "applicant_li"))
    assert attempt(anon, id_no.lower(), DEMO_PASSWORD).status_code == 302


@pytest.mark.parametrize(
    "username,password",
    [
        ("nobody", DEMO_PASSWORD),
        ("unit_cqu", "Wrong@12345"),
        ("unit_cqu", "x" * 10_000),
        ("' OR 1=1 --", "' OR 1=1 --"),
        ("<script>alert(1)</script>", "x"),
    ],
)
def test_bad_credentials_get_one_generic_chinese_message(anon, username, password):
    response = attempt(anon, username, password)
    html = response.get_data(as_text=True)
    assert response.status_code == 401
    assert "用户名或密码错误" in html
    assert "<script>alert(1)</script>" not in html


def test_empty_fields_are_named(anon):
    token = csrf_of(anon.get("/login").get_data(as_text=True))
    html = anon.post("/login", data={"username": "", "password": "", "csrf_token": token}).get_data(as_text=True)
    assert "请输入用户名、手机号码或证件号码" in html and "请输入密码" in html


def test_login_form_needs_csrf(anon):
    response = anon.post("/login", data={"username": "unit_cqu", "password": DEMO_PASSWORD})
    assert response.status_code == 200 and "页面已过期，请重新提交" in response.get_data(as_text=True)
    assert anon.get("/admin/").status_code == 302  # not logged in


def test_every_attempt_is_audited(anon, db_session):
    attempt(anon, "unit_cqu", "Wrong@12345")
    attempt(anon, "nobody", "Wrong@12345")
    attempt(anon, "unit_cqu", DEMO_PASSWORD)
    rows = db_session.execute(select(AuditLog.action, AuditLog.username, AuditLog.summary, AuditLog.ip).order_by(AuditLog.id)).all()
    assert [(r.action, r.username) for r in rows] == [
        ("login_failure", "unit_cqu"),
        ("login_failure", "nobody"),
        ("login_success", "unit_cqu"),
    ]
    assert all(r.ip == "127.0.0.1" for r in rows)


def test_five_failures_lock_the_account_for_fifteen_minutes(anon, db_session):
    for _ in range(4):
        assert "用户名或密码错误" in attempt(anon, "unit_cqu", "Wrong@12345").get_data(as_text=True)
    fifth = attempt(anon, "unit_cqu", "Wrong@12345").get_data(as_text=True)
    assert "账号已锁定 15 分钟" in fifth
    locked = attempt(anon, "unit_cqu", DEMO_PASSWORD)  # even the right password waits
    assert locked.status_code == 401 and "账号已锁定" in locked.get_data(as_text=True)
    locked_by_phone = attempt(anon, "13900000005", DEMO_PASSWORD)  # the lock is on the account
    assert "账号已锁定" in locked_by_phone.get_data(as_text=True)
    assert attempt(anon, "unit_swu", DEMO_PASSWORD).status_code == 302  # others are not affected
    actions = db_session.scalars(select(AuditLog.action).where(AuditLog.username == "unit_cqu")).all()
    assert actions.count("login_failure") == 5 and "login_locked" in actions


def test_lock_ends_after_fifteen_minutes(anon, db_session):
    for _ in range(5):
        attempt(anon, "unit_cqu", "Wrong@12345")
    db_session.execute(update(LoginThrottle).values(locked_until=datetime.now() - timedelta(seconds=1)))
    db_session.commit()
    assert attempt(anon, "unit_cqu", DEMO_PASSWORD).status_code == 302


def test_failures_older_than_the_window_do_not_count(anon, db_session):
    for _ in range(4):
        attempt(anon, "unit_cqu", "Wrong@12345")
    db_session.execute(update(LoginThrottle).values(window_start=datetime.now() - timedelta(minutes=16)))
    db_session.commit()
    assert "用户名或密码错误" in attempt(anon, "unit_cqu", "Wrong@12345").get_data(as_text=True)


def test_redis_throttle_when_configured(database):
    redis_url = os.environ.get("TEST_REDIS_URL")
    if not redis_url:
        if os.environ.get("CI"):
            pytest.fail("CI must provide TEST_REDIS_URL")
        pytest.skip("TEST_REDIS_URL not set")
    import redis

    from app import create_app
    from tests.conftest import Client

    client_redis = redis.Redis.from_url(redis_url)
    client_redis.ping()  # unreachable Redis fails here
    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": database["url"], "SECRET_KEY": uuid.uuid4().hex, "REDIS_URL": redis_url})
    app.test_client_class = Client
    with app.app_context():
        user_id = db.session.scalar(select(User.id).where(User.username == "unit_swu"))
        client_redis.delete(f"user:{user_id}:fails", f"user:{user_id}:lock")
        client = app.test_client()
        for _ in range(5):
            attempt(client, "unit_swu", "Wrong@12345")
        assert client_redis.ttl(f"user:{user_id}:lock") > 800
        assert "账号已锁定" in attempt(client, "unit_swu", DEMO_PASSWORD).get_data(as_text=True)
        assert db.session.scalar(select(LoginThrottle).where(LoginThrottle.key == f"user:{user_id}")) is None
        client_redis.delete(f"user:{user_id}:fails", f"user:{user_id}:lock")


def test_session_is_rotated_at_login_and_cookies_are_hardened(app, anon):
    page = anon.get("/login")
    token_before = csrf_of(page.get_data(as_text=True))
    response = anon.post("/login", data={"username": "unit_cqu", "password": DEMO_PASSWORD, "csrf_token": token_before})
    cookie = response.headers.get("Set-Cookie", "")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "remember_token" not in " ".join(response.headers.getlist("Set-Cookie"))
    # the token of the anonymous session no longer works: the session was replaced at login
    response = anon.post("/admin/person/action/", data={"action": "delete", "rowid": "1", "csrf_token": token_before})
    assert response.status_code == 302
    assert "页面已过期，请重新提交" in anon.get(response.headers["Location"]).get_data(as_text=True)


def test_logout_ends_the_session(client_as):
    client = client_as("unit_cqu")
    assert client.get("/logout").status_code == 302
    response = client.get("/admin/person/")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_inactive_account_cannot_log_in(anon, db_session):
    db_session.execute(update(User).where(User.username == "applicant_li").values(active=False))
    db_session.commit()
    html = attempt(anon, "applicant_li", DEMO_PASSWORD).get_data(as_text=True)
    assert "账号已停用" in html


def test_next_parameter_cannot_redirect_off_site(anon):
    token = csrf_of(anon.get("/login").get_data(as_text=True))
    response = anon.post("/login?next=https://evil.example/", data={"username": "unit_cqu", "password": DEMO_PASSWORD, "csrf_token": token})
    assert response.headers["Location"].endswith("/admin/")


def test_anonymous_users_are_sent_to_login(anon):
    response = anon.get("/admin/person/")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_temporary_password_must_be_changed_first(app, anon, db_session):
    db_session.execute(update(User).where(User.username == "applicant_li").values(must_change_password=True))
    db_session.commit()
    response = attempt(anon, "applicant_li", DEMO_PASSWORD)
    assert response.headers["Location"].endswith("/change-password")
    assert anon.get("/admin/person/").headers["Location"].endswith("/change-password")
    token = csrf_of(anon.get("/change-password").get_data(as_text=True))
    weak = anon.post("/change-password", data={"old_password": DEMO_PASSWORD, "new_password": "abcdefgh", "confirm": "abcdefgh", "csrf_token": token})
    assert "至少三种" in weak.get_data(as_text=True)
    with_name = anon.post("/change-password", data={"old_password": DEMO_PASSWORD, "new_password": "Applicant_li#1", "confirm": "Applicant_li#1", "csrf_token": token})
    assert "不能包含用户名" in with_name.get_data(as_text=True)
    ok = anon.post("/change-password", data={"old_password": DEMO_PASSWORD, "new_password": "Kx9#mPq2vL", "confirm": "Kx9#mPq2vL", "csrf_token": token})
    assert ok.status_code == 302
    db_session.expire_all()
    assert db_session.scalar(select(User.must_change_password).where(User.username == "applicant_li")) is False
    assert anon.get("/admin/person/").status_code == 200
    assert login(app, "applicant_li", "Kx9#mPq2vL")
