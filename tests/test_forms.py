"""Forms as Chinese back-office users expect them (issue 13): red stars on exactly the required
fields, 字数 limits refused with the count and nothing typed lost, 项目起止时间 as 年/月, 项目成员
and 经费预算 saved with the first 保存, a grey 取消; and in Chromium two columns on a wide screen,
one on a phone, a live counter under 项目简介.

The oracles are written by hand from the manuals (seed 003 §2) and read back with plain SQL."""
from __future__ import annotations

import html as html_lib
import re
from datetime import date, datetime

import pytest

from tests.crawler import LONG, NUL
from tests.form_helpers import errors_at, form_data, one

YEAR = datetime.now().year
RESEARCH = f"{YEAR}年度科研项目（第一批）"
NEW = "/admin/declaration/new/"

# 申报书 新增: what cannot be saved empty — 项目批次 and 项目名称 (NOT NULL, InputRequired) and the
# three counts of 项目创新成果 (NOT NULL; the page starts them at 0). The rest is asked on 提交.
REQUIRED_ON_NEW = {"call", "name", "new_tech_count", "new_product_count", "new_process_count"}
LABELLED_ON_NEW = REQUIRED_ON_NEW | {
    "leader", "leader_phone", "summary", "innovation", "tech_level", "industry_category", "start_month", "end_month",
    "innovation_mode", "new_tech_desc",
}


def text(response) -> str:
    return response.get_data(as_text=True)


def call_id(db_session) -> int:
    return one(db_session, "SELECT id FROM call WHERE name = :n", n=RESEARCH)


def post_new(client, db_session, name, **fields):
    data = {"call": str(call_id(db_session)), "name": name, "new_tech_count": "0", "new_product_count": "0",
            "new_process_count": "0", **fields}
    return client.post_form(NEW, data)


def stars(page: str) -> tuple[set[str], set[str]]:
    """(fields whose label carries the red star, fields with a label) of the page's own form (the
    inline lists' blank row is escaped text, not markup)."""
    labels = dict(re.findall(r'<label for="([^"]+)"[^>]*>(.*?)</label>', page, re.S))
    labels.update(re.findall(r'<span class="kj-group-title" id="([^"]+)-title">(.*?)</span>\s*<', page, re.S))  # lists
    return {f for f, inner in labels.items() if 'class="kj-required"' in inner}, set(labels)


def shown(page: str, name: str) -> str:
    """A field's value as the browser reads it back (the line break WTForms puts after <textarea> is not content)."""
    value = form_data(page)[name]
    return value[2:] if value.startswith("\r\n") else value


def saved(db_session, name):
    return one(db_session, "SELECT count(*) FROM declaration WHERE name = :n", n=name)


# -- 必填 -------------------------------------------------------------------------------------
def test_new_declaration_stars_exactly_the_required_fields(client_as):
    page = text(client_as("applicant_zhang").get(NEW))
    starred, labelled = stars(page)
    assert starred == REQUIRED_ON_NEW
    assert LABELLED_ON_NEW <= labelled  # every field has its label, bound to its input
    for name in LABELLED_ON_NEW:
        assert re.search(rf'<(input|select|textarea)[^>]*\bid="{name}"', page), name
    assert "（必填）" in page  # what a screen reader says for the star


def test_every_create_form_stars_what_its_form_requires(app, client_as):
    """Beside the hand-written list: on every 新增 the bureau and sysadmin open, a field whose
    validators require it carries the star."""
    from flask_login import login_user

    from admin_views.base import ScopedModelView
    from extensions import db
    from models import User

    for username in ("sysadmin", "bureau"):
        client = client_as(username)
        with app.test_request_context("/admin/"):
            login_user(db.session.query(User).filter_by(username=username).one())
            views = [v for v in app.extensions["admin"][0]._views if isinstance(v, ScopedModelView) and v.can_create]
            required = {v.endpoint: {f.id for f in v.create_form() if f.flags.required and f.type != "CSRFTokenField"} for v in views}
        for endpoint, fields in required.items():
            page = client.get(f"/admin/{endpoint}/new/")
            assert page.status_code == 200, endpoint
            starred, _ = stars(text(page))
            assert fields <= starred, (endpoint, fields - starred)


