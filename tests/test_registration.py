"""单位注册 and its review (seed 002 §4.1, §5.1, §6 1.5): routing by 单位性质, duplicates, approve/reject."""
from __future__ import annotations


import pytest
from sqlalchemy import func, select

from models import AuditLog, DictItem, Region, RegistrationRoute, ReviewStatus, Role, Unit, UnitRegistration, UnitStatus, User
from tests.conftest import login
from tests.form_helpers import field_errors, row, scalar

USCC = "91500112MA60XJ8H3R"


def nature(db_session, name):
    return db_session.scalar(select(DictItem.id).where(DictItem.category == "unit_nature", DictItem.name == name))


def region(db_session, name):
    return db_session.scalar(select(Region.id).where(Region.name == name))


def unit_id(db_session, name):
    return db_session.scalar(select(Unit.id).where(Unit.name == name))


def form(db_session, nature_name, **extra):
    return {
        "name": "重庆新注册科技有限公司", "uscc": USCC, "nature_id": str(nature(db_session, nature_name)),
        "region_id": str(region(db_session, "渝北区")), "address": "重庆市渝北区金开大道1号", "legal_rep": "王建国",
        "contact_name": "刘芳", "contact_mobile": "13983001111", "email": "reg@example.cn",
        "reviewer_unit_id": "", "reviewer_region_id": "", **extra,
    }


def register(client, data):
    return client.post_form("/admin/registration/new/", data)


def registration_of(db_session, unit_name) -> UnitRegistration:
    db_session.expire_all()
    return db_session.scalar(select(UnitRegistration).join(Unit, Unit.id == UnitRegistration.unit_id).where(Unit.name == unit_name))


# nature, routing fields, route, the reviewer, someone who must not see it
ROUTING = [
    ("事业单位", {"reviewer_unit_id": "重庆市教育委员会"}, RegistrationRoute.competent, "authority_jw", "authority_yb"),
    ("机关", {"reviewer_unit_id": "重庆市教育委员会"}, RegistrationRoute.competent, "authority_jw", "authority_yb"),
    ("国有企业", {"reviewer_unit_id": "重庆市教育委员会"}, RegistrationRoute.competent, "authority_jw", "authority_jb"),
    ("非公有制经济", {"reviewer_region_id": "渝北区"}, RegistrationRoute.district, "authority_yb", "authority_jb"),
    ("社会组织", {"reviewer_region_id": "江北区"}, RegistrationRoute.district, "authority_jb", "authority_yb"),
    ("市级主管部门", {}, RegistrationRoute.city, "bureau", "authority_yb"),
    ("留创园", {}, RegistrationRoute.city, "bureau", "authority_jw"),
]


def routing_fields(db_session, fields):
    out = {}
    if "reviewer_unit_id" in fields:
        out["reviewer_unit_id"] = str(unit_id(db_session, fields["reviewer_unit_id"]))
    if "reviewer_region_id" in fields:
        out["reviewer_region_id"] = str(region(db_session, fields["reviewer_region_id"]))
    return out


@pytest.mark.parametrize("nature_name, fields, route, reviewer, outsider", ROUTING)
def test_each_unit_type_is_routed_and_approved_by_its_reviewer(app, client_as, db_session, nature_name, fields, route, reviewer, outsider):
    registrant = client_as("applicant_wang")
    response = register(registrant, form(db_session, nature_name, **routing_fields(db_session, fields)))
    assert response.status_code == 302, field_errors(response)
    reg = registration_of(db_session, "重庆新注册科技有限公司")
    assert reg.route == route and reg.status == ReviewStatus.pending and reg.unit.status == UnitStatus.pending

    assert client_as(outsider).get(f"/admin/registration/details/?id={reg.id}").status_code == 404
    client_as(outsider).action("registration", "approve", [reg.id])
    refused = client_as(outsider).get("/admin/registration/").get_data(as_text=True)
    assert "跳过 1 条" in refused and "记录不存在或不在您的数据范围内" in refused and "重庆新注册科技有限公司" not in refused
    assert registration_of(db_session, "重庆新注册科技有限公司").status == ReviewStatus.pending
    page = client_as(reviewer).get("/admin/").get_data(as_text=True)
    assert "单位注册待审核" in page

    client_as(reviewer).action("registration", "approve", [reg.id])
    reg = registration_of(db_session, "重庆新注册科技有限公司")
    assert reg.status == ReviewStatus.approved and reg.unit.status == UnitStatus.approved
    wang = row(db_session, User, username="applicant_wang")
    assert (wang.role, wang.unit_id) == (Role.unit_admin, reg.unit_id)
    # the new role ends the registrant's old session; signed in again, it is the unit's admin
    assert "/login" in registrant.get("/admin/unit/").headers["Location"]
    again = login(app, "applicant_wang")
    assert again.get("/admin/unit/").headers["Location"].endswith(f"/admin/unit/details/?id={reg.unit_id}")


