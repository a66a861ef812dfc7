"""申报书 pages: new inside an open call, save without checks, submit with checks, quota, window,
调整项目批次, attachments, 推荐排序, 审批意见 export, 调度填报 and the call admin."""
from __future__ import annotations

import io
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select, update

from models import Call, Declaration, ProgressReport, ProgressStatus, Status, Unit

from .test_workflow import act, decl, text

YEAR = datetime.now().year
RESEARCH = f"{YEAR}年度科研项目（第一批）"
TECH = f"{YEAR}年技术创新项目（上半年）"
CLOSED = f"{YEAR - 1}年度科研项目（第一批）"
STARTUP = f"{YEAR}年度创业资助（第一批）"
INNOVATION = "面向行业关键共性技术需求开展攻关。" * 10


def call(db_session, name) -> Call:
    return db_session.scalars(select(Call).where(Call.name == name)).one()


def full_form(call_id, name, **extra):
    form = {
        "call": str(call_id), "name": name, "leader": "陈杰", "leader_phone": "13900000014", "summary": "项目简介",
        "innovation": INNOVATION[:170], "tech_level": "", "industry_category": "", "start_month": f"{YEAR}-01-01",
        "end_month": f"{YEAR + 1}-12-01", "innovation_mode": "own", "new_tech_count": "1", "new_product_count": "0",
        "new_process_count": "0", "new_tech_desc": "新技术",
    }
    form.update(extra)
    return form


def dict_id(db_session, category):
    from models import DictItem

    return str(db_session.scalars(select(DictItem.id).where(DictItem.category == category)).first())


def create(client, db_session, call_name, name, **extra):
    c = call(db_session, call_name)
    form = full_form(c.id, name, tech_level=dict_id(db_session, "tech_level"), industry_category=dict_id(db_session, "industry_category"), **extra)
    response = client.post_form("/admin/declaration/new/", form)
    assert response.status_code == 302, text(response)[-3000:]
    return decl(db_session, name)


def test_new_declaration_saves_without_full_validation_then_submit_checks(client_as, db_session):
    zhang = client_as("applicant_zhang")
    page = text(zhang.get("/admin/declaration/new/"))
    assert "基本情况" in page and "项目成员" in page and "经费预算" in page and RESEARCH in page
    assert CLOSED not in page  # only open calls are offered
    c = call(db_session, RESEARCH)
    saved = zhang.post_form("/admin/declaration/new/", {"call": str(c.id), "name": "只写了名称的草稿", "members-0-name": "张伟",
                                                         "budget_items-0-subject": "设备费", "budget_items-0-amount": "12.5"})
    assert saved.status_code == 302, text(saved)[-2000:]
    d = decl(db_session, "只写了名称的草稿")
    assert d.status == Status.draft and d.unit_id and d.secondary_unit_id and d.year == c.year
    assert [m.name for m in d.members] == ["张伟"] and float(d.budget_items[0].amount) == 12.5
    page = text(act(zhang, "submit", [d.id], reason=""))
    assert "申报书未填写完整" in page and "项目负责人未填写" in page and "项目创新内容及技术指标未填写" in page
    assert decl(db_session, d.name).status == Status.draft and decl(db_session, d.name).number is None


def test_length_rules_are_checked_at_save_and_at_submission(client_as, db_session):
    """Too long is refused at the field when saving (nothing saved); too short only at 提交, since a
    draft may be unfinished."""
    zhang = client_as("applicant_zhang")
    c = call(db_session, RESEARCH)
    form = full_form(c.id, "字数超出的申报书", tech_level=dict_id(db_session, "tech_level"),
                     industry_category=dict_id(db_session, "industry_category"), summary="长" * 101)
    refused = zhang.post_form("/admin/declaration/new/", form)
    assert refused.status_code == 200 and "项目简介不超过100字（现为 101 字）" in text(refused)
    assert db_session.scalar(select(func.count()).select_from(Declaration).where(Declaration.name == "字数超出的申报书")) == 0
    d = create(zhang, db_session, RESEARCH, "字数不足的申报书", innovation="太短")
    page = text(act(zhang, "submit", [d.id], reason=""))
    assert "150-200字以内（现为2字）" in page
    assert decl(db_session, d.name).status == Status.draft


