"""Every demo account in headless Chromium (issue 13): sign in, open every entry of the sidebar,
take one action of its role, and look at the page on a phone. Full-page screenshots at 1440×900
and 390×844 go to $SCREENSHOTS when it is set. Text contrast of the frame's parts is measured
in the browser against WCAG's 4.5:1."""
from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
from sqlalchemy import func, select

from models import Declaration, Status, User
from tests.conftest import DEMO_ACCOUNTS, DEMO_PASSWORD
from tests.test_browser import CHROMIUM, _shot, live_server  # noqa: F401 (fixture)

pytestmark = pytest.mark.browser

WIDE, PHONE = {"width": 1440, "height": 900}, {"width": 390, "height": 844}


@pytest.fixture
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--headless", "--no-sandbox", "--disable-gpu",
                                                                "--disable-background-networking", "--no-first-run"])
        yield b
        b.close()


def _signed_in(browser, base, username, viewport=WIDE):
    page = browser.new_page(locale="zh-CN", viewport=viewport)
    page.on("dialog", lambda d: d.accept())  # confirm() of 提交, 删除
    page.goto(f"{base}/login")
    page.fill("#username", username)
    page.fill("#password", DEMO_PASSWORD)
    page.click("form button[type=submit]")
    page.wait_for_load_state("networkidle")
    return page


def _sidebar(page) -> list[tuple[str, str]]:
    return [(a.inner_text().strip(), a.get_attribute("href")) for a in page.locator("#app-sidebar a.sidebar-link").all()]


CONTRAST_JS = """
(selectors) => {
  function rgb(s) { const m = s.match(/[\\d.]+/g); return m ? m.map(Number) : [0, 0, 0, 0]; }
  function lum(c) { const f = v => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
                    return 0.2126 * f(c[0]) + 0.7152 * f(c[1]) + 0.0722 * f(c[2]); }
  function background(el) {
    for (; el; el = el.parentElement) { const c = rgb(getComputedStyle(el).backgroundColor); if (c.length < 4 || c[3] > 0.5) return c; }
    return [255, 255, 255];
  }
  const out = [];
  for (const sel of selectors) {
    for (const el of Array.from(document.querySelectorAll(sel)).slice(0, 5)) {
      if (!el.offsetParent || !el.textContent.trim()) continue;
      const a = lum(rgb(getComputedStyle(el).color)), b = lum(background(el));
      out.push([sel, el.textContent.trim().slice(0, 20), (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05)]);
    }
  }
  return out;
}
"""

FRAME = [".sidebar-link", ".sidebar-link.active", ".sidebar-group-title", ".app-brand", ".breadcrumb-item", ".breadcrumb-item a",
         ".btn-primary", ".btn-success", ".btn-outline-primary", ".btn-outline-secondary", ".btn-outline-warning",
         ".badge.state", ".ops a", ".query-form label", "table.model-list th", "table.model-list td", ".text-muted", ".list-footer .total"]


def _low_contrast(page) -> list:
    return [(sel, text, round(ratio, 2)) for sel, text, ratio in page.evaluate(CONTRAST_JS, FRAME) if ratio < 4.5]


@pytest.mark.parametrize("username", DEMO_ACCOUNTS)
def test_every_menu_entry_opens_for_every_account(live_server, browser, username, tmp_path):  # noqa: F811
    page = _signed_in(browser, live_server, username)
    assert page.locator("#app-sidebar").is_visible() and page.locator("#user-menu").inner_text().strip()
    _shot(page, tmp_path, f"home-{username}-1440.png")
    entries = _sidebar(page)
    assert entries and entries[0][0] == "首页"
    for name, href in entries:
        response = page.goto(f"{live_server}{href}")
        assert response.status < 400, (username, name, href, response.status)
        page.wait_for_load_state("domcontentloaded")
        active = [t.strip() for t in page.locator("#app-sidebar a.sidebar-link.active").all_inner_texts()]
        if urlsplit(page.url).path == urlsplit(href).path:  # 个人信息 opens the person's own record in 个人信息审核
            assert name in active, (username, name, active)
        assert page.locator("#error-page").count() == 0, (username, name)
        problems = _low_contrast(page)
        assert not problems, (username, name, problems)
    # the user menu: 个人中心, 修改密码, 登录记录, 退出登录
    page.click("#user-menu")
    assert [t.strip() for t in page.locator(".user-menu .dropdown-item").all_inner_texts()][-2:] == ["登录记录", "退出登录"]
    phone = _signed_in(browser, live_server, username, PHONE)
    assert not phone.locator("#app-sidebar").is_visible() or phone.locator("#app-sidebar").bounding_box()["x"] < 0
    _shot(phone, tmp_path, f"home-{username}-390.png")
    phone.click("#sidebar-toggle")
    phone.wait_for_timeout(300)
    assert phone.locator("#app-sidebar").bounding_box()["x"] >= 0, "the menu opens on a phone"
    _shot(phone, tmp_path, f"menu-{username}-390.png")


