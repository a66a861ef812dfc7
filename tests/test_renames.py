"""企业更名管理 (issue #14): the enterprise asks with proof, its district decides; the old name stays
findable and earlier records keep the name they were made under. Driven through the admin as the
users would, checked with SQL of its own."""
from __future__ import annotations

import io
import re
import threading
from datetime import date, timedelta

import openpyxl
import pytest
from sqlalchemy import delete, func, insert, select, text, update

from models import AnnualReport, AuditLog, Enterprise, EnterpriseName, EnterpriseRename, EnterpriseReview, RenameStatus, Unit, User
from rules import renames, scope, transitions
from tests.crawler import visible_text

ENT = "重庆渝北智联科技有限公司"  # unit_ent's enterprise (and unit), 渝北区: authority_yb decides
NEW = "重庆渝北智联数字技术有限公司"
FORMER = "重庆渝北智联信息技术有限公司"  # the demo's approved rename of 2019
PDF = b"%PDF-1.4\n%%EOF\n"


def flashes(response) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", m) for m in re.findall(r'<div class="alert[^"]*"[^>]*>(.*?)</div>', response.get_data(as_text=True), re.S))


def ent(s) -> dict:
    s.expire_all()
    return dict(s.execute(select(Enterprise.__table__).where(Enterprise.__table__.c.name.in_([ENT, NEW]))).mappings().one())


def unit_name(s, unit_id) -> str:
    return s.execute(text("SELECT name FROM unit WHERE id = :id"), {"id": unit_id}).scalar()


def status_of(s, rid) -> str:
    s.expire_all()
    return s.execute(text("SELECT status FROM enterprise_rename WHERE id = :id"), {"id": rid}).scalar()


def history(s, eid) -> list[tuple]:
    rows = s.execute(text("SELECT name, valid_from, valid_to FROM enterprise_name WHERE enterprise_id = :e ORDER BY id"), {"e": eid})
    return [(n, str(f)[:10] if f else None, str(t)[:10] if t else None) for n, f, t in rows]


@pytest.fixture
def fresh(db_session):
    """The demo's 待审核 request out of the way (with its 审批意见): the enterprise may ask again."""
    gone = list(db_session.scalars(select(EnterpriseRename.id).where(EnterpriseRename.status == RenameStatus.pending)))
    db_session.execute(delete(EnterpriseReview).where(EnterpriseReview.target == "enterprise_rename", EnterpriseReview.target_id.in_(gone)))
    db_session.execute(delete(EnterpriseRename).where(EnterpriseRename.id.in_(gone)))
    db_session.commit()
    return db_session


def ask(client, new_name=NEW, valid_from="2022-06-01", note="股份制改造", upload=True):
    """新增 then 证明材料 then 提交, as the enterprise does; returns (response of the last step, request id)."""
    response = client.post_form("/admin/enterprise_rename/new/", {"new_name": new_name, "valid_from": valid_from, "note": note})
    if response.status_code != 302:
        return response, None
    from extensions import db

    rid = db.session.execute(text("SELECT max(id) FROM enterprise_rename")).scalar()
    if upload:
        up = client.post(f"/admin/enterprise_rename/files/{rid}/", data={"csrf_token": client.csrf_token,
                                                                         "file": [(io.BytesIO(PDF), "营业执照.pdf"), (io.BytesIO(PDF), "核准通知书.pdf")]},
                         content_type="multipart/form-data")
        assert up.status_code == 302
    return client.action("enterprise_rename", "submit", [rid]), rid


def submitted(client_as, s, **kw) -> int:
    response, rid = ask(client_as("unit_ent"), **kw)
    assert response.status_code == 302, flashes(response)
    assert status_of(s, rid) == "pending"
    return rid


# -- the whole way --------------------------------------------------------------------------------
def test_request_then_approval_renames_enterprise_and_unit_and_keeps_the_old_name(client_as, fresh):
    s = fresh
    before = ent(s)
    rid = submitted(client_as, s)
    assert s.execute(text("SELECT count(*) FROM enterprise_rename_file WHERE rename_id = :r"), {"r": rid}).scalar() == 2
    assert s.execute(text("SELECT old_name FROM enterprise_rename WHERE id = :r"), {"r": rid}).scalar() == ENT
    assert ent(s)["name"] == ENT  # nothing renamed while it waits
    district = client_as("authority_yb")
    listed = district.get("/admin/enterprise_rename/").get_data(as_text=True)
    assert NEW in listed and "待审核" in visible_text(listed) and "pending" not in visible_text(listed)

    response = district.action("enterprise_rename", "approve", [rid], reason="材料齐全，同意")
    assert response.status_code == 302 and "已审核通过 1 条" in flashes(district.get("/admin/enterprise_rename/"))
    after = ent(s)
    assert after["name"] == NEW and unit_name(s, before["unit_id"]) == NEW
    assert status_of(s, rid) == "approved"
    assert history(s, before["id"]) == [(FORMER, "2004-03-01", "2019-12-19"), (ENT, "2019-12-20", "2022-05-31"), (NEW, "2022-06-01", None)]
    audits = s.execute(text("SELECT table_name, summary FROM audit_log WHERE summary LIKE '企业更名审核通过%' ORDER BY id")).all()
    assert sorted(t for t, _ in audits) == ["enterprise", "unit"] and all(ENT in text_ and NEW in text_ for _, text_ in audits)

    # the old names still find the enterprise, and its details list them with their periods
    for term in (ENT, "信息技术有限"):
        found = district.get("/admin/enterprise/", query_string={"search": term}).get_data(as_text=True)
        assert NEW in found, term
    nothing = district.get("/admin/enterprise/", query_string={"search": "智联%信息"}).get_data(as_text=True)
    assert NEW not in nothing  # % is a character, as in the list's own search
    details = district.get(f"/admin/enterprise/details/?id={before['id']}").get_data(as_text=True)
    assert "曾用名" in details and f"{ENT}（2019-12-20 至 2022-05-31）" in details and f"{FORMER}（2004-03-01 至 2019-12-19）" in details

    # 审批意见 of the request: 提交 by the enterprise, 审核通过 by the district with the opinion
    page = district.get(f"/admin/enterprise_rename/details/?id={rid}").get_data(as_text=True)
    assert "材料齐全，同意" in page and "营业执照.pdf" in page and "区县审核" in page


def test_annual_reports_of_earlier_years_keep_the_old_name_in_list_and_excel(client_as, fresh):
    s = fresh
    eid = ent(s)["id"]
    years = set(s.scalars(select(AnnualReport.year).where(AnnualReport.enterprise_id == eid)))
    assert {2021, 2022} <= years
    rid = submitted(client_as, s)  # 变更日期 2022-06-01: the 2021 report was the old name's
    client_as("authority_yb").action("enterprise_rename", "approve", [rid], reason="同意")
    uscc = ent(s)["uscc"]
    response = client_as("authority_yb").get("/admin/annual_report/export/xlsx/", query_string={"search": uscc})
    assert response.status_code == 200
    sheet = openpyxl.load_workbook(io.BytesIO(response.data)).active
    rows = list(sheet.iter_rows(values_only=True))
    header = rows[0]
    by_year = {int(r[header.index("年份")]): r[header.index("企业名称")] for r in rows[1:]}
    expected = {2020: ENT, 2021: ENT, 2022: NEW}
    assert {y: by_year[y] for y in years} == {y: expected[y] for y in years}
    listed = client_as("authority_yb").get("/admin/annual_report/", query_string={"search": uscc}).get_data(as_text=True)
    assert ENT in listed and NEW in listed
    assert renames.name_at(s, eid, date(2019, 1, 1)) == FORMER and renames.name_at(s, eid, date.today()) == NEW
    in_sql = lambda on: s.scalar(select(renames.name_on_sql(Enterprise.id, Enterprise.name, on)).where(Enterprise.id == eid))  # noqa: E731
    assert [in_sql(date(y, 12, 31)) for y in (2018, 2021, 2022)] == [FORMER, ENT, NEW]  # the libraries' 企业名称


# -- 退回 and 审核不通过 ---------------------------------------------------------------------------
def test_return_needs_a_reason_and_the_enterprise_may_fix_and_resubmit(client_as, fresh):
    s = fresh
    rid = submitted(client_as, s)
    district = client_as("authority_yb")
    asked = district.action("enterprise_rename", "return", [rid], reason="")
    assert asked.status_code == 400 and "请填写退回原因" in asked.get_data(as_text=True)
    assert status_of(s, rid) == "pending"
    district.action("enterprise_rename", "return", [rid], reason="营业执照复印件不清晰")
    assert status_of(s, rid) == "returned"
    assert s.execute(text("SELECT reason FROM enterprise_rename WHERE id = :r"), {"r": rid}).scalar() == "营业执照复印件不清晰"
    assert ent(s)["name"] == ENT
    # 已退回: the enterprise edits it and 提交 again
    unit = client_as("unit_ent")
    edited = unit.post_form(f"/admin/enterprise_rename/edit/?id={rid}", {"new_name": NEW + "（重庆）", "valid_from": "2022-06-01", "note": "重传"})
    assert edited.status_code == 302, flashes(edited)
    unit.action("enterprise_rename", "submit", [rid])
    assert status_of(s, rid) == "pending"
    # 审核不通过 needs its reason too
    assert district.action("enterprise_rename", "reject", [rid], reason="  ").status_code == 400
    district.action("enterprise_rename", "reject", [rid], reason="名称未经核准")
    assert status_of(s, rid) == "rejected" and ent(s)["name"] == ENT
    opinions = s.execute(text("SELECT action, opinion FROM enterprise_review WHERE target = 'enterprise_rename' AND target_id = :r ORDER BY id"),
                         {"r": rid}).all()
    assert [a for a, _ in opinions] == ["submit", "return", "submit", "reject"]
    assert opinions[1][1] == "营业执照复印件不清晰" and opinions[3][1] == "名称未经核准"
    # a decided request is no longer the enterprise's to edit
    assert unit.post_form(f"/admin/enterprise_rename/edit/?id={rid}", {"new_name": "x", "valid_from": "2022-06-01"}).status_code == 302
    assert s.execute(text("SELECT new_name FROM enterprise_rename WHERE id = :r"), {"r": rid}).scalar() == NEW + "（重庆）"


def test_submit_needs_the_proof(client_as, fresh):
    s = fresh
    response, rid = ask(client_as("unit_ent"), upload=False)
    assert "请先上传证明材料" in flashes(client_as("unit_ent").get("/admin/enterprise_rename/"))
    assert status_of(s, rid) == "draft"


# -- who sees and decides ---------------------------------------------------------------------------
@pytest.mark.parametrize("username", ["authority_jw", "unit_ent_jb", "unit_cqu", "applicant_zhang"])
def test_other_districts_and_units_get_404(client_as, db_session, username):
    rid = db_session.execute(text("SELECT id FROM enterprise_rename WHERE status = 'pending'")).scalar()
    client = client_as(username)
    assert client.get(f"/admin/enterprise_rename/details/?id={rid}").status_code == 404
    fid = db_session.execute(text("SELECT id FROM enterprise_rename_file")).scalar()
    assert client.get(f"/admin/enterprise_rename/file/{fid}/").status_code == 404
    client.action("enterprise_rename", "approve", [rid], reason="同意")
    assert status_of(db_session, rid) == "pending"


def test_the_enterprise_side_cannot_approve_its_own_request(client_as, db_session):
    rid = db_session.execute(text("SELECT id FROM enterprise_rename WHERE status = 'pending'")).scalar()
    client_as("unit_ent").action("enterprise_rename", "approve", [rid], reason="同意")
    assert status_of(db_session, rid) == "pending"
    assert client_as("applicant_ent").get(f"/admin/enterprise_rename/details/?id={rid}").status_code == 200


def test_a_second_request_is_refused_while_one_waits(client_as, db_session):
    s = db_session
    waiting = s.execute(text("SELECT count(*) FROM enterprise_rename WHERE status = 'pending'")).scalar()
    assert waiting == 1  # the demo's
    response = client_as("unit_ent").post_form("/admin/enterprise_rename/new/", {"new_name": NEW, "valid_from": "2022-06-01"})
    assert response.status_code == 200 and "已有待审核的更名申请" in response.get_data(as_text=True)
    assert s.execute(text("SELECT count(*) FROM enterprise_rename")).scalar() == 2
    eid = ent(s)["id"]
    with pytest.raises(Exception):  # and the database says so too
        with s.begin_nested():
            s.execute(insert(EnterpriseRename), [{"enterprise_id": eid, "old_name": ENT, "new_name": NEW, "valid_from": date(2022, 6, 1),
                                                  "status": RenameStatus.pending}])
    s.rollback()


def test_a_unit_name_taken_meanwhile_refuses_approval_with_nothing_half_applied(client_as, fresh):
    s = fresh
    before = ent(s)
    rid = submitted(client_as, s)
    other = s.execute(text("SELECT id FROM unit WHERE name = '重庆大学'")).scalar()
    s.execute(update(Unit).where(Unit.id == other).values(name=NEW))
    s.commit()
    district = client_as("authority_yb")
    district.action("enterprise_rename", "approve", [rid], reason="同意")
    said = flashes(district.get("/admin/enterprise_rename/"))
    assert f"单位名称“{NEW}”已被其他单位使用" in said
    assert status_of(s, rid) == "pending" and ent(s)["name"] == ENT and unit_name(s, before["unit_id"]) == ENT
    assert history(s, before["id"]) == [(FORMER, "2004-03-01", "2019-12-19"), (ENT, "2019-12-20", None)]
    assert s.execute(text("SELECT count(*) FROM audit_log WHERE summary LIKE '企业更名审核通过%'")).scalar() == 0


def test_a_name_taken_by_another_enterprise_is_refused_at_the_field(client_as, fresh):
    other = fresh.execute(text("SELECT name FROM enterprise WHERE name <> :n ORDER BY id"), {"n": ENT}).scalar()
    response = client_as("unit_ent").post_form("/admin/enterprise_rename/new/", {"new_name": other, "valid_from": "2022-06-01"})
    assert response.status_code == 200 and f"企业名称“{other}”已被其他企业使用" in response.get_data(as_text=True)


# -- odd input ----------------------------------------------------------------------------------
@pytest.mark.parametrize("fields, message", [
    ({"valid_from": "2022-13-45"}, None),
    ({"valid_from": (date.today() + timedelta(days=3)).isoformat()}, "变更日期不能晚于今天"),
    ({"valid_from": "2019-12-20"}, "变更日期须晚于当前名称的启用日期 2019-12-20"),
    ({"valid_from": "0001-01-01"}, "日期应在 1900 年至 2100 年之间"),
    ({"new_name": "智联\x00科技"}, "不可见的控制字符"),
    ({"new_name": ENT}, "新名称与企业当前名称相同"),
    ({"new_name": "  "}, None),
    ({"new_name": "名" * 300}, None),
])
def test_bad_requests_are_said_in_chinese_and_nothing_is_saved(client_as, fresh, fields, message):
    data = {"new_name": NEW, "valid_from": "2022-06-01", "note": "说明文字", **fields}
    response = client_as("unit_ent").post_form("/admin/enterprise_rename/new/", data)
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "说明文字" in page  # nothing typed is lost
    if message:
        assert message in page
    assert re.search(r'class="[^"]*invalid-feedback|help-block|text-danger', page)
    assert fresh.execute(text("SELECT count(*) FROM enterprise_rename")).scalar() == 1  # the demo's approved one


@pytest.mark.parametrize("url", [
    "/admin/enterprise_rename/details/?id=99999999999999999999",
    "/admin/enterprise_rename/details/?id=1%00",
    "/admin/enterprise_rename/file/99999999999999999999/",
    "/admin/enterprise_rename/file/abc/",
    "/admin/enterprise_rename/edit/?id=-1",
])
def test_odd_ids_are_404(client_as, url):
    assert client_as("unit_ent").get(url).status_code == 404


def test_odd_list_arguments_and_action_ids_never_500(client_as, db_session):
    district = client_as("authority_yb")
    for query in ({"flt0_0": "nonsense"}, {"flt1_1": "2024-99-99 to x"}, {"search": "a\x00b"}, {"page": "99999999999999"}):
        assert district.get("/admin/enterprise_rename/", query_string=query).status_code == 200
    response = district.action("enterprise_rename", "approve", ["99999999999999999999", "x\x00"], reason="同意")
    assert response.status_code == 302
    assert "记录编号无效" in flashes(district.get("/admin/enterprise_rename/"))
    bad = district.post("/admin/enterprise_rename/files/99999999999999999999/", data={"csrf_token": district.csrf_token})
    assert bad.status_code == 404


def test_an_upload_that_is_not_what_it_says_is_refused(client_as, db_session):
    s = db_session
    rid = s.execute(text("SELECT id FROM enterprise_rename WHERE status = 'pending'")).scalar()
    s.execute(text("DELETE FROM enterprise_rename WHERE id = :r"), {"r": rid})
    s.commit()
    client = client_as("unit_ent")
    client.post_form("/admin/enterprise_rename/new/", {"new_name": NEW, "valid_from": "2022-06-01"})
    rid = s.execute(text("SELECT max(id) FROM enterprise_rename")).scalar()
    client.post(f"/admin/enterprise_rename/files/{rid}/", data={"csrf_token": client.csrf_token, "file": [(io.BytesIO(b"MZ..."), "执照.pdf")]},
                content_type="multipart/form-data")
    assert "文件内容与扩展名 .pdf 不符" in flashes(client.get(f"/admin/enterprise_rename/details/?id={rid}"))
    assert s.execute(text("SELECT count(*) FROM enterprise_rename_file WHERE rename_id = :r"), {"r": rid}).scalar() == 0


# -- two reviewers at once ---------------------------------------------------------------------------
def test_two_approvals_at_once_one_wins(app, client_as, fresh):
    from extensions import db

    s = fresh
    rid = submitted(client_as, s)
    district = scope.Principal.of(s.scalars(select(User).where(User.username == "authority_yb")).one())
    barrier = threading.Barrier(2)
    results, errors = [], []

    def work():
        try:
            with app.app_context():
                barrier.wait()
                outcome = transitions.apply(db.session, district, renames.RENAMES, [rid], "approve", "同意")
                db.session.commit()
                results.append(outcome)
                db.session.remove()
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    assert sorted(len(r.done) for r in results) == [0, 1]
    eid = ent(s)["id"]
    assert s.scalar(select(func.count()).select_from(EnterpriseName).where(EnterpriseName.enterprise_id == eid)) == 3
    assert s.execute(text("SELECT count(*) FROM enterprise_review WHERE target = 'enterprise_rename' AND target_id = :r AND action = 'approve'"),
                     {"r": rid}).scalar() == 1
    assert s.scalar(select(func.count()).select_from(AuditLog).where(AuditLog.summary.like("企业更名审核通过%"))) == 2  # enterprise + unit, once


def test_declarations_submitted_before_the_rename_keep_the_unit_name_they_were_made_under(client_as, fresh):
    s = fresh
    unit_id = ent(s)["unit_id"]
    ids = set(s.scalars(text("SELECT id FROM declaration WHERE unit_id = :u AND status <> 'draft'"), {"u": unit_id}))
    assert ids
    rid = submitted(client_as, s, valid_from=date.today().isoformat())  # the declarations were submitted before today
    client_as("authority_yb").action("enterprise_rename", "approve", [rid], reason="同意")
    assert unit_name(s, unit_id) == NEW
    response = client_as("bureau").get("/admin/declaration/export/xlsx/")
    rows = list(openpyxl.load_workbook(io.BytesIO(response.data)).active.iter_rows(values_only=True))
    column = rows[0].index("申报单位")
    shown = [r[column] for r in rows[1:] if r[column] in (ENT, NEW)]
    assert shown == [ENT] * len(ids)
    page = client_as("bureau").get("/admin/declaration/", query_string={"page_size": 100}).get_data(as_text=True)
    cells = visible_text(re.search(r"<tbody.*?</tbody>", page, re.S).group(0))  # the rows, not the 申报单位 options
    assert cells.count(ENT) == len(ids) and NEW not in cells