def test_new_into_a_closed_call_is_refused(client_as, db_session):
    zhang = client_as("applicant_zhang")
    closed = call(db_session, CLOSED)
    response = zhang.post_form("/admin/declaration/new/", full_form(closed.id, "过期批次的申报书"))
    assert response.status_code == 200  # the form again, with the error
    assert db_session.scalar(select(func.count()).select_from(Declaration).where(Declaration.name == "过期批次的申报书")) == 0


def test_submit_outside_the_window_is_refused(client_as, db_session):
    zhang = client_as("applicant_zhang")
    d = create(zhang, db_session, RESEARCH, "窗口关闭后提交")
    c = call(db_session, RESEARCH)
    c.closes_at = datetime.now() - timedelta(hours=1)
    c.opens_at = datetime.now() - timedelta(days=10)
    db_session.commit()
    page = text(act(zhang, "submit", [d.id], reason=""))
    assert "不在申报期内" in page
    assert decl(db_session, d.name).status == Status.draft


def test_quota_by_last_years_revenue(client_as, db_session):
    ent = client_as("applicant_ent")  # revenue 25000万 → 2 per call; one already in 单位审核
    first = decl(db_session, "工业设备预测性维护平台")
    assert "已提交 1 条" in text(act(ent, "submit", [first.id], reason=""))
    extra = create(ent, db_session, TECH, "第三个技术创新项目")
    page = text(act(ent, "submit", [extra.id], reason=""))
    assert "超出本批次申报限额" in page and "25000万元" in page and "最多申报 2 项" in page and "已申报 2 项" in page
    assert "2000万以下1项" in page
    assert decl(db_session, extra.name).status == Status.draft


def test_quota_reads_the_approved_annual_report_before_the_kept_revenue(client_as, db_session):
    """单位营业收入 says 25000万 (2 per call); the enterprise's approved 年报 says 1500万 (1 per call)."""
    from models import AnnualReport, Enterprise, ReportStatus

    unit = db_session.scalars(select(Unit).where(Unit.name == "重庆渝北智联科技有限公司")).one()
    ent = db_session.scalars(select(Enterprise).where(Enterprise.unit_id == unit.id)).one()
    report = db_session.scalars(select(AnnualReport).where(AnnualReport.enterprise_id == ent.id, AnnualReport.year == YEAR - 1)).first()
    if report is None:
        report = AnnualReport(enterprise_id=ent.id, year=YEAR - 1)
        db_session.add(report)
        db_session.flush()
    # the test's world, set as data (a status changes only through the engine in the application)
    put = lambda status: db_session.execute(update(AnnualReport.__table__).where(AnnualReport.__table__.c.id == report.id)  # noqa: E731
                                            .values(revenue=1500, status=status))
    put(ReportStatus.city_review)  # not approved yet: the kept figure counts
    db_session.commit()
    applicant = client_as("applicant_ent")
    first = decl(db_session, "工业设备预测性维护平台")
    assert "已提交 1 条" in text(act(applicant, "submit", [first.id], reason=""))
    act(applicant, "withdraw", [first.id], reason="")

    put(ReportStatus.approved)
    db_session.commit()
    page = text(act(applicant, "submit", [first.id], reason=""))
    assert f"1500万元（{YEAR - 1}年度科技信息年报）" in page and "最多申报 1 项" in page and "已申报 1 项" in page
    db_session.expire_all()
    assert decl(db_session, first.name).status == Status.draft


def test_quota_rule_is_editable_on_the_call(client_as, db_session):
    ent = client_as("applicant_ent")
    c = call(db_session, TECH)
    c.quota_rule = [[0, 1]]
    db_session.commit()
    page = text(act(ent, "submit", [decl(db_session, "工业设备预测性维护平台").id], reason=""))
    assert "最多申报 1 项" in page and "已申报 1 项" in page