def test_bureau_does_not_decide_what_is_routed_to_a_district(client_as, db_session):
    reg = registration_of(db_session, "重庆渝北云帆科技有限公司")
    client = client_as("bureau")
    client.action("registration", "approve", [reg.id])
    assert "应由参保地区县审核" in client.get("/admin/registration/").get_data(as_text=True)
    assert registration_of(db_session, "重庆渝北云帆科技有限公司").status == ReviewStatus.pending


def test_demo_registrations_wait_in_every_branch(client_as, db_session):
    waiting = {r.route for r in db_session.scalars(select(UnitRegistration).where(UnitRegistration.status == ReviewStatus.pending))}
    assert waiting == set(RegistrationRoute)
    for username, unit in (("authority_jw", "重庆市教育科学研究院"), ("authority_yb", "重庆渝北云帆科技有限公司"), ("authority_jb", "重庆江北青年创新协会"), ("bureau", "重庆留学人员创业园")):
        assert unit in client_as(username).get("/admin/registration/?flt0_0=pending").get_data(as_text=True)
    yb = client_as("authority_yb").get("/admin/registration/").get_data(as_text=True)
    assert "重庆市教育科学研究院" not in yb and "重庆江北青年创新协会" not in yb and "重庆留学人员创业园" not in yb


@pytest.mark.parametrize(
    "existing, status",
    [("重庆大学", "审核已通过"), ("重庆渝北云帆科技有限公司", "待审核"), ("重庆渝北星河电子有限公司", "审核不通过")],
)
def test_duplicate_uscc_is_refused_naming_the_existing_units_status(client_as, db_session, existing, status):
    uscc = db_session.scalar(select(Unit.uscc).where(Unit.name == existing))
    units = scalar(db_session, select(func.count()).select_from(Unit))
    data = form(db_session, "非公有制经济", uscc=uscc, reviewer_region_id=str(region(db_session, "渝北区")))
    response = register(client_as("applicant_wang"), data)
    assert response.status_code == 200
    assert f"该统一社会信用代码已注册：{existing}（状态：{status}）" in field_errors(response)
    assert 'value="重庆新注册科技有限公司"' in response.get_data(as_text=True)  # nothing typed is lost
    assert scalar(db_session, select(func.count()).select_from(Unit)) == units


@pytest.mark.parametrize(
    "changes, field_message",
    [
        ({"uscc": "91500112MA60XJ8H3Q"}, "统一社会信用代码校验位不正确"),
        ({"uscc": ""}, "请填写统一社会信用代码"),
        ({"contact_mobile": "1398300111"}, "请输入 11 位手机号码"),
        ({"email": "reg@example"}, "请输入正确的电子邮箱"),
        ({"reviewer_region_id": ""}, "非公有制经济、社会组织须选择参保地所在区县"),
    ],
)
def test_bad_registration_input_changes_nothing(client_as, db_session, changes, field_message):
    units = scalar(db_session, select(func.count()).select_from(Unit))
    data = {**form(db_session, "非公有制经济", reviewer_region_id=str(region(db_session, "渝北区"))), **changes}
    response = register(client_as("applicant_wang"), data)
    assert response.status_code == 200 and field_message in field_errors(response)
    assert scalar(db_session, select(func.count()).select_from(Unit)) == units


def test_competent_route_needs_the_competent_department(client_as, db_session):
    response = register(client_as("applicant_wang"), form(db_session, "事业单位"))
    assert "事业单位、机关、国有企业须选择上级主管部门" in field_errors(response)


