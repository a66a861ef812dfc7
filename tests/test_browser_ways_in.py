"""The ways in, in headless Chromium: a newcomer registers a unit from the login page, the district
approves it, the new unit admin authorises a 填报用户 who registered under it, and that user signs
in and opens a declaration form (issue 12). Screenshots go to $SCREENSHOTS when it is set."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from models import AccountStatus, Unit, UnitRegistration, User
from tests.conftest import DEMO_PASSWORD
from tests.test_browser import _shot, live_server, page  # noqa: F401 (fixtures)

pytestmark = pytest.mark.browser

UNIT = "重庆云启智能科技有限公司"
ADMIN_PASSWORD = "Yq#Reg2024x"
USER_PASSWORD = "Ly#Cqu2024x"


def _sign_in(page, base, username, password):
    page.goto(f"{base}/login")
    page.fill("#username", username)
    page.fill("#password", password)
    page.click("form button[type=submit]")
    page.wait_for_load_state("networkidle")


def _sign_out(page, base):
    page.goto(f"{base}/logout")
    page.click("form button[type=submit]")
    page.wait_for_url(f"{base}/login*")


def _agree(page, kind_id):
    page.click(kind_id)
    page.wait_for_url("**/agreement")
    page.check("#agree")
    page.click("#agree[type=submit], button#agree")
    page.wait_for_load_state("networkidle")


def test_a_newcomer_registers_a_unit_and_brings_in_a_fill_in_user(live_server, page, tmp_path, db_session):  # noqa: F811
    base = live_server
    page.goto(f"{base}/login")
    assert page.locator("#entry-legal").inner_text() == "法人用户" and page.locator("#entry-personal").inner_text() == "个人用户"
    _shot(page, tmp_path, "login.png")
    page.click("#link-forgot")
    page.wait_for_url(f"{base}/forgot-password*")
    _shot(page, tmp_path, "forgot-password.png")

    # 用户注册 → 选择用户类型 → 用户协议 → 单位管理用户注册
    page.goto(f"{base}/login")
    page.click("#link-register")
    page.wait_for_url(f"{base}/register")
    _shot(page, tmp_path, "choose-user-type.png")
    page.click("#kind-unit")
    page.wait_for_url("**/agreement")
    _shot(page, tmp_path, "agreement.png")
    page.click("button#agree")  # not ticked: asked again
    assert "请阅读并同意用户协议" in page.content()
    page.check("input#agree")
    page.click("button#agree")
    page.wait_for_url(f"{base}/register/unit")
    page.click("#submit-unit")  # empty: every required field says so, in Chinese
    errors = page.locator(".invalid-feedback").all_inner_texts()
    assert {"请填写单位名称", "请选择法人性质", "请选择注册地址所在区县", "请选择问题"} <= set(errors), errors
    _shot(page, tmp_path, "unit-registration-errors.png")
    page.fill("#username", "yunqi_admin")
    page.fill("#password", ADMIN_PASSWORD)
    page.fill("#confirm", ADMIN_PASSWORD)
    page.fill("#name", UNIT)
    page.fill("#uscc", "91500112MA60XJ8H3R")
    page.select_option("#nature_id", label="非公有制经济")
    page.select_option("#registration_type_id", label="有限责任公司")
    page.fill("#legal_rep", "王建国")
    page.select_option("#authority", label="渝北区科技局（区县）")
    page.select_option("#region_id", label="渝北区")
    page.fill("#registered_address", "金开大道 1 号")
    page.select_option("#located_region_id", label="渝北区")
    page.fill("#located_address", "金开大道 1 号 3 楼")
    page.fill("#contact_name", "刘芳")
    page.fill("#email", "reg@example.cn")
    page.fill("#contact_mobile", "13983001111")
    for i, (question, answer) in enumerate((("您母亲的姓名是？", "李秀英"), ("您的出生地是？", "重庆"), ("您小学的校名是？", "人和街小学")), 1):
        page.select_option(f"#q{i}", label=question)
        page.fill(f"#a{i}", answer)
    _shot(page, tmp_path, "unit-registration.png")
    page.click("#submit-unit")
    page.wait_for_url(f"{base}/register/done")
    assert "提交成功" in page.title() and "已提交" in page.locator("#signup-done").inner_text()

    # the account signs in to see where the registration stands, nothing more
    _sign_in(page, base, "yunqi_admin", ADMIN_PASSWORD)
    page.wait_for_url(f"{base}/register/status")
    assert "待审核" in page.locator("#registration-status").inner_text()
    _shot(page, tmp_path, "registration-status.png")
    page.goto(f"{base}/admin/person/")
    assert page.url.endswith("/register/status")
    page.click("button:has-text(\"退出登录\")")
    page.wait_for_url(f"{base}/login*")

    # the district approves it from its details page
    reg_id = db_session.scalar(select(UnitRegistration.id).join(Unit, Unit.id == UnitRegistration.unit_id).where(Unit.name == UNIT))
    _sign_in(page, base, "authority_yb", DEMO_PASSWORD)
    page.goto(f"{base}/admin/registration/?search={UNIT}")
    page.check(f"input.action-checkbox[value='{reg_id}']")
    page.click("#bulk-review")  # 批量审核: the review dialog with 审核通过 / 审核不通过
    page.wait_for_selector("#review-dialog.show")
    page.click("#review-dialog button[value=approve]")
    page.wait_for_load_state("networkidle")
    assert "已审核通过 1 条" in page.content()
    _sign_out(page, base)

    # 填报用户注册 under the new unit: searched by its name and ticked
    page.goto(f"{base}/register")
    page.click("#kind-user")
    page.wait_for_url("**/agreement")
    page.check("input#agree")
    page.click("button#agree")
    page.wait_for_url(f"{base}/register/user")
    page.fill("#username", "liuyang01")
    page.fill("#name", "刘洋")
    page.fill("#mobile", "13983002222")
    page.fill("#id_no", "500112199003072019")
    page.fill("#email", "liuyang@example.cn")
    page.fill("#unit_name", "云启智能")
    page.click("#pick-unit")
    page.wait_for_selector("#unit-choices input[type=radio]")
    _shot(page, tmp_path, "user-registration-unit-choice.png")
    page.click("#unit-choices input[type=radio]")
    assert page.locator("#unit-picked").inner_text() == f"已选择：{UNIT}"
    page.fill("#password", USER_PASSWORD)
    page.fill("#confirm", USER_PASSWORD)
    _shot(page, tmp_path, "user-registration.png")
    page.click("#submit-signup")
    page.wait_for_url(f"{base}/register/done")
    assert "提交成功" in page.title() and "已提交" in page.locator("#signup-done").inner_text()

    # the new unit admin authorises it and grants a module (模块配置)
    _sign_in(page, base, "yunqi_admin", ADMIN_PASSWORD)
    assert "/register/status" not in page.url
    assert "待授权的填报用户" in page.content()
    newcomer = db_session.scalar(select(User.id).where(User.username == "liuyang01"))
    page.goto(f"{base}/admin/user/details/?id={newcomer}")
    _shot(page, tmp_path, "user-authorise.png")
    page.click("#account-authorize")
    page.wait_for_load_state("networkidle")
    assert "已授权 1 条" in page.content()
    page.goto(f"{base}/admin/user/edit/?id={newcomer}")
    page.check("input[name=modules][value=research]")
    page.click("input[type=submit][value='保存'], button[type=submit]:has-text('保存')")
    page.wait_for_load_state("networkidle")
    db_session.expire_all()
    user = db_session.scalar(select(User).where(User.username == "liuyang01"))
    assert user.status == AccountStatus.active and user.modules == ["research"]
    _sign_out(page, base)

    # and the 填报用户 signs in and opens a declaration form
    _sign_in(page, base, "liuyang01", USER_PASSWORD)
    page.goto(f"{base}/admin/declaration/new/")
    assert page.url.startswith(f"{base}/admin/declaration/new/")
    assert "项目名称" in page.content()
    _shot(page, tmp_path, "declaration-form-newcomer.png")