def test_quota_unknown_revenue_counts_as_zero(db_session):
    from rules import quotas

    rule = [[0, 1], [2000, 2], [40000, 5], [100000, 10]]
    assert [quotas.limit_for(rule, r) for r in (None, 1999, 2000, 39999, 40000, 100000, 500000)] == [1, 1, 2, 2, 5, 10, 10]
    assert "未填报（按 0 计）" in quotas.refusal(rule, None, 2025, 1)
    assert quotas.refusal(None, None, 2025, 99) is None
    with pytest.raises(ValueError):
        quotas.normalize([[100, 1]])


def test_move_to_another_open_call_of_the_same_type(client_as, db_session):
    zhang = client_as("applicant_zhang")
    d = decl(db_session, "基于大模型的软件缺陷智能检测方法研究")
    research = call(db_session, RESEARCH)
    other = Call(name=f"{YEAR}年度科研项目（第二批）", type=research.type, year=YEAR, batch="第二批", batch_code="02",
                 opens_at=research.opens_at, closes_at=research.closes_at, review_chain=research.review_chain)
    db_session.add(other)
    db_session.commit()
    page = text(zhang.get(f"/admin/declaration/move/{d.id}/"))
    assert other.name in page and TECH not in page
    wrong = zhang.post_form(f"/admin/declaration/move/{d.id}/", {"call_id": str(call(db_session, TECH).id)})
    assert wrong.status_code == 400 and "同类批次" in text(wrong)
    zhang.post_form(f"/admin/declaration/move/{d.id}/", {"call_id": str(other.id)})
    assert decl(db_session, d.name).call_id == other.id
    submitted = decl(db_session, "面向微服务架构的智能运维关键技术研究")
    refused = zhang.post_form(f"/admin/declaration/move/{submitted.id}/", {"call_id": str(other.id)}, follow_redirects=True)
    assert "只有未提交或退回中" in text(refused)


def test_attachments_type_and_size(client_as, db_session, app, tmp_path):
    app.config["UPLOAD_DIR"] = str(tmp_path)
    zhang = client_as("applicant_zhang")
    d = decl(db_session, "基于大模型的软件缺陷智能检测方法研究")
    url = f"/admin/declaration/attachments/{d.id}/"
    bad = zhang.post_form(url, {"kind": "proof", "file": (io.BytesIO(b"MZ"), "virus.exe")}, follow_redirects=True)
    assert "只能上传 pdf、doc、docx、jpg、png" in text(bad)
    big = zhang.post_form(url, {"kind": "proof", "file": (io.BytesIO(b"x" * (10 * 1024 * 1024 + 1)), "big.pdf")}, follow_redirects=True)
    assert "不能超过 10 MB" in text(big)
    ok = zhang.post_form(url, {"kind": "body", "file": (io.BytesIO(b"%PDF-1.4 demo"), "申报书.pdf")}, follow_redirects=True)
    assert "已上传附件" in text(ok)
    d = decl(db_session, d.name)
    assert [a.filename for a in d.attachments] == ["申报书.pdf"]
    assert (tmp_path / d.attachments[0].stored_name).read_bytes() == b"%PDF-1.4 demo"
    download = zhang.get(f"/admin/declaration/attachment/{d.attachments[0].id}/")
    assert download.status_code == 200 and download.data == b"%PDF-1.4 demo"
    assert client_as("applicant_li").get(f"/admin/declaration/attachment/{d.attachments[0].id}/").status_code == 404


def test_preview_is_a_print_page(client_as, db_session):
    d = decl(db_session, "低代码平台生成代码质量评估研究")
    page = text(client_as("applicant_zhang").get(f"/admin/declaration/preview/{d.id}/"))
    assert "window.print()" in page and "项目创新内容及技术指标" in page and d.number in page


# -- 推荐排序 ------------------------------------------------------------------------------------
def ranks(db_session, call_name):
    db_session.expire_all()
    c = call(db_session, call_name)
    rows = db_session.execute(
        select(Declaration.name, Declaration.unit_rank).where(Declaration.call_id == c.id, Declaration.unit_rank.is_not(None),
                                                              Declaration.unit_id == select(Unit.id).where(Unit.name == "重庆大学").scalar_subquery())
        .order_by(Declaration.unit_rank)
    ).all()
    return [tuple(r) for r in rows]