def _decl(db_session, name) -> Declaration:
    return db_session.scalars(select(Declaration).where(Declaration.name == name)).one()


def _state(db_session, name) -> Status:
    db_session.expire_all()
    return _decl(db_session, name).status


def test_the_bureau_approves_ticked_rows_from_the_query_result(live_server, browser, db_session, tmp_path):  # noqa: F811
    page = _signed_in(browser, live_server, "bureau")
    page.goto(f"{live_server}/admin/declaration/")
    page.select_option("#query-form select >> nth=0", label="科技局审核")
    page.click("#query-submit")
    page.wait_for_load_state("networkidle")
    waiting = db_session.scalar(select(func.count()).select_from(Declaration).where(Declaration.status == Status.bureau_review))
    assert page.locator("#list-total").inner_text() == f"共 {waiting} 条"
    _shot(page, tmp_path, "list-query-bureau-1440.png")
    assert page.locator("#bulk-review").is_disabled()
    page.locator("input.action-checkbox").first.check()
    assert page.locator("#selection-hint").inner_text() == "已选择 1 条" and page.locator("#bulk-review").is_enabled()
    name = page.locator("table.model-list tbody tr").first.locator("td.col-name").inner_text().strip()
    page.click("#bulk-review")
    page.wait_for_selector("#review-dialog.show")
    page.fill("#bulk-opinion", "同意立项")
    _shot(page, tmp_path, "bulk-review-dialog-bureau-1440.png")
    page.click("#review-dialog button[value=approve]")
    page.wait_for_load_state("networkidle")
    assert "1 条" in page.locator(".alert").first.inner_text()
    assert _state(db_session, name) == Status.approved


def test_the_district_passes_a_declaration_on_from_its_details(live_server, browser, db_session, tmp_path):  # noqa: F811
    page = _signed_in(browser, live_server, "authority_yb")
    page.goto(f"{live_server}/admin/declaration/")
    page.locator("a.op-handle").first.click()  # 处理: a row waiting for the district
    page.wait_for_load_state("networkidle")
    tabs = page.locator("#details-tabs .nav-link").all_inner_texts()
    assert [t.split("（")[0] for t in tabs] == ["基本信息", "项目成员", "经费预算", "附件", "审批意见"]
    name = page.locator("table.details-table tr:has(th:text-is('项目名称')) td").inner_text().strip()
    page.click("#details-tabs a[href='#tab-members']")
    assert page.locator("#tab-members").is_visible()
    page.click("#details-tabs a[href='#tab-basic']")
    page.click("button[data-action=approve]")
    page.wait_for_selector("#review-dialog.show")
    from models import Call, CallType, Declaration as D

    kind = db_session.scalar(select(Call.type).join(D, D.call_id == Call.id).where(D.name == name))
    # seed 003 says 上报至省 where seed 000 says 提交至科技局 (rules/workflow.py WORDING)
    assert page.locator("#review-confirm").inner_text() == ("确定上报至省" if kind == CallType.tech_innovation else "确定提交至科技局")
    page.fill("#review-opinion", "同意推荐")
    _shot(page, tmp_path, "details-review-dialog-authority_yb-1440.png")
    page.click("#review-confirm")
    page.wait_for_load_state("networkidle")
    assert _state(db_session, name) == Status.bureau_review


