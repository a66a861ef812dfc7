"""个人中心: every demo account opens its own page (基本资料, 修改密码, 登录记录); it is not in the
sidebar; 登录记录 lists exactly the user's own sign-ins, 20 a page; 姓名/手机号码/电子邮箱 are changed
through a checked, audited form, and hostile input never gives a 500.

Oracles: plain SQL over the tables (tests.form_helpers.sql) and hand-written Chinese texts.
"""
from __future__ import annotations

import re
from datetime import datetime, timedelta

import pytest
from sqlalchemy import insert

from models import AuditLog
from tests.conftest import login
from tests.form_helpers import errors_at, form_data, one, sql

ACCOUNTS = ("sysadmin", "bureau", "authority_yb", "unit_cqu", "dept_cqu_se", "applicant_zhang", "unit_ent")
# the rows of the 登录日志 (admin_views/audit.py LoginLogView), written out by hand
LOGIN_ROWS = "('login_success', 'login_failure', 'login_locked', 'logout', 'force_logout', 'unlock')"
URL = "/admin/profile/"


def user_row(db_session, username):
    return sql(db_session, "SELECT id, name, mobile, email FROM app_user WHERE username = :u", u=username)[0]


def own_login_ids(db_session, user_id) -> list[int]:
    return [i for (i,) in sql(db_session, f"SELECT id FROM audit_log WHERE user_id = :u AND action IN {LOGIN_ROWS} "
                                          "ORDER BY at DESC, id DESC", u=user_id)]


def shown_login_ids(page: str) -> list[int]:
    return [int(i) for i in re.findall(r'data-login="(\d+)"', page)]


def sidebar(page: str) -> str:
    match = re.search(r'id="app-sidebar".*?</nav>', page, re.S)
    assert match, "the page has no sidebar"
    return match.group(0)


# -- every role opens its own page --------------------------------------------------------------
@pytest.mark.parametrize("username", ACCOUNTS)
def test_every_account_opens_its_own_page_outside_the_sidebar(client_as, db_session, username):
    client = client_as(username)
    _, name, mobile, _ = user_row(db_session, username)
    for tab in ("info", "password", "logins", None):
        response = client.get(URL, query_string={"tab": tab} if tab else None)
        assert response.status_code == 200, (username, tab)
        page = response.get_data(as_text=True)
        assert "个人中心" in page and "/admin/profile/" not in sidebar(page) and "个人中心" not in sidebar(page)
    page = client.get(URL).get_data(as_text=True)
    assert f'id="profile-name">{name}<' in page
    assert re.search(rf'<input[^>]*name="name"[^>]*value="{re.escape(name)}"', page)
    if mobile:
        assert re.search(rf'<input[^>]*name="mobile"[^>]*value="{mobile}"', page)
    assert 'href="/change-password"' in client.get(URL, query_string={"tab": "password"}).get_data(as_text=True)


def facts_of(page: str) -> str:
    table = re.search(r'id="profile-facts">(.*?)</table>', page, re.S).group(1)
    return " ".join(re.sub(r"<[^>]+>", " ", table).split())


def test_the_page_says_who_and_where(client_as, db_session):
    facts = facts_of(client_as("dept_cqu_se").get(URL).get_data(as_text=True))
    (at,) = sql(db_session, "SELECT last_login_at FROM app_user WHERE username = 'dept_cqu_se'")[0]
    assert "用户名 dept_cqu_se" in facts and "角色 二级单位管理员" in facts
    assert "所属单位/二级单位 重庆大学/软件学院" in facts
    assert f"最近登录时间 {str(at)[:19]}" in facts  # to the second
    assert "所属区县 渝北区" in facts_of(client_as("authority_yb").get(URL).get_data(as_text=True))
    zhang = facts_of(client_as("applicant_zhang").get(URL).get_data(as_text=True))
    (modules,) = sql(db_session, "SELECT modules FROM app_user WHERE username = 'applicant_zhang'")[0]
    names = {"research": "科研项目", "startup": "创业资助", "innovation_fund": "创新资助", "tech_innovation": "技术创新项目"}
    assert "模块配置" in zhang and all(names[m] in zhang for m in (modules if isinstance(modules, list) else __import__("json").loads(modules)))
    assert "模块配置" not in facts