def rank(client, d, position):
    return client.post_form("/admin/declaration/action/", {"action": "rank", "rowid": str(d.id), "position": str(position)}, follow_redirects=True)


def test_ranking_renumbers_without_gaps(client_as, db_session):
    unit = client_as("unit_cqu")
    before = ranks(db_session, RESEARCH)
    assert [r for _, r in before] == [1, 2, 3, 4]
    last = decl(db_session, before[-1][0])
    page = text(rank(unit, last, 1))
    assert "排在第 1 位" in page
    after = ranks(db_session, RESEARCH)
    assert after[0][0] == last.name and [r for _, r in after] == [1, 2, 3, 4]
    assert [n for n, _ in after[1:]] == [n for n, _ in before[:-1]]
    page = text(unit.get(f"/admin/declaration/ranking/{last.call_id}/"))
    assert last.name in page and 'name="position"' in page


def test_ranking_refusals(client_as, db_session):
    unit = client_as("unit_cqu")
    first = decl(db_session, ranks(db_session, RESEARCH)[0][0])
    assert "序号应为 1 到 4 之间的整数" in text(rank(unit, first, 5))
    waiting = decl(db_session, "山地城市桥梁健康监测关键技术")  # still at 单位审核
    assert "只能对本级审核通过的申报书排序" in text(rank(unit, waiting, 1))
    old = decl(db_session, "软件自动化测试关键技术研究")  # the closed call's ranking is over
    assert "推荐排序已于" in text(rank(unit, old, 2))
    assert client_as("dept_cqu_se").post_form("/admin/declaration/action/", {"action": "rank", "rowid": str(first.id), "position": "1"}).status_code == 404
    assert [r for _, r in ranks(db_session, RESEARCH)] == [1, 2, 3, 4]


def test_returning_a_ranked_row_closes_the_gap(client_as, db_session):
    before = ranks(db_session, RESEARCH)
    second = decl(db_session, before[1][0])
    act(client_as("authority_jw" if second.status == Status.authority_review else "bureau"), "return", [second.id], reason="材料不全")
    after = ranks(db_session, RESEARCH)
    assert [n for n, _ in after] == [n for i, (n, _) in enumerate(before) if i != 1]
    assert [r for _, r in after] == [1, 2, 3]


def test_authority_ranks_in_its_area(client_as, db_session):
    yb = client_as("authority_yb")
    c = call(db_session, f"{YEAR - 1}年技术创新项目（下半年）")
    c.ranking_deadline = datetime.now() + timedelta(days=1)
    db_session.commit()
    rows = db_session.scalars(select(Declaration).where(Declaration.call_id == c.id).order_by(Declaration.authority_rank)).all()
    rank(yb, rows[-1], 1)
    db_session.expire_all()
    got = db_session.scalars(select(Declaration).where(Declaration.call_id == c.id).order_by(Declaration.authority_rank)).all()
    assert [d.name for d in got] == [rows[-1].name] + [d.name for d in rows[:-1]]
    assert [d.authority_rank for d in got] == [1, 2, 3]


# -- lists, filters, 审批意见 export --------------------------------------------------------------
def test_review_list_filters_and_search(client_as, db_session):
    unit = client_as("unit_cqu")
    page = text(unit.get("/admin/declaration/?flt0_0=unit_review"))
    assert "山地城市桥梁健康监测关键技术" in page and "智能网联汽车软件测试技术研究" not in page
    assert "基于大模型的软件缺陷智能检测方法研究" not in text(unit.get("/admin/declaration/"))  # drafts stay private
    page = text(unit.get(f"/admin/declaration/?flt0_1={YEAR - 1}"))
    assert "软件自动化测试关键技术研究" in page and "山地城市桥梁" not in page
    page = text(unit.get("/admin/declaration/?search=隧道"))
    assert "复杂地质隧道智能建造技术研究" in page and "山地城市" not in page
    page = text(unit.get("/admin/declaration/?flt0_3=startup"))
    assert "留学人员科技成果转化项目" in page and "山地城市" not in page


