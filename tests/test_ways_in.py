"""Ways in (issue 12; seeds 004, 002 §2, 000 §1): the login page's entries, 选择用户类型 → 用户协议 →
填报用户注册 / 单位管理用户注册, accounts that grant nothing until 授权 or the unit's review, person
records linked only when the unit admin confirms, registration that reveals nobody's numbers."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from models import (
    AccountStatus, AuditLog, Declaration, DictItem, Person, Region, RegistrationRoute, ReviewLog, ReviewStatus, Role, Unit,
    UnitRegistration, UnitStatus, User,
)
from rules import scope
from tests.conftest import login
from tests.form_helpers import errors_at, form_data, row, scalar

TOKEN = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')
PASSWORD = "Ly#Cqu2024x"


def token(page: str) -> str:
    return TOKEN.search(page).group(1)


def agree(anon, kind: str):
    page = anon.get(f"/register/{kind}/agreement").get_data(as_text=True)
    return anon.post(f"/register/{kind}/agreement", data={"agree": "y", "csrf_token": token(page)})


def user_signup(anon, **changes):
    agree(anon, "user")
    page = anon.get("/register/user").get_data(as_text=True)
    data = {"username": "liuyang01", "name": "刘洋", "mobile": "13983002222", "id_no": "500112199003072019",
            "email": "liuyang@example.cn", "unit_name": "重庆大学", "unit_id": "", "password": PASSWORD, "confirm": PASSWORD, **changes}
    return anon.post("/register/user", data={**data, "csrf_token": token(page)}, follow_redirects=True)


def user_of(db_session, username) -> User | None:
    db_session.expire_all()
    return db_session.scalar(select(User).where(User.username == username))


def count(db_session, model, *where) -> int:
    db_session.expire_all()
    return db_session.scalar(select(func.count()).select_from(model).where(*where))


# -- the login page ---------------------------------------------------------------------------------
def test_login_page_offers_both_entries_and_the_ways_in(anon):
    page = anon.get("/login").get_data(as_text=True)
    for text in ("法人用户", "个人用户", "用户注册", "忘记密码", "《用户协议》"):
        assert text in page
    assert 'href="/register"' in page and 'href="/agreement"' in page and 'href="/forgot-password"' in page
    personal = anon.get("/login?entry=personal").get_data(as_text=True)
    assert "法人单位授权人、二级单位管理人员、填报用户" in personal
    assert "用户协议" in anon.get("/agreement").get_data(as_text=True)


def test_registration_starts_by_choosing_the_user_type_and_agreeing(anon):
    page = anon.get("/register").get_data(as_text=True)
    assert "单位管理用户注册" in page and "填报用户注册" in page
    # the form is reached only through the agreement
    assert anon.get("/register/user").headers["Location"].endswith("/register/user/agreement")
    page = anon.get("/register/unit/agreement").get_data(as_text=True)
    refused = anon.post("/register/unit/agreement", data={"csrf_token": token(page)})
    assert "请阅读并同意用户协议" in refused.get_data(as_text=True)
    assert agree(anon, "unit").headers["Location"].endswith("/register/unit")
    assert "局级（区县）主管部门" in anon.get("/register/unit").get_data(as_text=True)


# -- 填报用户注册 ------------------------------------------------------------------------------------
def test_a_new_fill_in_user_waits_and_grants_nothing(app, anon, db_session):
    cqu = db_session.scalar(select(Unit.id).where(Unit.name == "重庆大学"))
    people = count(db_session, Person)
    response = user_signup(anon)
    assert response.status_code == 200 and "提交成功" in response.get_data(as_text=True)
    new = user_of(db_session, "liuyang01")
    assert (new.role, new.unit_id, new.status, new.modules) == (Role.applicant, cqu, AccountStatus.pending, [])
    assert count(db_session, Person) == people  # no person record before 授权
    # signed in, the account sees its status and nothing else
    client = login(app, "liuyang01", PASSWORD)
    for url in ("/admin/", "/admin/person/", "/admin/declaration/", "/admin/declaration/new/", "/admin/annual_report/",
                "/admin/unit/", f"/admin/unit/details/?id={cqu}", "/admin/declaration/export/xlsx/", "/admin/download/"):
        response = client.get(url)
        assert response.status_code == 302 and response.headers["Location"].endswith("/register/status"), url
    status = client.get("/register/status").get_data(as_text=True)
    assert "待授权" in status and "重庆大学" in status
    # and the data scope agrees on its own: no rows of any model
    p = scope.Principal.of(new)
    for model in (Person, Unit, User, UnitRegistration, Declaration):
        assert db_session.scalar(select(func.count()).select_from(model).where(scope.predicate(p, model))) == 0


def _unlinked_person(db_session, unit_name="重庆大学") -> Person:
    return db_session.scalar(
        select(Person).join(Unit, Unit.id == Person.unit_id)
        .where(Unit.name == unit_name, Person.user_id.is_(None), Person.id_no.is_not(None)).order_by(Person.id).limit(1)
    )


def test_a_person_record_is_linked_only_when_the_unit_admin_confirms(app, anon, client_as, db_session):
    person = _unlinked_person(db_session)
    response = user_signup(anon, id_no=person.id_no, name=person.name)
    assert "提交成功" in response.get_data(as_text=True)
    assert person.name not in response.get_data(as_text=True) or person.name == "刘洋"
    new = user_of(db_session, "liuyang01")
    assert row(db_session, Person, id=person.id).user_id is None  # the number alone links nothing
    # the registrant sees nothing of that record
    client = login(app, "liuyang01", PASSWORD)
    assert client.get(f"/admin/person/details/?id={person.id}").status_code == 302
    assert person.mobile is None or person.mobile not in client.get("/register/status").get_data(as_text=True)
    # the unit admin is offered the match
    admin = client_as("unit_cqu")
    details = admin.get(f"/admin/user/details/?id={new.id}").get_data(as_text=True)
    assert f"该证件号码与本单位人员 {person.name} 一致，是否关联" in details
    admin.action("user", "authorize", [new.id])  # plain 授权 is refused while a record matches
    assert user_of(db_session, "liuyang01").status == AccountStatus.pending
    admin.action("user", "authorize_link", [new.id])
    assert user_of(db_session, "liuyang01").status == AccountStatus.active
    assert row(db_session, Person, id=person.id).user_id == new.id
    assert count(db_session, ReviewLog, ReviewLog.target == "app_user", ReviewLog.target_id == new.id) == 1
    assert count(db_session, AuditLog, AuditLog.table_name == "person", AuditLog.row_id == str(person.id)) >= 1


def test_authorised_user_gets_its_own_record_and_the_modules(app, anon, client_as, db_session):
    user_signup(anon)
    new = user_of(db_session, "liuyang01")
    people = count(db_session, Person)
    admin = client_as("unit_cqu")
    listing = admin.get("/admin/user/?flt0_0=pending".replace("flt0_0", _filter_arg(admin, "授权状态"))).get_data(as_text=True)
    assert "liuyang01" in listing and "待授权" in listing
    admin.action("user", "authorize", [new.id])
    assert user_of(db_session, "liuyang01").status == AccountStatus.active
    assert count(db_session, Person) == people + 1
    assert row(db_session, Person, user_id=new.id).unit_id == new.unit_id
    client = login(app, "liuyang01", PASSWORD)
    assert client.get("/admin/").status_code == 200


def _filter_arg(client, label: str) -> str:
    page = client.get("/admin/user/").get_data(as_text=True)
    index = re.search(r'\[(\d+), "%s"' % label, page) or re.search(r'"index": (\d+), "operation": "[^"]*", "options": [^}]*"label"', page)
    # Flask-Admin lists filters in declaration order; 授权状态 is the second (角色, 授权状态, 用户状态)
    return "flt0_1" if index is None else f"flt0_{index.group(1)}"


def test_only_the_units_admin_authorises(anon, client_as, db_session):
    user_signup(anon)
    new = user_of(db_session, "liuyang01")
    for outsider in ("unit_swu", "unit_ent", "authority_yb", "applicant_li"):
        client_as(outsider).action("user", "authorize", [new.id])
        assert user_of(db_session, "liuyang01").status == AccountStatus.pending, outsider


def test_refusal_needs_a_reason_and_is_shown_to_the_registrant(app, anon, client_as, db_session):
    user_signup(anon)
    new = user_of(db_session, "liuyang01")
    admin = client_as("unit_cqu")
    admin.action("user", "refuse", [new.id], reason="")
    assert user_of(db_session, "liuyang01").status == AccountStatus.pending
    admin.action("user", "refuse", [new.id], reason="非本单位人员")
    refused = user_of(db_session, "liuyang01")
    assert (refused.status, refused.refusal_reason) == (AccountStatus.refused, "非本单位人员")
    page = login(app, "liuyang01", PASSWORD).get("/register/status").get_data(as_text=True)
    assert "已拒绝" in page and "非本单位人员" in page


@pytest.mark.parametrize("taken", ["applicant_zhang", "13900000008"])
def test_a_taken_user_name_is_only_unavailable(anon, db_session, taken):
    users = count(db_session, User)
    response = user_signup(anon, username=taken)
    assert "该用户名不可用" in errors_at(response.get_data(as_text=True), "username")
    assert form_data(response.get_data(as_text=True))["name"] == "刘洋"
    assert count(db_session, User) == users


def test_phone_and_id_conflicts_go_to_the_reviewer_not_the_registrant(anon, client_as, db_session):
    zhang = user_of(db_session, "applicant_zhang")
    plain = user_signup(anon, username="liuyang02", mobile="13983002299", id_no=id_card("50011219900307203")).get_data(as_text=True)
    taken = user_signup(anon, mobile=zhang.mobile, id_no=zhang.id_no).get_data(as_text=True)
    assert "提交成功" in taken and zhang.mobile not in taken and zhang.id_no not in taken
    strip = lambda html: re.sub(r'value="[^"]*"|\d{11}|liuyang0\d', "", html)  # noqa: E731
    assert strip(plain) == strip(taken)  # the same page whether the numbers are someone's or not
    new = user_of(db_session, "liuyang01")
    assert (new.mobile, new.id_no) == (None, None) and zhang.mobile in new.registration_note
    admin = client_as("unit_cqu")
    assert "已被其他账号使用" in admin.get(f"/admin/user/details/?id={new.id}").get_data(as_text=True)
    admin.action("user", "authorize", [new.id])
    assert user_of(db_session, "liuyang01").status == AccountStatus.pending  # checked first


def id_card(body17: str) -> str:
    """A 居民身份证号码 with its GB 11643 check digit."""
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    return body17 + "10X98765432"[sum(int(d) * w for d, w in zip(body17, weights)) % 11]


def test_registration_is_throttled_per_address(anon, db_session):
    for i in range(5):
        assert "提交成功" in user_signup(anon, username=f"liuyang1{i}", mobile=f"1398300230{i}", id_no=id_card(f"5001121990030720{i}")).get_data(as_text=True)
    users = count(db_session, User)
    response = user_signup(anon, username="liuyang20", mobile="13983002400")
    assert response.status_code == 429 and "注册过于频繁" in response.get_data(as_text=True)
    assert count(db_session, User) == users


def test_the_unit_is_picked_from_a_search(anon, db_session):
    found = anon.get("/register/units?q=重庆大").get_json()
    assert {"重庆大学"} <= {u["name"] for u in found}
    pending = db_session.scalar(select(Unit.name).where(Unit.status != UnitStatus.approved).limit(1))
    if pending:
        assert pending not in {u["name"] for u in anon.get(f"/register/units?q={pending}").get_json()}
    assert anon.get("/register/units?q=%25").get_json() == [] or all("%" in u["name"] for u in anon.get("/register/units?q=%25").get_json())
    assert anon.get("/register/units?q=\x00").get_json() == []
    cqu = db_session.scalar(select(Unit.id).where(Unit.name == "重庆大学"))
    assert "提交成功" in user_signup(anon, unit_name="", unit_id=str(cqu)).get_data(as_text=True)
    assert user_of(db_session, "liuyang01").unit_id == cqu
    odd = user_signup(anon, username="liuyang03", mobile="13983002298", unit_name="", unit_id="9" * 30)
    assert "请选择管理单位" in errors_at(odd.get_data(as_text=True), "unit_name")


# -- 单位管理用户注册 ----------------------------------------------------------------------------------
def _dict(db_session, category, name):
    return str(db_session.scalar(select(DictItem.id).where(DictItem.category == category, DictItem.name == name)))


def _region(db_session, name):
    return str(db_session.scalar(select(Region.id).where(Region.name == name)))


def unit_data(db_session, **changes):
    yb = _region(db_session, "渝北区")
    return {
        "username": "yunqi_admin", "password": "Yq#Reg2024x", "confirm": "Yq#Reg2024x",
        "name": "重庆云启智能科技有限公司", "uscc": "91500112MA60XJ8H3R", "nature_id": _dict(db_session, "unit_nature", "非公有制经济"),
        "registration_type_id": _dict(db_session, "registration_type", "有限责任公司"), "legal_rep": "王建国",
        "authority": f"region:{yb}", "region_id": yb, "registered_address": "金开大道 1 号", "located_region_id": yb,
        "located_address": "金开大道 1 号 3 楼", "contact_name": "刘芳", "email": "reg@example.cn", "contact_mobile": "13983001111",
        "q1": "您母亲的姓名是？", "a1": "李秀英", "q2": "您的出生地是？", "a2": "重庆", "q3": "您小学的校名是？", "a3": "人和街小学",
        **changes,
    }


def unit_signup(anon, db_session, **changes):
    agree(anon, "unit")
    page = anon.get("/register/unit").get_data(as_text=True)
    return anon.post("/register/unit", data={**unit_data(db_session, **changes), "csrf_token": token(page)}, follow_redirects=True)


def test_a_unit_admin_registers_the_unit_from_the_login_page_and_the_district_approves(app, anon, client_as, db_session):
    response = unit_signup(anon, db_session)
    assert "提交成功" in response.get_data(as_text=True) and "参保地区县" in response.get_data(as_text=True)
    account = user_of(db_session, "yunqi_admin")
    unit = db_session.scalar(select(Unit).where(Unit.name == "重庆云启智能科技有限公司"))
    reg = row(db_session, UnitRegistration, unit_id=unit.id)
    assert (unit.status, reg.status, reg.route, reg.registrant_id) == (UnitStatus.pending, ReviewStatus.pending, RegistrationRoute.district, account.id)
    assert (account.status, account.role, unit.registered_address, unit.located_address) == (AccountStatus.pending, Role.applicant, "金开大道 1 号", "渝北区金开大道 1 号 3 楼")
    assert len(account.security_questions) == 3 and all("李秀英" not in q["answer"] for q in account.security_questions)
    client = login(app, "yunqi_admin", "Yq#Reg2024x")
    assert client.get("/admin/").headers["Location"].endswith("/register/status")
    assert "待审核" in client.get("/register/status").get_data(as_text=True)
    # the district decides it; the account becomes the unit's admin
    client_as("authority_jb").action("registration", "approve", [reg.id])
    assert row(db_session, UnitRegistration, id=reg.id).status == ReviewStatus.pending
    client_as("authority_yb").action("registration", "approve", [reg.id])
    account = user_of(db_session, "yunqi_admin")
    assert (account.status, account.role, account.unit_id) == (AccountStatus.active, Role.unit_admin, unit.id)
    assert login(app, "yunqi_admin", "Yq#Reg2024x").get("/admin/").status_code == 200


def test_a_rejected_unit_registration_is_corrected_and_resubmitted(app, anon, client_as, db_session):
    unit_signup(anon, db_session)
    reg = db_session.scalar(select(UnitRegistration).join(Unit, Unit.id == UnitRegistration.unit_id).where(Unit.name == "重庆云启智能科技有限公司"))
    client_as("authority_yb").action("registration", "reject", [reg.id], reason="营业执照名称不符")
    client = login(app, "yunqi_admin", "Yq#Reg2024x")
    status = client.get("/register/status").get_data(as_text=True)
    assert "营业执照名称不符" in status and "修改并重新提交" in status
    page = client.get("/register/unit/continue").get_data(as_text=True)
    data = form_data(page)
    assert data["name"] == "重庆云启智能科技有限公司"
    data.update(name="重庆云启智能科技股份有限公司")
    response = client.post("/register/unit/continue", data=data)
    assert response.status_code == 302, re.findall(r'invalid-feedback d-block">([^<]+)', response.get_data(as_text=True))
    reg = row(db_session, UnitRegistration, id=reg.id)
    assert reg.status == ReviewStatus.pending and reg.unit.name == "重庆云启智能科技股份有限公司"
    assert client.get("/register/unit/continue").status_code == 404  # only a rejected one is reopened


@pytest.mark.parametrize("changes, field, message", [
    ({"username": "applicant_zhang"}, "username", "该用户名不可用"),
    ({"nature_id": "事业单位"}, "authority", "须选择上级主管部门"),
    ({"q2": "您母亲的姓名是？"}, "q2", "三个问题不能重复"),
    ({"a3": ""}, "a3", "请填写答案"),
    ({"uscc": "91500112MA60XJ8H3X"}, "uscc", "统一社会信用代码"),
    ({"password": "Password1", "confirm": "Password1"}, "password", "密码"),
    ({"name": "\x00"}, "name", "控制字符"),
])
def test_unit_registration_refusals_are_at_the_field_and_change_nothing(anon, db_session, changes, field, message):
    if changes.get("nature_id") == "事业单位":
        changes = {**changes, "nature_id": _dict(db_session, "unit_nature", "事业单位")}
    units, users = count(db_session, Unit), count(db_session, User)
    response = unit_signup(anon, db_session, **changes)
    html = response.get_data(as_text=True)
    assert any(message in e for e in errors_at(html, field)), (errors_at(html, field), html[:0])
    assert form_data(html)["legal_rep"] == "王建国"
    assert (count(db_session, Unit), count(db_session, User)) == (units, users)


def test_a_unit_registrant_is_not_authorised_through_user_management(anon, client_as, db_session):
    unit_signup(anon, db_session)
    account = user_of(db_session, "yunqi_admin")
    client_as("sysadmin").action("user", "authorize", [account.id])
    assert user_of(db_session, "yunqi_admin").status == AccountStatus.pending
    assert scalar(db_session, select(func.count()).select_from(User).where(User.id == account.id, User.role == Role.applicant)) == 1


def test_an_expired_registration_page_keeps_what_was_typed_and_saves_nothing(anon, db_session):
    agree(anon, "user")
    users = count(db_session, User)
    response = anon.post("/register/user", data={"username": "liuyang01", "name": "刘洋", "csrf_token": "garbage"})
    html = response.get_data(as_text=True)
    assert "页面已过期，请重新提交" in html and form_data(html)["name"] == "刘洋"
    assert count(db_session, User) == users


@pytest.mark.parametrize("hostile", ["a\x00b", "9" * 30, "abc", "unit:abc", "region:" + "9" * 25])
def test_hostile_values_in_every_unit_registration_field_are_refused_at_the_field(anon, db_session, hostile):
    """Selects and text fields alike: refused in Chinese, nothing saved, never a 500 (PostgreSQL
    refuses NUL in text, so it must not reach a query)."""
    fields = [k for k in unit_data(db_session) if k not in ("password", "confirm")]
    units, users = count(db_session, Unit), count(db_session, User)
    for field in fields:
        response = unit_signup(anon, db_session, **{field: hostile})
        assert response.status_code in (200, 429), (field, response.status_code)
    # a harmless text (an answer, a name) may register the unit once; NUL never gets anything saved
    added = (count(db_session, Unit) - units, count(db_session, User) - users)
    assert added in ((0, 0), (1, 1)) and (added == (0, 0) or "\x00" not in hostile), added
    for field in ("username", "name", "mobile", "id_no", "email", "unit_name", "unit_id"):
        response = user_signup(anon, **{field: hostile})
        assert response.status_code in (200, 429), (field, response.status_code)
