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