def test_buttons_say_save_in_chinese_and_cancel_is_grey(client_as):
    page = text(client_as("applicant_zhang").get(NEW))
    form = re.search(r'<form[^>]*class="admin-form[^"]*"[^>]*>.*?</form>', page, re.S).group(0)
    assert re.search(r'<input type="submit" class="btn btn-primary" value="保存">', form)
    assert 'name="_continue_editing"' in form and "保存并继续编辑" in form
    assert re.search(r'<a href="[^"]*" class="btn btn-secondary" role="button">取消</a>', form)
    assert "btn-danger" not in form


# -- 字数 -------------------------------------------------------------------------------------
def test_too_long_summary_is_refused_at_its_field_and_kept(client_as, db_session):
    zhang = client_as("applicant_zhang")
    typed = "面向山地城市桥梁的健康监测。" * 9  # 126 字
    assert len(typed) == 126
    response = post_new(zhang, db_session, "简介过长的申报书", summary=typed, innovation="创新" * 80)
    page = text(response)
    assert response.status_code == 200
    assert errors_at(page, "summary") == ["项目简介不超过100字（现为 126 字）"]
    assert errors_at(page, "innovation") == []  # 160 字 is within 150–200
    assert shown(page, "summary") == typed  # nothing typed is lost
    assert 'maxlength="100"' in page and 'data-minlength="150"' in page  # what the counter counts
    assert saved(db_session, "简介过长的申报书") == 0


def test_length_limits_of_the_manual_on_every_limited_field(client_as, db_session):
    zhang = client_as("applicant_zhang")
    response = post_new(zhang, db_session, "字数都超了", innovation="新" * 201, new_tech_desc="技" * 101)
    page = text(response)
    assert errors_at(page, "innovation") == ["项目创新内容及技术指标不超过200字（现为 201 字）"]
    assert errors_at(page, "new_tech_desc") == ["新技术描述不超过100字（现为 101 字）"]
    assert saved(db_session, "字数都超了") == 0


def test_a_line_break_counts_as_one_character(client_as, db_session):
    """The browser counts a line break as one against maxlength and posts it as CRLF."""
    zhang = client_as("applicant_zhang")
    summary = "\r\n".join(["第一行内容"] * 17)[:-1]  # 84 字 and 16 line breaks: 100 as the page counts, 116 as posted
    response = post_new(zhang, db_session, "换行的简介", summary=summary)
    assert response.status_code == 302, errors_at(text(response), "summary")
    stored = one(db_session, "SELECT summary FROM declaration WHERE name = :n", n="换行的简介")
    assert "\r" not in stored and len(stored) == 100


# -- 年/月 ------------------------------------------------------------------------------------
@pytest.mark.parametrize(("start", "end", "stored"), [
    ("2024-03", "2025-02", (date(2024, 3, 1), date(2025, 2, 28))),
    ("2024-02", "2024-02", (date(2024, 2, 1), date(2024, 2, 29))),  # one month, a leap February
    ("2024-03-15", "2026-12-01", (date(2024, 3, 1), date(2026, 12, 31))),  # a whole date, as saved before
    ("2024年3月", "２０２５－０１", (date(2024, 3, 1), date(2025, 1, 31))),
])
def test_months_are_stored_as_first_and_last_day(client_as, db_session, start, end, stored):
    zhang = client_as("applicant_zhang")
    response = post_new(zhang, db_session, "起止年月", start_month=start, end_month=end)
    assert response.status_code == 302, (errors_at(text(response), "start_month"), errors_at(text(response), "end_month"))
    rows = one(db_session, "SELECT id FROM declaration WHERE name = :n", n="起止年月")
    from tests.form_helpers import sql

    (got,) = sql(db_session, "SELECT start_month, end_month FROM declaration WHERE id = :i", i=rows)
    assert tuple(v if isinstance(v, date) else date.fromisoformat(v) for v in got) == stored
    page = text(zhang.get(f"/admin/declaration/edit/?id={rows}"))  # shown back as 年-月 in a month picker
    assert re.search(rf'<input[^>]*type="month"[^>]*value="{stored[0]:%Y-%m}"', page)
    assert re.search(rf'<input[^>]*id="end_month"[^>]*type="month"[^>]*value="{stored[1]:%Y-%m}"', page)