def test_review_records_export(client_as, db_session):
    d = decl(db_session, "软件定义制造系统关键技术研究")
    response = client_as("bureau").get(f"/admin/review_record/export/xlsx/?flt0_0={d.id}")
    assert response.status_code == 200 and response.data[:2] == b"PK"
    from openpyxl import load_workbook

    sheet = load_workbook(io.BytesIO(response.data)).active
    assert sheet.max_row == 1 + 4


def test_home_shows_work_for_every_reviewer(client_as):
    import re

    expect = {"dept_cqu_se": "待部门审核", "unit_cqu": "待单位审核", "authority_yb": "待主管部门审核", "bureau": "待科技局审核",
              "unit_ent": "待单位审核", "applicant_zhang": "退回待修改", "authority_jw": "待主管部门审核"}
    for username, label in expect.items():
        page = text(client_as(username).get("/admin/"))
        counts = dict(re.findall(r'data-todo="([^"]+)">(\d+)', page))
        assert any(k.startswith(label) and int(v) > 0 for k, v in counts.items()), (username, counts)


# -- 调度填报 -------------------------------------------------------------------------------------
def test_progress_report_filed_submitted_and_reviewed(client_as, db_session):
    ent = client_as("applicant_ent")
    project = decl(db_session, "工业互联网标识解析平台")
    new = ent.post_form("/admin/progress_report/new/", {"declaration": str(project.id), "period": f"{YEAR}年第三季度", "percent": "70", "content": "进展顺利"})
    assert new.status_code == 302, text(new)[-2000:]
    report = db_session.scalars(select(ProgressReport).where(ProgressReport.period == f"{YEAR}年第三季度")).one()
    assert "已上报至县区 1 条" in text(act_report(ent, "submit", [report.id]))
    yb = client_as("authority_yb")
    assert act_report(yb, "return", [report.id], follow=False).status_code == 200  # asks for the reason
    assert "已退回 1 条" in text(act_report(yb, "return", [report.id], reason="投资数据缺失"))
    db_session.expire_all()
    assert db_session.get(ProgressReport, report.id).status == ProgressStatus.returned
    act_report(ent, "submit", [report.id])
    assert "已审核通过 1 条" in text(act_report(yb, "approve", [report.id], reason=""))
    db_session.expire_all()
    assert db_session.get(ProgressReport, report.id).status == ProgressStatus.approved
    assert act_report(client_as("unit_ent"), "approve", [report.id], follow=False).status_code == 404
    assert "记录不存在或不在您的数据范围内" in text(act_report(client_as("authority_jb"), "approve", [report.id]))


def test_progress_report_outside_the_window_is_refused(client_as, db_session):
    ent = client_as("applicant_ent")
    project = decl(db_session, "工业互联网标识解析平台")
    project.call.report_closes_at = datetime.now() - timedelta(days=1)
    db_session.commit()
    draft = db_session.scalars(select(ProgressReport).where(ProgressReport.declaration_id == project.id, ProgressReport.status == ProgressStatus.draft)).one()
    assert "不在调度填报期内" in text(act_report(ent, "submit", [draft.id]))
    db_session.expire_all()
    assert db_session.get(ProgressReport, draft.id).status == ProgressStatus.draft


def act_report(client, action, ids, follow=True, **fields):
    return client.post_form("/admin/progress_report/action/", {"action": action, "rowid": [str(i) for i in ids], **fields}, follow_redirects=follow)


# -- the call admin -------------------------------------------------------------------------------
def test_bureau_configures_a_call_and_bad_chains_are_refused(client_as, db_session):
    bureau = client_as("bureau")
    # the call designer (tests/test_call_designer.py): the levels are ticks, kept in their fixed order
    form = {"name": "测试批次", "type": "innovation_fund", "year": str(YEAR), "batch": "第一批", "batch_code": "01",
            "opens_at": f"{YEAR}-01-01 00:00:00", "closes_at": f"{YEAR}-12-31 00:00:00", "authority_label": "区县审核",
            "review_chain": ["bureau", "boss"], "quota_rule": "none", "required_fields": ["name"]}
    bad = bureau.post_form("/admin/call/new/", form)
    assert bad.status_code == 200 and "审核环节不正确" in text(bad)
    form["review_chain"] = ["bureau", "unit"]
    good = bureau.post_form("/admin/call/new/", form)
    assert good.status_code == 302, text(good)[-2000:]
    assert call(db_session, "测试批次").review_chain == ["unit", "bureau"]
    assert client_as("unit_cqu").post_form("/admin/call/new/", {**form, "name": "越权批次"}).status_code in (302, 403, 404)
    assert db_session.scalar(select(func.count()).select_from(Call).where(Call.name == "越权批次")) == 0