def test_reject_with_reason_then_the_registrant_corrects_and_resubmits(client_as, db_session):
    registrant = client_as("applicant_wang")
    register(registrant, form(db_session, "非公有制经济", reviewer_region_id=str(region(db_session, "渝北区"))))
    reg = registration_of(db_session, "重庆新注册科技有限公司")
    reviewer = client_as("authority_yb")
    assert reviewer.action("registration", "reject", [reg.id], reason="").status_code == 400
    assert registration_of(db_session, "重庆新注册科技有限公司").status == ReviewStatus.pending
    reviewer.action("registration", "reject", [reg.id], reason="营业执照与单位名称不一致")
    reg = registration_of(db_session, "重庆新注册科技有限公司")
    assert (reg.status, reg.reason, reg.unit.status) == (ReviewStatus.rejected, "营业执照与单位名称不一致", UnitStatus.rejected)
    assert "营业执照与单位名称不一致" in registrant.get("/admin/registration/").get_data(as_text=True)
    assert row(db_session, User, username="applicant_wang").role == Role.applicant

    # someone else cannot take the rejected code; the registrant can correct and resubmit it
    other = register(client_as("applicant_li"), form(db_session, "非公有制经济", reviewer_region_id=str(region(db_session, "渝北区"))))
    assert "（状态：审核不通过）" in other.get_data(as_text=True)
    again = register(registrant, form(db_session, "非公有制经济", reviewer_region_id=str(region(db_session, "渝北区")), address="重庆市渝北区金开大道2号"))
    assert again.status_code == 302
    resubmitted = registration_of(db_session, "重庆新注册科技有限公司")
    assert resubmitted.id == reg.id and resubmitted.status == ReviewStatus.pending and resubmitted.reason is None
    assert resubmitted.unit.address == "重庆市渝北区金开大道2号" and resubmitted.unit.status == UnitStatus.pending


def test_review_is_compare_and_set_and_audited(client_as, db_session):
    reg = registration_of(db_session, "重庆渝北云帆科技有限公司")
    client = client_as("authority_yb")
    client.action("registration", "approve", [reg.id])
    client.action("registration", "reject", [reg.id], reason="晚到的驳回")
    assert "当前状态为“审核已通过”，不能审核不通过" in client.get("/admin/registration/").get_data(as_text=True)
    reg = registration_of(db_session, "重庆渝北云帆科技有限公司")
    assert reg.status == ReviewStatus.approved
    log = db_session.scalars(select(AuditLog).where(AuditLog.table_name == "unit_registration", AuditLog.row_id == str(reg.id))).all()
    assert log[0].before == {"status": "pending"} and log[0].after["status"] == "approved" and log[0].username == "authority_yb"
    unit_log = db_session.scalars(select(AuditLog).where(AuditLog.table_name == "unit", AuditLog.row_id == str(reg.unit_id))).all()
    assert unit_log and unit_log[-1].after["status"] == "approved"


def test_only_people_register_units(client_as):
    assert client_as("unit_cqu").get("/admin/registration/new/").status_code == 404
    assert client_as("authority_yb").get("/admin/registration/new/").status_code == 404


@pytest.mark.parametrize("username", ["unit_cqu", "unit_swu", "unit_ent", "applicant_li"])
def test_units_and_people_do_not_see_others_registrations(client_as, db_session, username):
    reg = registration_of(db_session, "重庆渝北云帆科技有限公司")
    client = client_as(username)
    assert client.get(f"/admin/registration/details/?id={reg.id}").status_code == 404
    assert client.action("registration", "reject", [reg.id], reason="越权").status_code == 404
    assert "重庆渝北云帆科技有限公司" not in client.get("/admin/registration/").get_data(as_text=True)
    assert registration_of(db_session, "重庆渝北云帆科技有限公司").status == ReviewStatus.pending


def test_approving_a_unit_links_the_enterprise_with_its_credit_code(client_as, db_session):
    """A 科技型企业 already on file (imported by the city) becomes the new unit's: its admin sees it."""
    from models import Enterprise
    from rules import scope

    reg = registration_of(db_session, "重庆渝北云帆科技有限公司")
    db_session.add(Enterprise(name="重庆渝北云帆科技有限公司", uscc=reg.unit.uscc, region_id=region(db_session, "渝北区")))
    db_session.commit()
    client_as("authority_yb").action("registration", "approve", [reg.id])
    reg = registration_of(db_session, "重庆渝北云帆科技有限公司")
    enterprise = db_session.scalar(select(Enterprise).where(Enterprise.uscc == reg.unit.uscc))
    assert enterprise.unit_id == reg.unit_id
    admin = scope.Principal.of(reg.registrant)
    assert admin.role == Role.unit_admin
    assert db_session.scalars(select(Enterprise.name).where(scope.predicate(admin, Enterprise))).all() == ["重庆渝北云帆科技有限公司"]
