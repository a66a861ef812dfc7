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
        keys = [f"{k}:{part}" for k in (f"user:{user_id}", "ip:127.0.0.1") for part in ("fails", "lock", "locks")]
        client_redis.delete(*keys)
        client = app.test_client()
        for _ in range(5):
            attempt(client, "unit_swu", "Wrong@12345")
        assert client_redis.ttl(f"user:{user_id}:lock") > 800
        assert "账号已锁定" in attempt(client, "unit_swu", DEMO_PASSWORD).get_data(as_text=True)
        assert db.session.scalar(select(LoginThrottle).where(LoginThrottle.key == f"user:{user_id}")) is None
        assert int(client_redis.get("ip:127.0.0.1:fails")) == 5  # the address counts too
        client_redis.delete(*keys)


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
    assert client.get("/logout").status_code == 200  # only asks: 确定退出登录？
    assert client.get("/admin/person/").status_code == 200
    assert client.post_form("/logout").status_code == 302
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


# -- per address, back-off, 解锁, common passwords (issue #12) ----------------------------------
def from_address(app, address: str):
    from tests.conftest import Client

    app.test_client_class = Client
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return client


def test_twenty_failures_from_one_address_lock_it_whatever_the_accounts(app, db_session):
    spray = from_address(app, "10.20.30.40")
    for i in range(20):
        response = attempt(spray, f"guess{i}", "Wrong@12345")
    assert response.status_code == 401 and "网络地址登录失败次数过多" in response.get_data(as_text=True)
    locked = attempt(spray, "unit_cqu", DEMO_PASSWORD)  # the right password of an untried account waits too
    assert locked.status_code == 401 and "已暂停登录 15 分钟" in locked.get_data(as_text=True)
    assert attempt(from_address(app, "10.20.30.41"), "unit_cqu", DEMO_PASSWORD).status_code == 302  # other addresses are not
    row = db_session.get(LoginThrottle, "ip:10.20.30.40")
    assert row.locked_until > datetime.now() + timedelta(minutes=14)


def test_a_good_login_does_not_clear_the_address_count(app, db_session):
    spray = from_address(app, "10.20.30.42")
    for i in range(19):
        attempt(spray, f"guess{i}", "Wrong@12345")
    assert attempt(spray, "unit_cqu", DEMO_PASSWORD).status_code == 302
    spray.refresh_csrf()
    assert spray.post_form("/logout").status_code == 302
    assert "网络地址登录失败次数过多" in attempt(spray, "guess", "Wrong@12345").get_data(as_text=True)


def test_system_administrator_unlocks_an_address_from_the_login_log(app, db_session, client_as):
    spray = from_address(app, "10.20.30.43")
    for i in range(20):
        attempt(spray, f"guess{i}", "Wrong@12345")
    assert attempt(spray, "unit_cqu", DEMO_PASSWORD).status_code == 401
    log_row = db_session.scalar(select(AuditLog.id).where(AuditLog.ip == "10.20.30.43").limit(1))
    assert client_as("bureau").action("login_log", "unlock_ip", [log_row]).status_code == 404  # 全部 sees, only sysadmin unlocks
    response = client_as("sysadmin").action("login_log", "unlock_ip", [log_row])
    assert "已解锁：IP 10.20.30.43" in client_as("sysadmin").get(response.headers["Location"]).get_data(as_text=True)
    assert attempt(spray, "unit_cqu", DEMO_PASSWORD).status_code == 302
    db_session.expire_all()
    unlocked = db_session.scalars(select(AuditLog).where(AuditLog.action == "unlock")).all()
    assert [(a.row_id, a.username) for a in unlocked] == [("ip:10.20.30.43", "sysadmin")]
    assert "解锁" in client_as("sysadmin").get("/admin/login_log/").get_data(as_text=True)


def test_system_administrator_unlocks_an_account_from_the_login_log(app, db_session, client_as):
    for _ in range(5):
        attempt(from_address(app, "10.20.30.44"), "unit_cqu", "Wrong@12345")
    assert "账号已锁定" in attempt(from_address(app, "10.20.30.45"), "unit_cqu", DEMO_PASSWORD).get_data(as_text=True)
    log_row = db_session.scalar(select(AuditLog.id).where(AuditLog.username == "unit_cqu", AuditLog.action == "login_failure").limit(1))
    response = client_as("sysadmin").action("login_log", "unlock_account", [log_row])
    assert "已解锁：账号 unit_cqu" in client_as("sysadmin").get(response.headers["Location"]).get_data(as_text=True)
    assert attempt(from_address(app, "10.20.30.45"), "unit_cqu", DEMO_PASSWORD).status_code == 302


