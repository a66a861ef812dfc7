"""忘记密码 (seed 002 §2.3): the journey through the public pages, with the code read from the e-mail
a real SMTP server received, and the database checked afterwards."""
from __future__ import annotations

import html
import re
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select, text, update

from models import AuditLog, Message, PasswordReset, User
from rules.recovery import security_questions
from tests.conftest import DEMO_PASSWORD, login
from tests.mail_helpers import sms, smtp  # noqa: F401 — fixtures

NEW = "Xin#Mima2026"
EMAIL = "zhang@example.com"
MOBILE = "13900000008"  # applicant_zhang's


def csrf(client, url: str = "/forgot-password") -> str:
    """The session's CSRF token (the same on every page), read from the first step's form."""
    page = client.get("/forgot-password").get_data(as_text=True)
    return re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)


def post(client, url: str, data: dict, token_from: str | None = None):
    return client.post(url, data={"csrf_token": csrf(client, token_from or url), **data})


def page_text(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def error_of(response) -> str | None:
    found = re.search(r'id="recovery-error">([^<]*)<', page_text(response))
    return found.group(1) if found else None


def user(db_session, username: str = "applicant_zhang") -> User:
    db_session.expire_all()
    return db_session.scalar(select(User).where(User.username == username))


@pytest.fixture
def zhang(db_session):
    db_session.execute(update(User).where(User.username == "applicant_zhang").values(email=EMAIL))
    db_session.commit()
    return user(db_session)


def identify(client, login_name="applicant_zhang", contact=EMAIL):
    return post(client, "/forgot-password", {"username": login_name, "contact": contact})


def send_code(client, method="email"):
    return post(client, "/forgot-password/verify", {"method": method})


def code_from(inbox) -> str:
    mail = inbox.to(EMAIL)[-1]
    return re.search(r"验证码：(\d{6})", inbox.text(mail)).group(1)


def enter_code(client, code):
    return post(client, "/forgot-password/code", {"code": code})


def new_password(client, password=NEW, confirm=None):
    return post(client, "/forgot-password/new", {"new_password": password, "confirm": confirm or password})


def test_reset_by_email_code(app, anon, db_session, zhang, smtp):
    version = zhang.session_version or 0
    assert identify(anon).headers["Location"].endswith("/forgot-password/verify")
    assert "发送验证码至电子邮箱 z***@example.com" in page_text(anon.get("/forgot-password/verify"))
    response = send_code(anon)
    assert response.headers["Location"].endswith("/forgot-password/code")
    code = code_from(smtp)
    stored = db_session.execute(text("SELECT body, status FROM message WHERE kind = 'reset_code'")).one()
    assert code not in stored.body and stored.status == "sent"  # delivered: the code is not kept
    assert enter_code(anon, code).headers["Location"].endswith("/forgot-password/new")
    response = new_password(anon)
    assert response.status_code == 302 and response.headers["Location"].endswith("/login")
    assert "密码已重置，请使用新密码登录" in page_text(anon.get("/login"))
    after = user(db_session)
    assert after.must_change_password is False and after.session_version == version + 1
    assert db_session.scalar(select(func.count()).select_from(PasswordReset).where(PasswordReset.user_id == after.id, PasswordReset.used_at.is_not(None))) == 1
    assert db_session.scalar(select(func.count()).select_from(AuditLog).where(AuditLog.action == "password_reset", AuditLog.row_id == str(after.id))) == 1
    assert [m["Subject"] for m in smtp.to(EMAIL)] == ["找回密码验证码", "您的密码已重置"]
    login(app, "applicant_zhang", NEW)
    with pytest.raises(AssertionError):
        login(app, "applicant_zhang", DEMO_PASSWORD)


def test_reset_by_security_questions(app, anon, db_session):
    db_session.execute(update(User).where(User.username == "applicant_zhang").values(
        security_questions=security_questions([("您母亲的姓名是？", "王芳"), ("您的出生地是？", "重庆"), ("您小学的校名是？", "人和街小学")])))
    db_session.commit()
    identify(anon, "13900000008", MOBILE)  # by phone number, challenged by the phone number
    page = page_text(anon.get("/forgot-password/verify"))
    assert "回答密保问题" in page and "发送验证码" not in page  # no channel configured
    assert send_code(anon, "question").headers["Location"].endswith("/forgot-password/questions")
    assert "您母亲的姓名是？" in page_text(anon.get("/forgot-password/questions"))
    wrong = post(anon, "/forgot-password/questions", {"answer_0": "王芳", "answer_1": "成都", "answer_2": "人和街小学"})
    assert wrong.status_code == 400 and error_of(wrong) == "密保问题答案不正确，还可尝试 4 次"
    right = post(anon, "/forgot-password/questions", {"answer_0": " 王芳", "answer_1": "重庆", "answer_2": "人和街小学"})
    assert right.headers["Location"].endswith("/forgot-password/new")
    assert new_password(anon).headers["Location"].endswith("/login")
    login(app, "applicant_zhang", NEW)


def test_five_wrong_codes_void_the_reset(app, anon, db_session, zhang, smtp):
    identify(anon)
    send_code(anon)
    code = code_from(smtp)
    wrong = f"{(int(code) + 1) % 1000000:06d}"
    for left in (4, 3, 2, 1):
        assert error_of(enter_code(anon, wrong)) == f"验证码不正确，还可尝试 {left} 次"
    fifth = enter_code(anon, wrong)
    assert fifth.headers["Location"].endswith("/forgot-password")
    assert "验证失败次数过多" in page_text(anon.get("/forgot-password"))
    assert enter_code(anon, code).headers["Location"].endswith("/forgot-password")  # the right code no longer helps
    assert db_session.execute(text("SELECT attempts FROM password_reset")).scalar() == 5
    login(app, "applicant_zhang", DEMO_PASSWORD)


def test_expired_code(app, anon, db_session, zhang, smtp):
    identify(anon)
    send_code(anon)
    code = code_from(smtp)
    db_session.execute(update(PasswordReset).values(expires_at=datetime.now() - timedelta(minutes=1)))
    db_session.commit()
    response = enter_code(anon, code)
    assert response.status_code == 400 and error_of(response) == "验证码已过期，请重新获取"
    assert anon.get("/forgot-password/new").headers["Location"].endswith("/forgot-password/verify")  # not proven
    send_code(anon)  # a new code works
    assert enter_code(anon, code_from(smtp)).headers["Location"].endswith("/forgot-password/new")


def test_a_code_serves_once(app, anon, db_session, zhang, smtp):
    identify(anon)
    send_code(anon)
    code = code_from(smtp)
    enter_code(anon, code)
    new_password(anon)
    assert enter_code(anon, code).headers["Location"].endswith("/forgot-password")  # the attempt is over
    other = app.test_client()
    identify(other)
    response = post(other, "/forgot-password/verify", {"method": "email"})
    assert response.status_code == 302
    if code_from(smtp) != code:  # (one chance in a million that the new code is the same)
        assert post(other, "/forgot-password/code", {"code": code}).status_code == 400  # an old code opens nothing
    assert user(db_session).password_hash and login(app, "applicant_zhang", NEW)


def test_unknown_account_and_wrong_contact_say_the_same(app, anon, zhang):
    unknown = identify(anon, "nobody_here", EMAIL)
    mismatch = identify(app.test_client(), "applicant_zhang", "other@example.com")
    assert unknown.status_code == mismatch.status_code == 400
    assert error_of(unknown) == error_of(mismatch) == "账号信息不匹配"


def test_failures_are_throttled(app, anon, zhang):
    for _ in range(5):
        identify(app.test_client(), "applicant_zhang", "13800000000")
    locked = identify(anon)  # the right contact, but the account is locked
    assert locked.status_code == 400 and error_of(locked).startswith("尝试次数过多")
    assert "Location" not in locked.headers


def test_a_disabled_account_cannot_reset(app, anon, db_session, zhang):
    db_session.execute(update(User).where(User.id == zhang.id).values(active=False))
    db_session.commit()
    response = identify(anon)
    assert error_of(response) == "账号已停用，不能找回密码，请联系单位管理员"
    assert db_session.scalar(select(func.count()).select_from(PasswordReset)) == 0


def test_no_way_to_prove_it_says_whom_to_ask(app, anon, zhang):
    identify(anon)
    assert "请联系单位管理员" in page_text(anon.get("/forgot-password/verify"))
    assert send_code(anon, "email").status_code == 400


def test_pages_without_an_attempt_send_back_to_the_start(app, anon):
    for url in ("/forgot-password/verify", "/forgot-password/questions", "/forgot-password/code", "/forgot-password/new"):
        assert anon.get(url).headers["Location"].endswith("/forgot-password")


@pytest.mark.parametrize("value", ["app\x00licant", "x" * 5000, "\u202e\u0000"])
def test_odd_input_is_refused_at_the_field(app, anon, db_session, value):
    response = post(anon, "/forgot-password", {"username": value, "contact": value})
    assert response.status_code == 200 and ("不可见的控制字符" in page_text(response) or "输入过长" in page_text(response))
    assert db_session.scalar(select(func.count()).select_from(PasswordReset)) == 0


def test_a_stale_form_is_shown_again(app, anon, db_session, zhang):
    anon.get("/forgot-password")
    response = anon.post("/forgot-password", data={"csrf_token": "stale", "username": "applicant_zhang", "contact": EMAIL})
    assert response.status_code == 200 and "页面已过期，请重新提交" in page_text(response)
    assert db_session.scalar(select(func.count()).select_from(PasswordReset)) == 0


def test_sms_code(app, anon, db_session, sms):
    identify(anon, "applicant_zhang", MOBILE)
    assert send_code(anon, "sms").headers["Location"].endswith("/forgot-password/code")
    [(mobile, sent)] = sms.sent
    code = re.search(r"验证码：(\d{6})", sent).group(1)
    assert mobile == MOBILE
    assert enter_code(anon, code).headers["Location"].endswith("/forgot-password/new")
    weak = new_password(anon, "abcdefgh")
    assert weak.status_code == 400
    assert new_password(anon).headers["Location"].endswith("/login")
    assert db_session.scalar(select(func.count()).select_from(Message).where(Message.kind == "password_reset")) == 1