@pytest.mark.parametrize(("value", "message"), [
    ("2024-13", "月份应在 1 至 12 之间"),
    ("2024-00", "月份应在 1 至 12 之间"),
    ("1800-01", "日期应在 1900 年至 2100 年之间"),
    ("2024-02-30", "2024 年 2 月没有 30 日"),
    ("下个月", "请按“年-月”填写，如 2024-03"),
    (NUL, "请按“年-月”填写，如 2024-03"),
    (LONG, "请按“年-月”填写，如 2024-03"),
])
def test_bad_months_are_said_at_the_field(client_as, db_session, value, message):
    zhang = client_as("applicant_zhang")
    response = post_new(zhang, db_session, "年月有误", start_month=value, summary="保留的简介")
    page = text(response)
    assert response.status_code == 200
    assert errors_at(page, "start_month") == [message]
    assert shown(page, "summary") == "保留的简介"
    assert "\x00" not in page and LONG not in page
    assert saved(db_session, "年月有误") == 0


def test_end_month_not_before_start_month(client_as, db_session):
    zhang = client_as("applicant_zhang")
    response = post_new(zhang, db_session, "截止早于起始", start_month="2025-06", end_month="2025-05")
    assert errors_at(text(response), "end_month") == ["项目截止时间不能早于项目起始时间"]
    assert saved(db_session, "截止早于起始") == 0


# -- 项目成员 and 经费预算 on 新增 ---------------------------------------------------------------
def test_new_form_offers_members_and_budget(client_as):
    page = text(client_as("applicant_zhang").get(NEW))
    for field, label in (("members", "添加 项目成员"), ("budget_items", "添加 经费预算")):
        assert f'<div class="inline-field" id="{field}">' in page
        assert re.search(rf'id="{field}-button"[^>]*>{label}</a>', page)
    assert "附件" in page and "保存后" in page  # attachments still need a saved record, and the form says so


def test_members_and_budget_are_saved_with_the_first_save(client_as, db_session):
    zhang = client_as("applicant_zhang")
    response = post_new(zhang, db_session, "首次保存即有成员", **{
        "members-0-name": "王磊", "members-0-title": "教授", "members-0-sort": "1",
        "members-1-name": "赵敏", "members-1-duty": "数据分析", "members-1-sort": "2",
        "budget_items-0-subject": "设备费", "budget_items-0-amount": "35.50", "budget_items-0-note": "服务器",
    })
    assert response.status_code == 302, text(response)[-2000:]
    d = one(db_session, "SELECT id FROM declaration WHERE name = :n", n="首次保存即有成员")
    assert one(db_session, "SELECT count(*) FROM declaration_member WHERE declaration_id = :d", d=d) == 2
    assert one(db_session, "SELECT count(*) FROM declaration_budget WHERE declaration_id = :d", d=d) == 1
    assert float(one(db_session, "SELECT amount FROM declaration_budget WHERE declaration_id = :d", d=d)) == 35.5


def test_a_refused_row_opens_its_tab_and_keeps_the_rows(client_as, db_session):
    zhang = client_as("applicant_zhang")
    response = post_new(zhang, db_session, "成员缺姓名", **{"members-0-name": "", "members-0-title": "讲师",
                                                        "budget_items-0-subject": "材料费", "budget_items-0-amount": "3"})
    page = text(response)
    assert response.status_code == 200 and saved(db_session, "成员缺姓名") == 0
    assert errors_at(page, "members-0-name") == ["请填写成员姓名"]  # said in the row
    assert re.search(r'class="nav-link active"[^>]*href="#tab2"[^>]*>项目成员<span class="kj-tab-error">', page)
    data = form_data(page)
    assert data["members-0-title"] == "讲师" and data["budget_items-0-subject"] == "材料费"


def test_edit_keeps_members_and_months(client_as, db_session):
    zhang = client_as("applicant_zhang")
    post_new(zhang, db_session, "修改后仍在", start_month="2024-05", end_month="2025-04",
             **{"members-0-name": "孙丽", "budget_items-0-subject": "差旅费", "budget_items-0-amount": "2"})
    d = one(db_session, "SELECT id FROM declaration WHERE name = :n", n="修改后仍在")
    url = f"/admin/declaration/edit/?id={d}"
    data = form_data(text(zhang.get(url)))
    assert data["start_month"] == "2024-05" and data["end_month"] == "2025-04" and data["members-0-name"] == "孙丽"
    response = zhang.post(url, data={**data, "leader": "孙丽"})
    assert response.status_code == 302, text(response)[-2000:]
    assert one(db_session, "SELECT end_month FROM declaration WHERE id = :d", d=d) in (date(2025, 4, 30), "2025-04-30")
    assert one(db_session, "SELECT count(*) FROM declaration_member WHERE declaration_id = :d", d=d) == 1


