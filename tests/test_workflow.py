"""The declaration review chain through the admin, as each demo account drives it."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from models import AuditLog, Declaration, ReviewRecord, Status

ACTION_URL = "/admin/declaration/action/"


def decl(db_session, name: str) -> Declaration:
    db_session.expire_all()
    return db_session.scalars(select(Declaration).where(Declaration.name == name)).one()


def records(db_session, d: Declaration) -> list[ReviewRecord]:
    return list(db_session.scalars(select(ReviewRecord).where(ReviewRecord.declaration_id == d.id).order_by(ReviewRecord.id)))


def act(client, action: str, ids, follow=True, **fields):
    data = {"action": action, "rowid": [str(i) for i in ids], **fields}
    return client.post_form(ACTION_URL, data, follow_redirects=follow)


def text(response) -> str:
    return response.get_data(as_text=True)


def test_whole_chain_for_an_applicant_in_a_secondary_unit(client_as, db_session):
    name = "基于大模型的软件缺陷智能检测方法研究"
    d = decl(db_session, name)
    assert d.status == Status.draft and d.number is None
    page = act(client_as("applicant_zhang"), "submit", [d.id], reason="请审核")
    assert "已提交 1 条" in text(page)
    d = decl(db_session, name)
    assert d.status == Status.dept_review
    assert re.fullmatch(rf"{d.year}01500106\d{{4}}", d.number)
    chain = [("dept_cqu_se", Status.unit_review), ("unit_cqu", Status.authority_review),
             ("authority_jw", Status.bureau_review), ("bureau", Status.approved)]
    for username, expected in chain:
        page = act(client_as(username), "approve", [d.id], reason="同意推荐")
        assert "已审核通过 1 条" in text(page), username
        assert decl(db_session, name).status == expected
    history = records(db_session, d)
    assert [(r.action, r.from_status, r.to_status) for r in history] == [
        ("submit", Status.draft, Status.dept_review),
        ("approve", Status.dept_review, Status.unit_review),
        ("approve", Status.unit_review, Status.authority_review),
        ("approve", Status.authority_review, Status.bureau_review),
        ("approve", Status.bureau_review, Status.approved),
    ]
    assert [r.level for r in history] == [None, "dept", "unit", "authority", "bureau"]
    assert all(r.opinion for r in history)
    audited = db_session.scalar(select(func.count()).select_from(AuditLog).where(AuditLog.table_name == "declaration", AuditLog.row_id == str(d.id)))
    assert audited == 5
    timeline = text(client_as("applicant_zhang").get(f"/admin/declaration/details/?id={d.id}"))
    assert "审批意见" in timeline and timeline.count("同意推荐") == 4


def test_applicant_without_secondary_unit_starts_at_unit_review(client_as, db_session):
    d = decl(db_session, "新型储能材料界面机理研究")
    act(client_as("applicant_li"), "submit", [d.id], reason="")
    assert decl(db_session, d.name).status == Status.unit_review


def test_call_without_authority_level_skips_it(client_as, db_session):
    d = decl(db_session, "工业软件可信验证平台研发")  # unit_review in the research call
    d.call.review_chain = ["dept", "unit", "bureau"]
    db_session.commit()
    act(client_as("unit_cqu"), "approve", [d.id], reason="")
    assert decl(db_session, d.name).status == Status.bureau_review


@pytest.mark.parametrize(
    "username, name, level",
    [
        ("dept_cqu_se", "面向微服务架构的智能运维关键技术研究", "dept"),
        ("unit_cqu", "山地城市桥梁健康监测关键技术", "unit"),
        ("authority_jw", "智能网联汽车软件测试技术研究", "authority"),
        ("authority_yb", "高精度数控机床主轴研制", "authority"),
        ("unit_ent", "智能仓储机器人调度系统", "unit"),
        ("bureau", "软件定义制造系统关键技术研究", "bureau"),
    ],
)
def test_return_at_each_level_needs_a_reason(client_as, db_session, username, name, level):
    client = client_as(username)
    before = decl(db_session, name)
    confirm = act(client, "return", [before.id], follow=False)
    assert confirm.status_code == 200 and "退回原因" in text(confirm) and name in text(confirm)
    empty = act(client, "return", [before.id], follow=False, reason="  ")
    assert empty.status_code == 400 and "请填写退回原因" in text(empty)
    assert decl(db_session, name).status == before.status
    page = act(client, "return", [before.id], reason="经费预算不合理")
    assert "已退回 1 条" in text(page)
    after = decl(db_session, name)
    assert after.status == Status.returned and after.return_reason == "经费预算不合理"
    last = records(db_session, after)[-1]
    assert (last.action, last.level, last.to_status, last.opinion) == ("return", level, Status.returned, "经费预算不合理")


def test_withdraw_only_before_the_first_reviewer_acts(client_as, db_session):
    zhang = client_as("applicant_zhang")
    waiting = decl(db_session, "面向微服务架构的智能运维关键技术研究")  # 部门审核, nobody acted
    reviewed = decl(db_session, "工业软件可信验证平台研发")  # 单位审核: the dept already approved
    page = text(act(zhang, "withdraw", [waiting.id, reviewed.id]))
    assert "已撤回 1 条，跳过 1 条" in page and "上级单位已审核，不能撤回" in page
    assert decl(db_session, waiting.name).status == Status.draft
    assert decl(db_session, reviewed.name).status == Status.unit_review


def test_resubmission_after_return_keeps_the_number(client_as, db_session):
    zhang = client_as("applicant_zhang")
    d = decl(db_session, "低代码平台生成代码质量评估研究")
    number = d.number
    edit = text(zhang.get(f"/admin/declaration/edit/?id={d.id}"))
    assert "退回原因" in edit and "预算编制不合理" in edit
    form = {
        "name": d.name + "（修改稿）", "leader": d.leader, "leader_phone": d.leader_phone, "summary": d.summary,
        "innovation": d.innovation, "tech_level": str(d.tech_level_id), "industry_category": str(d.industry_category_id),
        "start_month": d.start_month.isoformat(), "end_month": d.end_month.isoformat(), "innovation_mode": d.innovation_mode.value,
        "new_tech_count": "1", "new_product_count": "0", "new_process_count": "0", "new_tech_desc": d.new_tech_desc,
    }
    saved = zhang.post_form(f"/admin/declaration/edit/?id={d.id}", form)
    assert saved.status_code == 302, text(saved)[-2000:]
    act(zhang, "submit", [d.id], reason="已按意见修改")
    after = decl(db_session, "低代码平台生成代码质量评估研究（修改稿）")
    assert after.status == Status.dept_review and after.number == number and after.return_reason is None


def test_submitted_declaration_cannot_be_edited(client_as, db_session):
    d = decl(db_session, "面向微服务架构的智能运维关键技术研究")
    zhang = client_as("applicant_zhang")
    page = zhang.get(f"/admin/declaration/edit/?id={d.id}", follow_redirects=True)
    assert "不能修改" in text(page)
    zhang.post_form(f"/admin/declaration/edit/?id={d.id}", {"name": "偷偷改名"})
    assert decl(db_session, d.name).name == d.name


def test_wrong_level_is_skipped_with_a_reason(client_as, db_session):
    d = decl(db_session, "面向微服务架构的智能运维关键技术研究")  # 部门审核
    page = text(act(client_as("unit_cqu"), "approve", [d.id], reason=""))
    assert "已审核通过 0 条，跳过 1 条" in page and "不在您的审核环节" in page
    assert decl(db_session, d.name).status == Status.dept_review
    assert len(records(db_session, d)) == 1


def test_bulk_approve_reports_each_skipped_row(client_as, db_session):
    ok1 = decl(db_session, "山地城市桥梁健康监测关键技术")
    ok2 = decl(db_session, "复杂地质隧道智能建造技术研究")
    wrong = decl(db_session, "智能网联汽车软件测试技术研究")  # 主管部门审核
    page = text(act(client_as("unit_cqu"), "approve", [ok1.id, ok2.id, wrong.id], reason="同意"))
    assert "已审核通过 2 条，跳过 1 条" in page and wrong.name in page
    assert decl(db_session, ok1.name).status == Status.authority_review
    assert decl(db_session, wrong.name).status == Status.authority_review


@pytest.mark.parametrize("username, action", [("applicant_zhang", "approve"), ("dept_cqu_se", "reject"), ("unit_cqu", "submit")])
def test_wrong_role_is_refused_and_nothing_changes(client_as, db_session, username, action):
    d = decl(db_session, "软件定义制造系统关键技术研究")
    response = act(client_as(username), action, [d.id], follow=False, reason="x")
    assert response.status_code == 404
    assert decl(db_session, d.name).status == Status.bureau_review


@pytest.mark.parametrize("username, name", [
    ("unit_ent", "山地城市桥梁健康监测关键技术"),  # another unit
    ("dept_cqu_cs", "面向微服务架构的智能运维关键技术研究"),  # another secondary unit
    ("authority_yb", "智能网联汽车软件测试技术研究"),  # another authority's unit
    ("applicant_li", "面向微服务架构的智能运维关键技术研究"),  # someone else's declaration
])
def test_out_of_scope_ids_are_skipped_without_confirming_they_exist(client_as, db_session, username, name):
    d = decl(db_session, name)
    client = client_as(username)
    for action in ("approve", "return", "withdraw"):
        response = act(client, action, [d.id], reason="x")
        if response.status_code == 404:  # the action is not this role's at all
            continue
        page = text(response)
        assert "跳过 1 条" in page and "记录不存在或不在您的数据范围内" in page and name not in page
    assert client.get(f"/admin/declaration/details/?id={d.id}").status_code == 404
    assert client.get(f"/admin/declaration/preview/{d.id}/").status_code == 404
    assert name not in text(client.get("/admin/declaration/?search=" + name[:4]))
    assert decl(db_session, name).status == d.status


def test_reject_is_final_and_needs_a_reason(client_as, db_session):
    d = decl(db_session, "软件定义制造系统关键技术研究")
    bureau = client_as("bureau")
    assert act(bureau, "reject", [d.id], follow=False, reason="").status_code == 400
    assert "已设为不予立项 1 条" in text(act(bureau, "reject", [d.id], reason="创新性不足"))
    assert decl(db_session, d.name).status == Status.rejected
    again = text(act(bureau, "approve", [d.id], reason=""))
    assert "不能审核通过" in again


def test_details_page_offers_only_allowed_actions(client_as, db_session):
    d = decl(db_session, "山地城市桥梁健康监测关键技术")
    unit_page = text(client_as("unit_cqu").get(f"/admin/declaration/details/?id={d.id}"))
    assert 'data-action="approve"' in unit_page and 'data-action="return"' in unit_page
    assert 'data-action="reject"' not in unit_page
    other = decl(db_session, "面向微服务架构的智能运维关键技术研究")
    view_only = text(client_as("unit_cqu").get(f"/admin/declaration/details/?id={other.id}"))
    assert 'data-action=' not in view_only
    assert "上一条" in view_only and "下一条" in view_only


def test_rules_refuse_wrong_role_in_chinese(db_session):
    """The transition table itself (no view) explains a refusal for a role acting out of its level."""
    from types import SimpleNamespace

    from models import Role
    from rules import scope, transitions, workflow

    unit_admin = scope.Principal(user_id=1, role=Role.unit_admin, unit_id=1)
    other_applicant = scope.Principal(user_id=3, role=Role.applicant, unit_id=1)
    row = SimpleNamespace(status=Status.bureau_review, applicant_id=2, call=SimpleNamespace(authority_label="主管部门审核"))
    m = workflow.DECLARATION
    assert "当前为科技局审核环节，不在您的审核环节" in transitions.refusal(db_session, unit_admin, m, "approve", row)
    assert "您无权不予立项" in transitions.refusal(db_session, unit_admin, m, "reject", row)
    row.status = Status.dept_review
    assert "不在您的审核环节" in transitions.refusal(db_session, unit_admin, m, "approve", row)
    row.status = Status.draft
    assert "只有申报人本人可以提交" in transitions.refusal(db_session, other_applicant, m, "submit", row)
    assert transitions.allowed(db_session, unit_admin, m, row) == []