def test_the_department_passes_rows_to_the_unit_in_bulk(live_server, browser, db_session):  # noqa: F811
    page = _signed_in(browser, live_server, "dept_cqu_se")
    page.goto(f"{live_server}/admin/declaration/")
    rows = page.locator("table.model-list tbody tr:has(.state[data-state=dept_review])")
    name = rows.first.locator("td.col-name").inner_text().strip()
    rows.first.locator("input.action-checkbox").check()
    page.click("#bulk-review")
    page.wait_for_selector("#review-dialog.show")
    page.click("#review-dialog button:text-is('项目申报审核（单位）')")
    page.wait_for_load_state("networkidle")
    assert _state(db_session, name) == Status.unit_review


def test_next_and_previous_walk_the_filtered_list_and_end_on_it(live_server, browser, db_session):  # noqa: F811
    page = _signed_in(browser, live_server, "unit_cqu")
    page.goto(f"{live_server}/admin/declaration/")
    page.select_option("#query-form select >> nth=0", label="单位审核")
    page.click("#query-submit")
    page.wait_for_load_state("networkidle")
    names = [t.strip() for t in page.locator("table.model-list tbody td.col-name").all_inner_texts()]
    assert len(names) >= 2
    page.locator("a.op-handle").first.click()
    seen = []
    while "/details/" in page.url:
        seen.append(page.locator("table.details-table tr:has(th:text-is('项目名称')) td").inner_text().strip())
        page.click("#next-record")
        page.wait_for_load_state("networkidle")
    assert seen == names, "下一条 walks the list in order"
    back = urlsplit(page.url)
    assert back.path == "/admin/declaration/" and "flt0_0=unit_review" in back.query, "then comes back to the list"
    page.locator("a.op-handle").nth(1).click()
    page.click("#prev-record")
    page.wait_for_load_state("networkidle")
    assert page.locator("table.details-table tr:has(th:text-is('项目名称')) td").inner_text().strip() == names[0]


def test_an_applicant_submits_in_bulk_and_a_phone_scrolls_the_table(live_server, browser, db_session, tmp_path):  # noqa: F811
    page = _signed_in(browser, live_server, "applicant_zhang")
    page.goto(f"{live_server}/admin/declaration/")
    draft = page.locator("table.model-list tbody tr:has(.state[data-state=draft])").first
    draft.locator("input.action-checkbox").check()
    page.click("button.bulk-action[data-action=submit]")
    page.wait_for_load_state("networkidle")
    if page.locator("textarea[name=reason]").count():  # 提交说明 is asked on the confirmation page
        page.locator("form button[type=submit]").last.click()
        page.wait_for_load_state("networkidle")
    message = page.locator(".alert").first.inner_text()
    assert re.search(r"已提交 1 条|未提交|不能|请", message), message  # done, or refused in Chinese
    phone = _signed_in(browser, live_server, "applicant_zhang", PHONE)
    phone.goto(f"{live_server}/admin/declaration/")
    wrap = phone.locator(".list-table-wrap")
    widths = wrap.evaluate("el => [el.clientWidth, el.scrollWidth]")
    assert widths[1] > widths[0], "the table scrolls sideways instead of squeezing its columns"
    name_cell = phone.locator("table.model-list tbody td.col-name").first.bounding_box()
    assert name_cell["width"] > 100, "a name keeps a readable width"
    assert phone.locator("#query-fields").is_hidden() and phone.locator("button[data-target='#query-fields']").is_visible()
    _shot(phone, tmp_path, "list-applicant_zhang-390.png")


def test_the_page_size_and_jump_keep_the_query(live_server, browser, db_session):  # noqa: F811
    page = _signed_in(browser, live_server, "bureau")
    page.goto(f"{live_server}/admin/declaration/?page_size=10")
    total = int(re.search(r"\d+", page.locator("#list-total").inner_text()).group(0))
    pages = -(-total // 10)
    assert pages >= 2
    page.fill("#page-jump input", "2")
    with page.expect_navigation():
        page.press("#page-jump input", "Enter")
    assert "page=1" in page.url and "page_size=10" in page.url
    with page.expect_navigation():
        page.select_option("#page-size", label="50 条/页")
    assert "page_size=50" in page.url
    assert page.locator("table.model-list tbody tr").count() == total
    admin = _signed_in(browser, live_server, "sysadmin")
    users = db_session.scalar(select(func.count()).select_from(User))
    admin.goto(f"{live_server}/admin/user/")
    assert admin.locator("#list-total").inner_text() == f"共 {users} 条"
