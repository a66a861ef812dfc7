"""A whole journey in headless Chromium (Debian's, driven by Playwright): log in, open a list."""
from __future__ import annotations

import shutil
import threading

import pytest
from werkzeug.serving import make_server

from tests.conftest import DEMO_PASSWORD

pytestmark = pytest.mark.browser
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


@pytest.fixture
def live_server(app):
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


@pytest.fixture
def page():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"],
        )
        yield browser.new_page(locale="zh-CN", viewport={"width": 1400, "height": 900})
        browser.close()


def test_unit_admin_logs_in_and_opens_the_person_list(live_server, page, tmp_path):
    page.goto(f"{live_server}/admin/person/")
    assert "/login" in page.url
    page.fill("#username", "unit_cqu")
    page.fill("#password", "wrong-password")
    page.click("button[type=submit]")
    assert page.locator("#login-error").inner_text() == "用户名或密码错误"
    page.fill("#username", "unit_cqu")
    page.fill("#password", DEMO_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server}/admin/person/*")
    assert "个人信息" in page.title()
    rows = page.locator("table.model-list tbody tr")
    assert rows.count() >= 10
    units = set(page.locator("table.model-list tbody td.col-unit").all_inner_texts())
    assert units == {"重庆大学"}
    page.screenshot(path=str(tmp_path / "person-list.png"), full_page=True)


def _shot(page, tmp_path, name):
    import os
    from pathlib import Path

    folder = Path(os.environ.get("SCREENSHOTS") or tmp_path)
    page.screenshot(path=str(folder / name), full_page=True)


def _login(page, live_server, username, target):
    page.goto(f"{live_server}{target}")
    page.fill("#username", username)
    page.fill("#password", DEMO_PASSWORD)
    page.click("button[type=submit]")


def test_reviewer_returns_a_declaration_from_its_details_page(live_server, page, tmp_path, db_session):
    """The buttons come from the transition table: 审核通过 and 退回 at the unit level, the reason asked once."""
    from sqlalchemy import select

    from models import Declaration, Status

    d = db_session.scalars(select(Declaration).where(Declaration.name == "山地城市桥梁健康监测关键技术")).one()
    _login(page, live_server, "unit_cqu", f"/admin/declaration/details/?id={d.id}")
    page.wait_for_url(f"{live_server}/admin/declaration/details/*")
    buttons = page.locator("button[data-action]").all_inner_texts()
    assert buttons == ["提交至主管部门", "退回"]  # the 科研项目 call goes 单位审核 → 主管部门审核 next
    _shot(page, tmp_path, "transition-details-unit_cqu.png")
    page.click("button[data-action=return]")  # the review dialog, on the page
    page.wait_for_selector("#review-dialog.show textarea[name=reason]")
    assert page.locator("#review-opinion-label").inner_text().startswith("退回原因")
    page.click("#review-confirm")
    assert page.locator("#review-dialog .review-error").inner_text() == "请填写退回原因"  # refused, the dialog stays
    page.fill("#review-dialog textarea[name=reason]", "经费预算不合理")
    _shot(page, tmp_path, "transition-reason-unit_cqu.png")
    page.click("#review-confirm")
    page.wait_for_load_state()
    assert "已退回 1 条" in page.content()
    _shot(page, tmp_path, "transition-done-unit_cqu.png")
    db_session.expire_all()
    returned = db_session.get(Declaration, d.id)
    assert returned.status == Status.returned and returned.return_reason == "经费预算不合理"
