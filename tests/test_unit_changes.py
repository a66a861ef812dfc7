"""单位信息变更 (issue #12): a unit cannot move itself to another authority; the receiving authority
decides. Driven through the admin as the users would, checked with SQL of its own."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select, update

from models import AuditLog, ChangeStatus, Declaration, DictItem, Person, Region, ReviewLog, Unit, UnitChange, User
from rules.validators import uscc_check_char
from tests.crawler import english_words, visible_text
from tests.form_helpers import edit

ENT = "重庆渝北智联科技有限公司"  # unit_ent's unit, 非公有制经济 in 渝北区: its district reviews it
CQU = "重庆大学"  # 高等院校 under 重庆市教育委员会 (authority_jw)


def unit_id(s, name):
    return s.scalar(select(Unit.id).where(Unit.name == name))


def region_id(s, name):
    return s.scalar(select(Region.id).where(Region.name == name))


def nature_id(s, name):
    return s.scalar(select(DictItem.id).where(DictItem.category == "unit_nature", DictItem.name == name))


def unit_row(s, uid) -> dict:
    """The unit as stored, read with plain SQL (not through the app's session state)."""
    s.expire_all()
    return dict(s.execute(select(Unit.__table__).where(Unit.__table__.c.id == uid)).mappings().one())


def changes_of(s, uid) -> list:
    s.expire_all()
    rows = s.execute(select(UnitChange.__table__).where(UnitChange.__table__.c.unit_id == uid).order_by(UnitChange.__table__.c.id)).mappings()
    return [{**r, "status": ChangeStatus(r["status"]).value} for r in rows]


def save_unit(client, uid, **fields):
    return edit(client, f"/admin/unit/edit/?id={uid}", **fields)


def flashes(response) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", m) for m in re.findall(r'<div class="alert[^"]*"[^>]*>(.*?)</div>', response.get_data(as_text=True), re.S))


def new_uscc(region_code: str = "500112", serial: str = "MA5U7H2K") -> str:
    first17 = f"91{region_code}{serial}1"[:17]
    return first17 + uscc_check_char(first17)


def move_ent_to_jiangbei(client_as, s):
    uid = unit_id(s, ENT)
    response = save_unit(client_as("unit_ent"), uid, region=str(region_id(s, "江北区")))
    assert response.status_code == 302, flashes(response)
    return uid


def listed(client, endpoint: str, text: str) -> bool:
    page = client.get(f"/admin/{endpoint}/?page_size=100")
    assert page.status_code == 200
    return text in page.get_data(as_text=True)


# -- asking -------------------------------------------------------------------------------------
def test_a_district_change_waits_and_the_unit_keeps_its_old_values(client_as, db_session):
    s = db_session
    uid = unit_id(s, ENT)
    before = unit_row(s, uid)
    response = save_unit(client_as("unit_ent"), uid, region=str(region_id(s, "江北区")), address="重庆市江北区观音桥1号")
    assert response.status_code == 302
    after = unit_row(s, uid)
    assert after["region_id"] == before["region_id"] == region_id(s, "渝北区")  # not written
    assert after["address"] == "重庆市江北区观音桥1号"  # 通信地址 is not reviewed: saved at once
    (change,) = changes_of(s, uid)
    assert change["status"] == "pending" and change["changes"] == {"region_id": region_id(s, "江北区")}
    assert change["old_values"] == {"region_id": region_id(s, "渝北区")}
    assert (change["reviewer_unit_id"], change["reviewer_region_id"]) == (None, region_id(s, "江北区"))
    page = client_as("unit_ent").get(response.headers["Location"], follow_redirects=True).get_data(as_text=True)
    assert "所在区县等变更已提交，待江北区审核；审核通过前仍按原信息管理" in page
    details = client_as("unit_ent").get(f"/admin/unit/details/?id={uid}").get_data(as_text=True)
    assert "有待审核的单位信息变更：单位所在区县 渝北区 → 江北区（待江北区审核）" in details
    assert s.scalar(select(func.count()).select_from(ReviewLog).where(ReviewLog.target == "unit_change", ReviewLog.target_id == change["id"])) == 1
    assert s.scalar(select(func.count()).select_from(AuditLog).where(AuditLog.table_name == "unit_change", AuditLog.row_id == str(change["id"]))) == 1
    # lists and scope unchanged meanwhile
    assert listed(client_as("authority_yb"), "person", "陈杰") and not listed(client_as("authority_jb"), "person", "陈杰")


def test_only_other_fields_save_at_once(client_as, db_session):
    s = db_session
    uid = unit_id(s, ENT)
    response = save_unit(client_as("unit_ent"), uid, address="重庆市渝北区新牌坊2号")
    assert response.status_code == 302
    assert unit_row(s, uid)["address"] == "重庆市渝北区新牌坊2号" and not changes_of(s, uid)
    assert "待" not in flashes(client_as("unit_ent").get(response.headers["Location"], follow_redirects=True))


def test_the_receiving_district_approves_and_the_unit_moves(client_as, db_session):
    s = db_session
    uid = move_ent_to_jiangbei(client_as, s)
    (change,) = changes_of(s, uid)
    cid = change["id"]
    # the old district neither sees nor decides it
    yb = client_as("authority_yb")
    assert yb.get(f"/admin/unit_change/details/?id={cid}").status_code == 404
    yb.action("unit_change", "approve", [cid])
    assert changes_of(s, uid)[0]["status"] == "pending" and unit_row(s, uid)["region_id"] == region_id(s, "渝北区")
    # the receiving district sees it in its list and on its 待办
    jb = client_as("authority_jb")
    assert listed(jb, "unit_change", ENT)
    home = jb.get("/admin/").get_data(as_text=True)
    assert "单位信息变更待审核" in home
    details = jb.get(f"/admin/unit_change/details/?id={cid}").get_data(as_text=True)
    assert "单位所在区县" in details and "渝北区" in details and "江北区" in details and 'id="change-approve"' in details
    response = jb.action("unit_change", "approve", [cid])
    assert response.status_code == 302
    assert "已审核通过 1 条" in flashes(jb.get(response.headers["Location"], follow_redirects=True))
    assert unit_row(s, uid)["region_id"] == region_id(s, "江北区")
    (change,) = changes_of(s, uid)
    assert change["status"] == "approved" and change["reviewed_by_id"] == s.scalar(select(User.id).where(User.username == "authority_jb"))
    audit = s.scalars(select(AuditLog).where(AuditLog.table_name == "unit", AuditLog.row_id == str(uid)).order_by(AuditLog.id.desc())).first()
    assert audit.before == {"region_id": region_id(s, "渝北区")} and audit.after == {"region_id": region_id(s, "江北区")}
    # the unit's people and declarations now belong to 江北区 (SQL oracle: what lives in the unit)
    people = set(s.scalars(select(Person.name).where(Person.unit_id == uid)))
    declarations = set(s.scalars(select(Declaration.name).where(Declaration.unit_id == uid, Declaration.status != "draft")))
    assert people and declarations
    for name in people:
        assert listed(client_as("authority_jb"), "person", name) and not listed(client_as("authority_yb"), "person", name)
    for name in declarations:
        assert listed(client_as("authority_jb"), "declaration", name) and not listed(client_as("authority_yb"), "declaration", name)
    assert client_as("authority_jb").get(f"/admin/unit/details/?id={uid}").status_code == 200
    assert client_as("authority_yb").get(f"/admin/unit/details/?id={uid}").status_code == 404
    # the history on the change's own page
    page = client_as("unit_ent").get(f"/admin/unit_change/details/?id={cid}").get_data(as_text=True)
    assert "提交变更" in page and "审核通过" in page and "有待审核" not in client_as("unit_ent").get(f"/admin/unit/details/?id={uid}").get_data(as_text=True)


def test_reject_keeps_the_old_values_and_records_the_reason(client_as, db_session):
    s = db_session
    uid = move_ent_to_jiangbei(client_as, s)
    cid = changes_of(s, uid)[0]["id"]
    jb = client_as("authority_jb")
    asked = jb.action("unit_change", "reject", [cid])  # no reason yet: the confirmation page asks for it
    assert asked.status_code == 200 and "审核意见（不通过原因）" in asked.get_data(as_text=True)
    assert changes_of(s, uid)[0]["status"] == "pending"
    jb.action("unit_change", "reject", [cid], reason="")
    assert changes_of(s, uid)[0]["status"] == "pending"
    jb.action("unit_change", "reject", [cid], reason="经核实，单位参保地仍在渝北区")
    (change,) = changes_of(s, uid)
    assert change["status"] == "rejected" and change["reason"] == "经核实，单位参保地仍在渝北区"
    assert unit_row(s, uid)["region_id"] == region_id(s, "渝北区")
    page = client_as("unit_ent").get(f"/admin/unit_change/details/?id={cid}").get_data(as_text=True)
    assert "经核实，单位参保地仍在渝北区" in page and "审核不通过" in page


def test_the_unit_withdraws_and_may_ask_again(client_as, db_session):
    s = db_session
    uid = move_ent_to_jiangbei(client_as, s)
    cid = changes_of(s, uid)[0]["id"]
    assert client_as("unit_cqu").get(f"/admin/unit_change/details/?id={cid}").status_code == 404  # another unit's
    client_as("unit_cqu").action("unit_change", "withdraw", [cid])
    assert changes_of(s, uid)[0]["status"] == "pending"
    client_as("unit_ent").action("unit_change", "withdraw", [cid])
    (change,) = changes_of(s, uid)
    assert change["status"] == "withdrawn" and change["reason"] is None
    assert "已撤回" in client_as("unit_ent").get(f"/admin/unit_change/details/?id={cid}").get_data(as_text=True)
    client_as("authority_jb").action("unit_change", "approve", [cid])
    assert unit_row(s, uid)["region_id"] == region_id(s, "渝北区")
    move_ent_to_jiangbei(client_as, s)  # the partial unique index lets a new one wait
    assert [c["status"] for c in changes_of(s, uid)] == ["withdrawn", "pending"]


def test_a_second_change_while_one_waits_is_refused(client_as, db_session):
    s = db_session
    uid = move_ent_to_jiangbei(client_as, s)
    same = save_unit(client_as("unit_ent"), uid, region=str(region_id(s, "江北区")))  # the same request again
    assert same.status_code == 302 and len(changes_of(s, uid)) == 1
    other = save_unit(client_as("unit_ent"), uid, region=str(region_id(s, "渝中区")), address="不应保存")
    assert other.status_code == 200
    assert "已有待审核的单位信息变更（单位所在区县：渝北区 → 江北区），请等待审核结果或先撤回后再提交" in other.get_data(as_text=True)
    assert len(changes_of(s, uid)) == 1 and changes_of(s, uid)[0]["changes"] == {"region_id": region_id(s, "江北区")}
    assert unit_row(s, uid)["address"] != "不应保存"


def test_a_unit_under_a_competent_department_goes_to_that_department(client_as, db_session):
    s = db_session
    uid = unit_id(s, CQU)
    save_unit(client_as("unit_cqu"), uid, region=str(region_id(s, "江北区")))
    (change,) = changes_of(s, uid)
    assert (change["reviewer_unit_id"], change["reviewer_region_id"]) == (unit_id(s, "重庆市教育委员会"), None)
    client_as("authority_jb").action("unit_change", "approve", [change["id"]])
    assert unit_row(s, uid)["region_id"] == region_id(s, "沙坪坝区")
    client_as("authority_jw").action("unit_change", "approve", [change["id"]])
    assert unit_row(s, uid)["region_id"] == region_id(s, "江北区")


def test_a_city_routed_nature_goes_to_the_bureau(client_as, db_session):
    s = db_session
    uid = unit_id(s, ENT)
    save_unit(client_as("unit_ent"), uid, nature=str(nature_id(s, "留创园")))
    (change,) = changes_of(s, uid)
    assert (change["reviewer_unit_id"], change["reviewer_region_id"]) == (None, None)
    assert "待市局审核" in client_as("unit_ent").get(f"/admin/unit/details/?id={uid}").get_data(as_text=True)
    for username in ("authority_yb", "authority_jb"):
        client_as(username).action("unit_change", "approve", [change["id"]])
    assert unit_row(s, uid)["nature_id"] == nature_id(s, "非公有制经济")
    client_as("bureau").action("unit_change", "approve", [change["id"]])
    assert unit_row(s, uid)["nature_id"] == nature_id(s, "留创园")


def test_a_credit_code_taken_meanwhile_is_refused_at_approval(client_as, db_session):
    s = db_session
    uid = unit_id(s, ENT)
    code = new_uscc()
    response = save_unit(client_as("unit_ent"), uid, uscc=code)
    assert response.status_code == 302
    (change,) = changes_of(s, uid)
    assert change["changes"] == {"uscc": code} and unit_row(s, uid)["uscc"] != code
    # another unit gets the code before the district decides
    s.execute(update(Unit).where(Unit.name == "重庆两江精密制造有限公司").values(uscc=code))
    s.commit()
    yb = client_as("authority_yb")  # 非公有制经济 in 渝北区: its own district decides a code change
    response = yb.action("unit_change", "approve", [change["id"]])
    assert "该统一社会信用代码已被其他单位使用，不能审核通过" in flashes(yb.get(response.headers["Location"], follow_redirects=True))
    assert changes_of(s, uid)[0]["status"] == "pending" and unit_row(s, uid)["uscc"] != code


def test_a_credit_code_already_used_is_refused_when_asked(client_as, db_session):
    s = db_session
    uid = unit_id(s, ENT)
    taken = s.scalar(select(Unit.uscc).where(Unit.name == "重庆两江精密制造有限公司"))
    response = save_unit(client_as("unit_ent"), uid, uscc=taken)
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and ("该统一社会信用代码已被其他单位使用" in page or "已经存在" in page)
    assert not changes_of(s, uid)


def test_sysadmin_writes_directly(client_as, db_session):
    s = db_session
    uid = unit_id(s, ENT)
    response = save_unit(client_as("sysadmin"), uid, region=str(region_id(s, "江北区")))
    assert response.status_code == 302
    assert unit_row(s, uid)["region_id"] == region_id(s, "江北区") and not changes_of(s, uid)


# -- the pages are Chinese and odd input is never a 500 -------------------------------------------
@pytest.mark.parametrize("username", ["unit_ent", "authority_jb", "authority_yb", "bureau", "sysadmin", "applicant_ent"])
def test_pages_are_chinese_and_odd_ids_are_harmless(client_as, db_session, username):
    s = db_session
    uid = move_ent_to_jiangbei(client_as, s)
    cid = changes_of(s, uid)[0]["id"]
    client = client_as(username)
    # 申请人 shows the account name (unit_ent): its parts are data, not interface words
    data_words = {part for name in s.scalars(select(User.username)) for part in re.findall(r"[a-z]+", name.lower())} | {"xlsx"}
    if username == "applicant_ent":
        assert client.get("/admin/unit_change/").status_code == 404
    else:
        for url in ("/admin/unit_change/", f"/admin/unit_change/details/?id={cid}", "/admin/unit_change/?flt0_0=pending&flt1_1=1"):
            page = client.get(url)
            assert page.status_code in (200, 404), url
            if page.status_code == 200:
                assert not english_words(visible_text(page.get_data(as_text=True)), data_words), url
    for odd in ("abc", "-1", "99999999999999999999999", "1 OR 1=1", ""):
        assert client.get(f"/admin/unit_change/details/?id={odd}").status_code in (302, 404)
        assert client.action("unit_change", "approve", [odd], reason="x").status_code in (302, 404)
        assert client.action("unit_change", "withdraw", [odd]).status_code in (302, 404)
    assert changes_of(s, uid)[0]["status"] == "pending"