def test_anonymous_visitors_go_to_the_login_page(anon):
    response = anon.get(URL)
    assert response.status_code == 302 and "/login" in response.headers["Location"]


# -- 登录记录 -----------------------------------------------------------------------------------
def test_login_records_are_exactly_the_users_own(app, client_as, db_session):
    login(app, "applicant_zhang")
    client = login(app, "applicant_zhang")  # signed in twice
    anon = app.test_client()
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', anon.get("/login").get_data(as_text=True)).group(1)
    anon.post("/login", data={"username": "applicant_zhang", "password": "wrong-Pass1!", "csrf_token": token})  # a failure
    client_as("unit_cqu")  # someone else signs in too
    zhang, _, _, _ = user_row(db_session, "applicant_zhang")
    cqu, _, _, _ = user_row(db_session, "unit_cqu")

    expected = own_login_ids(db_session, zhang)
    count = one(db_session, f"SELECT count(*) FROM audit_log WHERE user_id = :u AND action IN {LOGIN_ROWS}", u=zhang)
    assert count == len(expected) >= 3
    page = client.get(URL, query_string={"tab": "logins"}).get_data(as_text=True)
    assert shown_login_ids(page) == expected  # all of them, newest first
    assert f"共 {count} 条" in page
    assert not set(shown_login_ids(page)) & set(own_login_ids(db_session, cqu))
    assert "登录成功" in page and "登录失败" in page
    newest_at, newest_ip = sql(db_session, "SELECT at, ip FROM audit_log WHERE id = :i", i=expected[0])[0]
    row = re.search(rf'data-login="{expected[0]}">(.*?)</tr>', page, re.S).group(1)
    assert str(newest_at)[:19] in row and newest_ip in row  # to the second