def test_other_forms_use_the_same_layout(client_as):
    """Every ScopedModelView's 新增 and 修改: the two-column rows, the grey 取消, the counter's limits."""
    page = text(client_as("bureau").get("/admin/call/new/"))
    assert re.search(r'class="form-row[ "]', page) and "col-xl-6" in page and "btn-secondary" in page and "btn-danger" not in html_lib.unescape(page)
    assert re.search(r'<label for="name"[^>]*>批次名称<span class="kj-required"', page)
    assert re.search(r'<a href="javascript:void\(0\)" class="nav-link active"[^>]*>新增</a>', page)


# -- in Chromium ------------------------------------------------------------------------------
@pytest.mark.browser
def test_two_columns_wide_one_on_a_phone_and_a_live_counter(live_server, page, tmp_path, db_session):
    from tests.test_browser import _login, _shot

    page.set_viewport_size({"width": 1440, "height": 900})
    _login(page, live_server, "applicant_zhang", NEW)
    page.wait_for_url(f"{live_server}{NEW}*")
    leader, phone = page.locator("#leader").bounding_box(), page.locator("#leader_phone").bounding_box()
    assert abs(leader["y"] - phone["y"]) < 2 and phone["x"] >= leader["x"] + leader["width"]  # side by side
    summary = page.locator("#summary").bounding_box()
    assert summary["width"] > leader["width"] * 1.8  # a textarea spans both columns
    assert page.locator("#summary-counter").inner_text() == "已输入 0/100 字"
    page.locator("#summary").press_sequentially("城市桥梁监测")
    assert page.locator("#summary-counter").inner_text() == "已输入 6/100 字"
    page.fill("#innovation", "创新" * 10)
    assert page.locator("#innovation-counter").inner_text() == "已输入 20/200 字，至少 150 字（应为 150–200 字）"
    page.fill("#name", "浏览器里新增的申报书")
    page.fill("#start_month", "2025-03")
    page.fill("#end_month", "2026-02")
    _shot(page, tmp_path, "forms-declaration-wide.png")

    page.click("a[href='#tab2']")
    page.click("#members-button")
    page.click("#members-button")
    assert page.locator("label[for='members-0-name']").count() == 1  # the added row's labels are its own
    page.fill("#members-0-name", "王磊")
    page.fill("#members-1-name", "赵敏")
    page.click("a[href='#tab3']")
    page.click("#budget_items-button")
    page.fill("#budget_items-0-subject", "设备费")
    page.fill("#budget_items-0-amount", "12")

    page.set_viewport_size({"width": 390, "height": 844})
    page.click("a[href='#tab1']")
    leader, phone = page.locator("#leader").bounding_box(), page.locator("#leader_phone").bounding_box()
    assert phone["y"] >= leader["y"] + leader["height"] and abs(phone["x"] - leader["x"]) < 2  # stacked
    assert page.evaluate("document.documentElement.scrollWidth") <= 390 + 1  # nothing wider than the phone
    _shot(page, tmp_path, "forms-declaration-phone.png")

    page.click("input.btn-primary[type=submit]")
    page.wait_for_url(f"{live_server}/admin/declaration/*")
    d = one(db_session, "SELECT id FROM declaration WHERE name = :n", n="浏览器里新增的申报书")
    assert d is not None, page.content()[-3000:]
    assert one(db_session, "SELECT count(*) FROM declaration_member WHERE declaration_id = :d", d=d) == 2
    assert one(db_session, "SELECT count(*) FROM declaration_budget WHERE declaration_id = :d", d=d) == 1
    assert one(db_session, "SELECT end_month FROM declaration WHERE id = :d", d=d) in (date(2026, 2, 28), "2026-02-28")


from tests.test_browser import CHROMIUM, live_server  # noqa: E402,F401  (the browser fixtures)


@pytest.fixture
def page():
    """Chromium in Chinese: its own controls (the month picker's "2025年03月") follow the browser's
    language, as on the staff's machines, not the page's lang. On Linux that language comes from
    the environment, and needs Debian's chromium-l10n (without it: "March 2025")."""
    import os

    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, env={**os.environ, "LANGUAGE": "zh_CN", "LANG": "zh_CN.UTF-8"}, args=[
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run", "--lang=zh-CN"])
        yield browser.new_page(locale="zh-CN", viewport={"width": 1440, "height": 900})
        browser.close()