def test_unit_revenue_is_scoped(client_as):
    assert "智联科技" not in text(client_as("unit_cqu").get("/admin/unit_revenue/"))
    assert "重庆渝北智联科技有限公司" in text(client_as("authority_yb").get("/admin/unit_revenue/"))


def test_only_never_submitted_drafts_can_be_deleted(client_as, db_session):
    zhang = client_as("applicant_zhang")
    returned = decl(db_session, "低代码平台生成代码质量评估研究")
    page = zhang.post_form("/admin/declaration/delete/", {"id": str(returned.id)}, follow_redirects=True)
    assert "只能删除从未提交过的申报书" in text(page)
    assert decl(db_session, returned.name).id == returned.id
    draft = decl(db_session, "基于大模型的软件缺陷智能检测方法研究")
    zhang.post_form("/admin/declaration/delete/", {"id": str(draft.id)})
    assert db_session.scalar(select(func.count()).select_from(Declaration).where(Declaration.id == draft.id)) == 0
    other = decl(db_session, "新型储能材料界面机理研究")  # applicant_li's draft
    assert zhang.post_form("/admin/declaration/delete/", {"id": str(other.id)}).status_code == 404


ENDPOINTS = ("declaration", "call", "review_record", "progress_report", "unit_revenue")


@pytest.mark.parametrize("username", ["sysadmin", "bureau", "authority_yb", "authority_jw", "unit_cqu", "dept_cqu_se",
                                      "applicant_zhang", "applicant_li", "unit_ent", "applicant_ent"])
def test_every_page_for_every_role_is_200_or_404_and_scoped(client_as, db_session, username):
    client = client_as(username)
    for endpoint in ENDPOINTS:
        for suffix in ("", "?search=研究", "?flt0_0=abc", "?page=3", "export/xlsx/"):
            response = client.get(f"/admin/{endpoint}/{suffix}")
            assert response.status_code in (200, 404), (endpoint, suffix, response.status_code)
    listed = text(client.get("/admin/declaration/?page_size=100"))
    others = {"applicant_li": "面向微服务架构", "unit_ent": "山地城市桥梁", "authority_yb": "山地城市桥梁",
              "dept_cqu_se": "图神经网络", "unit_cqu": "智能仓储机器人", "applicant_ent": "精密减速器"}
    if username in others:
        assert others[username] not in listed


def test_row_estimate_for_large_unfiltered_lists(client_as, db_session):
    from sqlalchemy import text

    from admin_views.base import table_row_estimate

    exact = db_session.scalar(select(func.count()).select_from(Declaration))
    assert table_row_estimate(db_session, "declaration") is None  # small table: count exactly
    db_session.execute(text("ANALYZE"))
    db_session.commit()
    assert table_row_estimate(db_session, "declaration", at_least=0) == exact
    assert client_as("bureau").get("/admin/declaration/").status_code == 200


def test_list_offers_edit_and_delete_only_where_they_would_be_accepted(client_as, db_session):
    page = text(client_as("applicant_ent").get("/admin/declaration/"))
    draft, waiting = decl(db_session, "工业设备预测性维护平台"), decl(db_session, "智能仓储机器人调度系统")
    assert ">新增<" in page and ">创建<" not in page
    assert f"/admin/declaration/edit/?id={draft.id}" in page and f"/admin/declaration/details/?id={draft.id}" in page
    assert f"/admin/declaration/edit/?id={waiting.id}" not in page and f"/admin/declaration/details/?id={waiting.id}" in page
    assert page.count('action="/admin/declaration/delete/"') == 1  # only the never-submitted draft