def test_login_records_page_twenty_at_a_time(client_as, db_session):
    client = client_as("applicant_zhang")
    zhang, _, _, _ = user_row(db_session, "applicant_zhang")
    start = datetime(2020, 1, 1, 8, 0, 0)
    db_session.execute(insert(AuditLog), [
        {"at": start + timedelta(minutes=i), "user_id": zhang, "username": "applicant_zhang", "action": "login_success",
         "table_name": "app_user", "row_id": str(zhang), "ip": f"10.0.0.{i}", "summary": "登录成功"} for i in range(25)
    ])
    db_session.commit()
    expected = own_login_ids(db_session, zhang)
    assert len(expected) > 20
    pages = -(-len(expected) // 20)
    first = client.get(URL, query_string={"tab": "logins"}).get_data(as_text=True)
    assert shown_login_ids(first) == expected[:20] and f"第 1 / {pages} 页" in first and "下一页" in first
    last = client.get(URL, query_string={"tab": "logins", "page": pages}).get_data(as_text=True)
    assert shown_login_ids(last) == expected[(pages - 1) * 20:] and "上一页" in last
    for odd in (str(2**63), str(2**63 - 1), "-5", "0", "abc", "１", "2\x00", "9" * 5000):
        response = client.get(URL, query_string={"tab": "logins", "page": odd})
        assert response.status_code == 200, odd
        assert shown_login_ids(response.get_data(as_text=True)) in (expected[:20], expected[(pages - 1) * 20:]), odd


@pytest.mark.parametrize("tab", ["garbage", "\x00", "x" * 5000, "logins\x00", "<script>", "INFO"])
def test_an_unknown_tab_reads_as_the_first(client_as, db_session, tab):
    response = client_as("unit_cqu").get(URL, query_string={"tab": tab})
    assert response.status_code == 200
    assert 'id="profile-form"' in response.get_data(as_text=True)


# -- 基本资料: the form ---------------------------------------------------------------------------
def post_profile(client, **changes):
    data = form_data(client.get(URL).get_data(as_text=True))
    data.update(changes)
    return client.post(URL, data=data)


def app_user_updates(db_session, user_id) -> int:
    return one(db_session, "SELECT count(*) FROM audit_log WHERE action = 'update' AND table_name = 'app_user' AND row_id = :r",
               r=str(user_id))


def test_saving_changes_the_account_and_is_audited(client_as, db_session):
    client = client_as("applicant_zhang")
    zhang, old_name, old_mobile, _ = user_row(db_session, "applicant_zhang")
    free = "13712345678"
    assert one(db_session, "SELECT count(*) FROM app_user WHERE mobile = :m", m=free) == 0
    response = post_profile(client, name="张伟明", mobile=free, email="zhang.wm@cqu.edu.cn")
    assert response.status_code == 302 and response.headers["Location"].endswith(URL)
    assert "保存成功" in client.get(response.headers["Location"]).get_data(as_text=True)
    assert user_row(db_session, "applicant_zhang")[1:] == ("张伟明", free, "zhang.wm@cqu.edu.cn")
    before, after, who = sql(db_session, "SELECT before, after, username FROM audit_log WHERE action = 'update' "
                                         "AND table_name = 'app_user' AND row_id = :r ORDER BY id DESC", r=str(zhang))[0]
    as_dict = lambda v: v if isinstance(v, dict) else __import__("json").loads(v)  # noqa: E731
    assert who == "applicant_zhang"
    assert as_dict(after) == {"name": "张伟明", "mobile": free, "email": "zhang.wm@cqu.edu.cn"}
    assert as_dict(before)["name"] == old_name and as_dict(before)["mobile"] == old_mobile


def test_a_mobile_of_another_account_is_refused_at_the_field(client_as, db_session):
    client = client_as("applicant_zhang")
    zhang, name, mobile, email = user_row(db_session, "applicant_zhang")
    _, _, taken, _ = user_row(db_session, "unit_cqu")
    assert taken and taken != mobile
    updates = app_user_updates(db_session, zhang)
    response = post_profile(client, name="张伟（改）", mobile=taken)
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert errors_at(page, "mobile") == ["该手机号码已被其他账号使用"]
    assert f'value="{taken}"' in page and 'value="张伟（改）"' in page  # what was typed is kept
    assert user_row(db_session, "applicant_zhang") == (zhang, name, mobile, email)
    assert app_user_updates(db_session, zhang) == updates


def test_a_number_taken_a_moment_ago_is_said_at_the_field_too(client_as, db_session, monkeypatch):
    """Two people saving one number at once: the check passed for both, the database refuses the
    second — the same Chinese message at the field, nothing saved, no raw database error."""
    import admin_views.profile as profile

    client = client_as("applicant_zhang")
    before = user_row(db_session, "applicant_zhang")
    _, _, taken, _ = user_row(db_session, "unit_cqu")
    monkeypatch.setattr(profile, "_mobile_taken", lambda user, mobile: False)  # as if the other one saved just now
    response = post_profile(client, mobile=taken)
    assert response.status_code == 200
    assert errors_at(response.get_data(as_text=True), "mobile") == ["该手机号码已被其他账号使用"]
    assert user_row(db_session, "applicant_zhang") == before


HOSTILE = [
    ("name", "张\x00伟", "不能包含不可见的控制字符"),
    ("name", "张" * 5000, "最多 50 个字"),
    ("name", "   ", "请填写姓名"),
    ("mobile", "139\x0000000", "不能包含不可见的控制字符"),
    ("mobile", "1" * 5000, "最多 11 个字"),
    ("mobile", "12345", "请输入 11 位手机号码"),
    ("email", "a\x00@b.cn", "不能包含不可见的控制字符"),
    ("email", "a" * 5000 + "@b.cn", "最多 120 个字"),
    ("email", "not-an-address", "请输入正确的电子邮箱"),
]


@pytest.mark.parametrize("field,value,message", HOSTILE)
def test_hostile_values_are_refused_in_chinese_and_change_nothing(client_as, db_session, field, value, message):
    client = client_as("unit_cqu")
    before = user_row(db_session, "unit_cqu")
    updates = app_user_updates(db_session, before[0])
    response = post_profile(client, **{field: value})
    assert response.status_code == 200
    assert message in errors_at(response.get_data(as_text=True), field)
    assert user_row(db_session, "unit_cqu") == before
    assert app_user_updates(db_session, before[0]) == updates


def test_a_post_without_its_token_changes_nothing(client_as, db_session):
    client = client_as("unit_cqu")
    before = user_row(db_session, "unit_cqu")
    data = form_data(client.get(URL).get_data(as_text=True))
    data.pop("csrf_token", None)
    data["name"] = "无令牌"
    response = client.post(URL, data=data)
    assert response.status_code in (200, 302)
    assert user_row(db_session, "unit_cqu") == before