@pytest.mark.parametrize("kind", ["db", "redis"])
def test_repeated_locks_double_up_to_a_cap(app, kind):
    from rules.throttle import ACCOUNT, DbThrottle, RedisThrottle

    clock = [datetime(2030, 1, 1, 9, 0)]
    if kind == "db":
        from sqlalchemy.orm import Session

        throttle = DbThrottle(lambda: Session(db.engine), now=lambda: clock[0])
    else:
        if not os.environ.get("TEST_REDIS_URL"):
            pytest.skip("TEST_REDIS_URL not set")
        import redis

        throttle = RedisThrottle(redis.Redis.from_url(os.environ["TEST_REDIS_URL"]), now=lambda: clock[0])
    key = f"user:backoff-{uuid.uuid4().hex[:8]}"
    locks = []
    for _ in range(6):
        until = None
        for _ in range(5):
            until = throttle.fail(key) or until
        locks.append(until - clock[0])
        if kind == "db":
            clock[0] = until + timedelta(seconds=1)  # the lock is over
        else:
            throttle.r.delete(key + ":lock")  # Redis expires by its own clock
    assert locks[:5] == [timedelta(minutes=m) for m in (15, 30, 60, 120, 240)]
    assert locks[5] == ACCOUNT.max_lock
    throttle.reset(key)
    assert throttle.locked_until(key) is None and throttle.fail(key) is None


@pytest.mark.parametrize("weak", ["Password1!", "Qwer1234!!", "P@ssw0rd", "Abc@123456", "Admin@123", "Aa123456", "Woaini1314!"])
def test_common_passwords_are_refused_on_change_password(client_as, db_session, weak):
    client = client_as("applicant_li")
    before = db_session.scalar(select(User.password_hash).where(User.username == "applicant_li"))
    response = client.post_form("/change-password", {"old_password": DEMO_PASSWORD, "new_password": weak, "confirm": weak})
    assert response.status_code == 200 and "密码过于常见，请换一个不易被猜到的密码" in response.get_data(as_text=True)
    db_session.expire_all()
    assert db_session.scalar(select(User.password_hash).where(User.username == "applicant_li")) == before


def test_demo_and_temporary_passwords_are_not_common():
    from rules.passwords import is_common, policy_errors, temporary_password

    assert policy_errors(DEMO_PASSWORD) == [] and not is_common(DEMO_PASSWORD)
    assert all(not is_common(temporary_password()) for _ in range(200))


def test_behind_a_trusted_proxy_the_client_address_is_the_forwarded_one(app, database, monkeypatch):
    """TRUSTED_PROXIES=1: the login log and the per-address limit see the browser's address, not the proxy's."""
    from app import create_app
    from models import AuditLog
    from tests.conftest import Client

    monkeypatch.setenv("TRUSTED_PROXIES", "1")
    app = create_app(  # a second app, behind the proxy (the `app` fixture restored the data)
        {"TESTING": True, "SQLALCHEMY_DATABASE_URI": database["url"], "SECRET_KEY": uuid.uuid4().hex})
    app.test_client_class = Client
    with app.app_context():
        client = app.test_client()
        page = client.get("/login").get_data(as_text=True)
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
        client.post("/login", data={"username": "unit_swu", "password": "Wrong@12345", "csrf_token": token},
                    headers={"X-Forwarded-For": "203.0.113.7"})
        row = db.session.scalars(select(AuditLog).where(AuditLog.action == "login_failure").order_by(AuditLog.id.desc())).first()
        assert row.ip == "203.0.113.7"
        assert db.session.scalar(select(LoginThrottle.failures).where(LoginThrottle.key == "ip:203.0.113.7")) == 1


def test_without_trusted_proxies_a_forwarded_address_is_ignored(client_as, anon, db_session):
    from models import AuditLog

    page = anon.get("/login").get_data(as_text=True)
    anon.post("/login", data={"username": "unit_swu", "password": "Wrong@12345", "csrf_token": csrf_of(page)},
              headers={"X-Forwarded-For": "203.0.113.7"})
    row = db_session.scalars(select(AuditLog).where(AuditLog.action == "login_failure").order_by(AuditLog.id.desc())).first()
    assert row.ip == "127.0.0.1"  # a visitor cannot pick the address its failures count against
