"""The surface a user meets when something goes wrong: Chinese error pages with a way back, an
expired form shown again with what was typed, Flask-Admin's own messages and widgets in Chinese."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from models import Declaration, DictItem, Unit
from tests.test_browser import live_server, page  # noqa: F401  (fixtures)


def _shot(page, name: str) -> None:
    """Screenshots for people to look at, when SCREENSHOTS names a folder."""
    import os

    if os.environ.get("SCREENSHOTS"):
        page.screenshot(path=os.path.join(os.environ["SCREENSHOTS"], name), full_page=False)
from tests.crawler import visible_text

EXPIRED = "页面已过期，请重新提交"


def _assert_chinese_page(response, status: int, title: str) -> None:
    html = response.get_data(as_text=True)
    assert response.status_code == status
    assert '<html lang="zh-CN">' in html
    assert title in visible_text(html)
    assert 'href="/admin/"' in html  # 返回首页
    assert not re.search(r"\b(Not Found|Method Not Allowed|Bad Request|Request Entity Too Large|Internal Server Error)\b", html)


@pytest.mark.parametrize(
    "method, url, status, title",
    [
        ("get", "/admin/no-such-page/", 404, "页面不存在"),
        ("get", "/admin/declaration/details/?id=99999999", 404, "页面不存在"),
        ("get", "/admin/declaration/preview/9223372036854775808/", 404, "页面不存在"),  # past BIGINT: no overflow
        ("get", "/admin/unit/delete/", 405, "操作方式不正确"),
    ],
)
def test_error_pages_are_chinese_with_a_way_back(client_as, method, url, status, title):
    response = getattr(client_as("bureau"), method)(url)
    _assert_chinese_page(response, status, title)


@pytest.mark.parametrize("referrer, shown", [
    ("http://localhost/admin/unit/", True),
    ("https://evil.example/phish", False),
    ("javascript:alert(1)", False),
])
def test_the_way_back_only_leads_inside_the_app(client_as, referrer, shown):
    html = client_as("bureau").get("/admin/no-such-page/", headers={"Referer": referrer}).get_data(as_text=True)
    assert ("返回上一页" in html) is shown
    assert "evil.example" not in html and "javascript:" not in html


def test_a_too_large_upload_is_a_chinese_413(app, client_as):
    client = client_as("sysadmin")
    app.config["MAX_CONTENT_LENGTH"] = 1024
    try:
        response = client.post("/admin/data_import/unit/upload/", data={"csrf_token": client.csrf_token, "file": "x" * 4096})
    finally:
        app.config["MAX_CONTENT_LENGTH"] = 20 * 1024 * 1024
    _assert_chinese_page(response, 413, "文件过大")


def test_a_server_error_is_a_chinese_500_and_nothing_is_saved(app, client_as, db_session, monkeypatch):
    client = client_as("sysadmin")
    from admin_views.reference import DictItemView as DictionaryView

    def broken(self, form):
        raise RuntimeError("boom")

    monkeypatch.setattr(DictionaryView, "on_model_change", lambda self, form, model, is_created: broken(self, form))
    before = db_session.scalar(select(func.count()).select_from(DictItem))
    app.config["PROPAGATE_EXCEPTIONS"] = False
    try:
        page = client.get("/admin/dictionary/new/").get_data(as_text=True)
        fields = {"category": "education", "code": "zz", "name": "测试", "sort": "1", "csrf_token": client.csrf_token}
        response = client.post("/admin/dictionary/new/", data=fields)
    finally:
        app.config["PROPAGATE_EXCEPTIONS"] = None
    assert "category" in page
    html = response.get_data(as_text=True)
    # Flask-Admin catches the error itself and shows the form again; either way: Chinese, nothing saved
    assert response.status_code in (200, 500)
    assert "boom" not in visible_text(html) and "RuntimeError" not in html
    assert '<html lang="zh-CN">' in html
    assert db_session.scalar(select(func.count()).select_from(DictItem)) == before


# -- an expired page ------------------------------------------------------------------------
def test_login_with_a_stale_token_shows_the_form_again_with_the_username(anon):
    anon.get("/login")
    response = anon.post("/login", data={"username": "unit_cqu", "password": "x", "csrf_token": "stale"})
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert EXPIRED in visible_text(html)
    assert re.search(r'name="username"[^>]*value="unit_cqu"|value="unit_cqu"[^>]*name="username"', html)
    assert "csrf" not in visible_text(html).lower()


@pytest.mark.parametrize("token", ["", "stale-token", "a\x00b"])
def test_a_create_form_with_a_stale_token_keeps_what_was_typed_and_saves_nothing(client_as, db_session, token):
    client = client_as("sysadmin")
    before = db_session.scalar(select(func.count()).select_from(DictItem))
    typed = {"category": "education", "code": "stale01", "name": "过期页面里填写的名称", "sort": "3"}
    response = client.post("/admin/dictionary/new/", data={**typed, "csrf_token": token})
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert EXPIRED in visible_text(html)
    assert "过期页面里填写的名称" in html and "stale01" in html
    assert db_session.scalar(select(func.count()).select_from(DictItem)) == before
    # the page carries a fresh token: submitting it again works
    fresh = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html).group(1)
    again = client.post("/admin/dictionary/new/", data={**typed, "csrf_token": fresh})
    assert again.status_code == 302
    assert db_session.scalar(select(func.count()).select_from(DictItem)) == before + 1


def test_an_action_with_a_stale_token_changes_nothing_and_keeps_what_was_typed(client_as, db_session):
    """A review action from an expired page: nothing changes; its confirmation comes back with the
    ticked rows and the opinion typed, and a fresh token that then works."""
    client = client_as("unit_cqu")
    cqu = db_session.scalar(select(Unit.id).where(Unit.name == "重庆大学"))
    ids = list(db_session.scalars(select(Declaration.id).where(Declaration.status == "unit_review", Declaration.unit_id == cqu)))
    assert ids
    response = client.post("/admin/declaration/action/", data={"action": "approve", "rowid": [str(i) for i in ids], "csrf_token": "stale",
                                                               "reason": "过期页面里写的推荐意见"},
                           headers={"Referer": "http://localhost/admin/declaration/"})
    html = response.get_data(as_text=True)
    assert response.status_code == 400 and EXPIRED in visible_text(html)
    assert "过期页面里写的推荐意见" in html and html.count('name="rowid"') == len(ids)
    still = db_session.scalar(select(func.count()).select_from(Declaration).where(Declaration.id.in_(ids), Declaration.status == "unit_review"))
    assert still == len(ids)
    fresh = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
    again = client.post("/admin/declaration/action/", data={"action": "approve", "rowid": [str(i) for i in ids], "csrf_token": fresh,
                                                            "reason": "过期页面里写的推荐意见"})
    assert again.status_code == 302
    moved = db_session.scalar(select(func.count()).select_from(Declaration).where(Declaration.id.in_(ids), Declaration.status == "unit_review"))
    assert moved == 0


def test_a_non_review_action_with_a_stale_token_goes_back_with_the_notice(client_as, db_session):
    client = client_as("unit_cqu")
    ids = list(db_session.scalars(select(Declaration.id).where(Declaration.status == "unit_review")))
    response = client.post("/admin/declaration/action/", data={"action": "withdraw", "rowid": [str(i) for i in ids], "csrf_token": "stale"},
                           headers={"Referer": "http://localhost/admin/declaration/"})
    assert response.status_code == 302
    follow = client.get(response.headers["Location"])
    assert EXPIRED in visible_text(follow.get_data(as_text=True))


# -- Flask-Admin's own words ------------------------------------------------------------------
@pytest.mark.parametrize(
    "message, chinese",
    [
        ("Failed to save record.", "保存失败，请检查填写的内容。"),  # missing from Flask-Admin's shipped admin.mo
        ("Failed to create record.", "保存失败，请检查填写的内容。"),
        ("Record was successfully created.", "创建记录成功。"),  # Flask-Admin's catalogue still applies
    ],
)
def test_flask_admin_messages_are_translated(app, message, chinese):
    from flask_admin.babel import gettext
    from flask_admin.helpers import set_current_view

    view = next(v for v in app.extensions["admin"][0]._views if getattr(v, "endpoint", "") == "unit")
    with app.test_request_context("/admin/unit/"):
        set_current_view(view)
        assert gettext(message) == chinese


def test_the_page_size_menu_speaks_chinese(client_as):
    html = client_as("bureau").get("/admin/unit/?page_size=50").get_data(as_text=True)
    text = visible_text(html)
    assert re.search(r'<option value="[^"]*" selected>50 条/页</option>', html), "the chosen page size is shown"
    assert all(f"{n} 条/页" in text for n in (10, 20, 50, 100))


def test_form_selects_show_labels_not_codes(client_as):
    html = client_as("sysadmin").get("/admin/user/new/").get_data(as_text=True)
    role = re.search(r'<select[^>]*name="role".*?</select>', html, re.S).group(0)
    labels = re.findall(r"<option[^>]*>([^<]*)</option>", role)
    assert "单位管理员" in " ".join(labels) or "法人单位" in " ".join(labels)
    assert not any(label in ("unit_admin", "dept_admin", "applicant", "__None") for label in labels)


def test_an_invalid_filter_is_dropped_with_a_notice_and_the_list_still_shows(client_as, db_session):
    client = client_as("bureau")
    total = db_session.scalar(select(func.count()).select_from(Unit))
    response = client.get("/admin/unit/?flt0_0=no-such-state&page_size=100")
    text = visible_text(response.get_data(as_text=True))
    assert response.status_code == 200
    assert "的值无效，已忽略" in text
    assert len(re.findall(r'name="rowid"', response.get_data(as_text=True))) == min(total, 100)


# -- the widgets, in a real browser -------------------------------------------------------------
@pytest.mark.browser
def test_the_date_picker_and_select2_speak_chinese(live_server, page):  # noqa: F811
    from tests.conftest import DEMO_PASSWORD

    page.goto(f"{live_server}/admin/call/new/")
    page.fill("#username", "bureau")
    page.fill("#password", DEMO_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server}/admin/call/new/*")
    page.click("#opens_at")
    picker = page.locator(".daterangepicker:visible").first
    text = picker.inner_text()
    assert "确定" in text and "取消" in text
    assert not re.search(r"\b(Apply|Cancel|Mo|Su|Jan|Feb|Dec)\b", text)
    weekdays = picker.locator("th").all_inner_texts()
    days = [w.strip() for w in weekdays if w.strip() and w.strip() in "一二三四五六日"]
    assert days[:7] == ["一", "二", "三", "四", "五", "六", "日"]  # weeks start on Monday
    _shot(page, "date-picker.png")
    page.keyboard.press("Escape")
    page.click("#s2id_type a")
    page.keyboard.type("不存在的选项")
    assert "没有找到匹配项" in page.locator(".select2-drop-active").inner_text()
    _shot(page, "select2-no-match.png")


@pytest.mark.parametrize("typed, matches", [("%", 0), ("_", 0), ("张", None)])
def test_a_contains_filter_matches_percent_and_underscore_as_typed(app, client_as, db_session, typed, matches):
    """包含 "%" finds the names with a % in them (none), not every name."""
    from models import Person

    view = next(v for v in app.extensions["admin"][0]._views if getattr(v, "endpoint", "") == "person")
    index = next(i for i, f in enumerate(view._filters) if str(f.name) == "姓名" and str(f.operation()) in ("包含", "contains"))
    response = client_as("bureau").get(f"/admin/person/?flt0_{view.get_filter_arg(index, view._filters[index])}={typed}&page_size=100")
    assert response.status_code == 200
    expected = matches if matches is not None else db_session.scalar(
        select(func.count()).select_from(Person).where(Person.name.contains(typed, autoescape=True))
    )
    assert len(re.findall(r'name="rowid"', response.get_data(as_text=True))) == min(expected, 100)


@pytest.mark.parametrize("search", ["a\x00b", "字" * 300])
def test_an_unusable_search_is_ignored_with_one_notice(client_as, db_session, search):
    response = client_as("bureau").get("/admin/unit/", query_string={"search": search, "page_size": 100})
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert html.count("查询内容过长或含有不可见字符，已忽略") == 1
    total = db_session.scalar(select(func.count()).select_from(Unit))
    assert len(re.findall(r'name="rowid"', html)) == min(total, 100)
