"""Enterprise basic-info review and the annual report: fill, submit, district review, city review."""
from __future__ import annotations

import io
import re
import threading

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from models import (
    AnnualReport,
    AuditLog,
    Enterprise,
    EnterpriseReview,
    EnterpriseStatus,
    Region,
    ReportStatus,
    StorageStatus,
    Unit,
)
from tests.form_helpers import errors_at


def enterprise(session, name) -> Enterprise:
    return session.scalar(select(Enterprise).where(Enterprise.name == name))


def own_report(session, name="重庆渝北智联科技有限公司", year=2022) -> AnnualReport:
    e = enterprise(session, name)
    return session.scalar(select(AnnualReport).where(AnnualReport.enterprise_id == e.id, AnnualReport.year == year))


def sheet(response):
    wb = load_workbook(io.BytesIO(response.data), read_only=True)
    return [list(r) for r in wb.active.iter_rows(values_only=True)]


def test_demo_units_are_enterprises(db_session):
    for name in ("重庆渝北智联科技有限公司", "重庆江北数据服务有限公司", "重庆两江精密制造有限公司"):
        e = enterprise(db_session, name)
        unit = db_session.scalar(select(Unit).where(Unit.name == name))
        assert e.unit_id == unit.id and e.uscc == unit.uscc and e.region_id == unit.region_id
    districts = db_session.scalar(select(func.count(func.distinct(Enterprise.region_id))))
    assert districts == 38
    years = set(db_session.scalars(select(AnnualReport.year).distinct()))
    assert years == {2020, 2021, 2022}


# -- 基本信息审核 ---------------------------------------------------------------------------------
def test_district_review_list_shows_only_its_pending_enterprises(client_as, db_session):
    yb = db_session.scalar(select(Region.id).where(Region.name == "渝北区"))
    expected = db_session.scalar(select(func.count()).select_from(Enterprise).where(
        Enterprise.region_id == yb, Enterprise.review_status == EnterpriseStatus.pending))
    page = client_as("authority_yb").get("/admin/enterprise_review/?page_size=100").get_data(as_text=True)
    assert "重庆两江精密制造有限公司" in page
    assert len(re.findall(r'name="rowid" class="action-checkbox" value="\d+"', page)) == expected
    # fuzzy search by credit code
    e = enterprise(db_session, "重庆两江精密制造有限公司")
    found = client_as("authority_yb").get(f"/admin/enterprise_review/?search={e.uscc[3:12]}").get_data(as_text=True)
    assert "重庆两江精密制造有限公司" in found


def test_approve_with_opinion_writes_review_record_and_audit(client_as, db_session):
    e = enterprise(db_session, "重庆两江精密制造有限公司")
    response = client_as("authority_yb").action("enterprise_review", "approve", [e.id], reason="资料齐全，同意入库")
    assert response.status_code == 302
    db_session.expire_all()
    e = enterprise(db_session, "重庆两江精密制造有限公司")
    assert e.review_status == EnterpriseStatus.approved and e.storage_status == StorageStatus.stored and e.stored_on
    assert e.review_opinion == "资料齐全，同意入库"
    record = db_session.scalar(select(EnterpriseReview).where(EnterpriseReview.target == "enterprise", EnterpriseReview.target_id == e.id))
    assert record.opinion == "资料齐全，同意入库" and record.to_status == "approved" and record.username == "authority_yb"
    assert db_session.scalar(select(func.count()).select_from(AuditLog).where(AuditLog.table_name == "enterprise", AuditLog.row_id == str(e.id))) >= 1
    details = client_as("authority_yb").get(f"/admin/enterprise/details/?id={e.id}").get_data(as_text=True)
    assert "审批意见" in details and "资料齐全，同意入库" in details
    # a second approval of the same row is refused, never a 500
    again = client_as("authority_yb").action("enterprise", "approve", [e.id], reason="")
    assert again.status_code == 302
    assert db_session.scalar(select(func.count()).select_from(EnterpriseReview).where(EnterpriseReview.target_id == e.id, EnterpriseReview.target == "enterprise")) == 1


def test_reject_requires_an_opinion(client_as, db_session):
    e = enterprise(db_session, "重庆两江精密制造有限公司")
    page = client_as("authority_yb").action("enterprise_review", "reject", [e.id], reason="  ")
    assert page.status_code == 400 and "请填写" in page.get_data(as_text=True)
    db_session.expire_all()
    assert enterprise(db_session, "重庆两江精密制造有限公司").review_status == EnterpriseStatus.pending
    client_as("authority_yb").action("enterprise_review", "reject", [e.id], reason="营业执照不清晰")
    db_session.expire_all()
    e = enterprise(db_session, "重庆两江精密制造有限公司")
    assert e.review_status == EnterpriseStatus.rejected and e.review_opinion == "营业执照不清晰"


def test_other_district_and_enterprise_users_cannot_review(client_as, db_session):
    e = enterprise(db_session, "重庆两江精密制造有限公司")
    assert client_as("authority_jb").get(f"/admin/enterprise/details/?id={e.id}").status_code == 404
    client_as("authority_jb").action("enterprise", "approve", [e.id], reason="x")
    assert "记录不存在或不在您的数据范围内" in client_as("authority_jb").get("/admin/enterprise/").get_data(as_text=True)
    assert client_as("unit_ent").action("enterprise", "approve", [e.id], reason="x").status_code == 404
    assert client_as("unit_cqu").get("/admin/enterprise_review/").status_code == 404
    db_session.expire_all()
    assert enterprise(db_session, "重庆两江精密制造有限公司").review_status == EnterpriseStatus.pending


def test_enterprise_list_filters_and_scoped_export(client_as, db_session):
    yb = db_session.scalar(select(Region.id).where(Region.name == "渝北区"))
    stored = db_session.scalar(select(func.count()).select_from(Enterprise).where(
        Enterprise.region_id == yb, Enterprise.storage_status == StorageStatus.stored))
    client = client_as("authority_yb")
    page = client.get("/admin/enterprise/").get_data(as_text=True)
    flt = re.search(r'data-field="flt(\d)_?[^"]*"[^>]*>\s*入库状态', page)
    rows = sheet(client.get("/admin/enterprise/export/xlsx/"))
    assert len(rows) - 1 == db_session.scalar(select(func.count()).select_from(Enterprise).where(Enterprise.region_id == yb))
    assert {r[2] for r in rows[1:]} == {"渝北区"}
    # filter 入库状态 = 已入库 (second filter of the view) through the export too
    filtered = sheet(client.get("/admin/enterprise/export/xlsx/?flt1_1=stored"))
    assert len(filtered) - 1 == stored
    city = sheet(client_as("bureau").get("/admin/enterprise/export/xlsx/"))
    assert len(city) - 1 == db_session.scalar(select(func.count()).select_from(Enterprise))


def test_enterprise_user_sees_only_its_enterprise(client_as, db_session):
    rows = sheet(client_as("unit_ent").get("/admin/enterprise/export/xlsx/"))
    assert [r[0] for r in rows[1:]] == ["重庆渝北智联科技有限公司"]
    other = enterprise(db_session, "重庆江北数据服务有限公司")
    assert client_as("applicant_ent").get(f"/admin/enterprise/details/?id={other.id}").status_code == 404


# -- 科技信息年报 -----------------------------------------------------------------------------------
REPORT_FORM = {
    "filler_name": "陈杰", "filler_mobile": "13900000014", "innovation_score": "78", "revenue": "4800", "main_revenue": "4500",
    "net_profit": "300", "tax_paid": "120", "total_assets": "6000", "export_income": "0", "rd_expense": "260",
    "rd_domestic": "200", "invention_patents": "3", "utility_patents": "5", "software_copyrights": "4", "other_ip": "0",
    "new_products": "2", "tech_contracts": "1", "standards_led": "0", "standards_joined": "1", "standards_note": "",
    "staff": "120", "tech_staff": "30", "rd_staff": "20", "doctors": "1", "masters": "6", "platforms_national": "0",
    "platforms_city": "1", "platform_names": "重庆市智能网联工程技术研究中心", "listing_status": "none", "listing_board": "",
    "hitech_cert_year": "", "hitech_cert_no": "", "hitech_products": "2", "hitech_income": "3200", "hitech_product_names": "",
}


def edit_report(client, report, **changes):
    data = {**REPORT_FORM, "enterprise": str(report.enterprise_id), "year": str(report.year), **changes}
    return client.post_form(f"/admin/annual_report/edit/?id={report.id}", data)


def test_full_report_journey_two_levels(client_as, db_session):
    report = own_report(db_session)
    assert report.status == ReportStatus.draft
    assert edit_report(client_as("applicant_ent"), report).status_code == 302
    db_session.expire_all()
    report = own_report(db_session)
    assert report.staff == 120 and report.tech_staff == 30 and report.platform_names == "重庆市智能网联工程技术研究中心"

    client_as("applicant_ent").action("annual_report", "submit", [report.id])
    db_session.expire_all()
    assert own_report(db_session).status == ReportStatus.district_review
    # the enterprise can no longer edit it
    locked = client_as("applicant_ent").get(f"/admin/annual_report/edit/?id={report.id}")
    assert locked.status_code == 302
    # the city cannot skip the district: skipped with a reason, no 500
    assert client_as("bureau").action("annual_report", "approve", [report.id], reason="同意").status_code == 302
    db_session.expire_all()
    assert own_report(db_session).status == ReportStatus.district_review

    client_as("authority_yb").action("annual_report_review", "approve", [report.id], reason="区县审核同意")
    db_session.expire_all()
    assert own_report(db_session).status == ReportStatus.city_review
    client_as("bureau").action("annual_report_review", "approve", [report.id], reason="市局审核同意")
    db_session.expire_all()
    report = own_report(db_session)
    assert report.status == ReportStatus.approved
    assert report.district_opinion == "区县审核同意" and report.city_opinion == "市局审核同意"
    levels = [r.level for r in db_session.scalars(select(EnterpriseReview).where(
        EnterpriseReview.target == "annual_report", EnterpriseReview.target_id == report.id).order_by(EnterpriseReview.id))]
    assert levels == ["企业提交", "区县审核", "市局审核"]
    details = client_as("applicant_ent").get(f"/admin/annual_report/details/?id={report.id}").get_data(as_text=True)
    for tab in ("基本信息", "经营概况", "科技成果", "主导或参与标准制定", "人员状况", "研发平台", "挂牌上市", "高企认定情况", "高新技术产品"):
        assert tab in details
    assert "区县审核同意" in details and "市局审核同意" in details


def test_rejected_report_goes_back_and_can_be_resubmitted(client_as, db_session):
    report = own_report(db_session)
    edit_report(client_as("unit_ent"), report)
    client_as("unit_ent").action("annual_report", "submit", [report.id])
    client_as("authority_yb").action("annual_report", "reject", [report.id], reason="研发费用缺少佐证材料")
    db_session.expire_all()
    report = own_report(db_session)
    assert report.status == ReportStatus.district_rejected and report.district_opinion == "研发费用缺少佐证材料"
    assert edit_report(client_as("unit_ent"), report, rd_expense="280").status_code == 302
    client_as("unit_ent").action("annual_report", "submit", [report.id])
    db_session.expire_all()
    assert own_report(db_session).status == ReportStatus.district_review


def test_bad_report_input_keeps_what_was_typed_and_saves_nothing(client_as, db_session):
    report = own_report(db_session)
    page = edit_report(client_as("applicant_ent"), report, staff="-5", filler_name="王五")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "不能为负数" in text and 'value="王五"' in text
    page = edit_report(client_as("applicant_ent"), report, tech_staff="500")
    assert errors_at(page.get_data(as_text=True), "tech_staff") == ["科技人员不能多于从业人员"]  # at the field
    db_session.expire_all()
    assert own_report(db_session).staff is None or own_report(db_session).staff != -5
    assert own_report(db_session).filler_name != "王五"


def test_submit_incomplete_report_is_refused(client_as, db_session):
    report = own_report(db_session)
    db_session.execute(AnnualReport.__table__.update().where(AnnualReport.id == report.id).values(revenue=None))
    db_session.commit()
    db_session.expire_all()
    client_as("applicant_ent").action("annual_report", "submit", [report.id])
    db_session.expire_all()
    assert own_report(db_session).status == ReportStatus.draft


def test_enterprise_creates_a_report_only_for_itself(client_as, db_session):
    own = enterprise(db_session, "重庆渝北智联科技有限公司")
    other = enterprise(db_session, "重庆江北数据服务有限公司")
    client = client_as("applicant_ent")
    ok = client.post_form("/admin/annual_report/new/", {**REPORT_FORM, "enterprise": str(own.id), "year": "2023"})
    assert ok.status_code == 302
    assert db_session.scalar(select(func.count()).select_from(AnnualReport).where(AnnualReport.enterprise_id == own.id, AnnualReport.year == 2023)) == 1
    bad = client.post_form("/admin/annual_report/new/", {**REPORT_FORM, "enterprise": str(other.id), "year": "2023"})
    assert bad.status_code == 200
    assert db_session.scalar(select(func.count()).select_from(AnnualReport).where(AnnualReport.enterprise_id == other.id, AnnualReport.year == 2023)) == 0
    dup = client.post_form("/admin/annual_report/new/", {**REPORT_FORM, "enterprise": str(own.id), "year": "2023"})
    assert "已存在" in dup.get_data(as_text=True)


def test_district_sees_only_its_reports(client_as, db_session):
    yb = db_session.scalar(select(Region.id).where(Region.name == "渝北区"))
    rows = sheet(client_as("authority_yb").get("/admin/annual_report/export/xlsx/"))
    expected = db_session.scalar(select(func.count()).select_from(AnnualReport).join(Enterprise).where(Enterprise.region_id == yb))
    assert len(rows) - 1 == expected and {r[2] for r in rows[1:]} == {"渝北区"}
    jb_report = own_report(db_session, "重庆江北数据服务有限公司", 2021)
    assert client_as("authority_yb").get(f"/admin/annual_report/details/?id={jb_report.id}").status_code == 404
    client_as("authority_yb").action("annual_report", "approve", [jb_report.id], reason="x")
    assert "记录不存在或不在您的数据范围内" in client_as("authority_yb").get("/admin/annual_report/").get_data(as_text=True)
    db_session.expire_all()
    assert own_report(db_session, "重庆江北数据服务有限公司", 2021).status == jb_report.status


@pytest.mark.postgres_only
def test_concurrent_reviews_only_one_wins(app, db_session):
    """Two district reviewers act at once on the same report: exactly one transition happens."""
    from extensions import db
    from rules import enterprise_review as review
    from rules import transitions
    from rules.scope import Principal
    from models import User
    from sqlalchemy.orm import Session

    if db.engine.dialect.name != "postgresql":
        pytest.skip("needs PostgreSQL")
    report = db_session.scalar(select(AnnualReport).join(Enterprise).join(Region, Region.id == Enterprise.region_id).where(
        Region.name == "渝北区", AnnualReport.status == ReportStatus.district_review).limit(1))
    p = Principal.of(db_session.scalar(select(User).where(User.username == "authority_yb")))
    results = []
    barrier = threading.Barrier(2)
    engine = db.engine

    def worker(action):
        with Session(engine) as s:
            barrier.wait()
            try:
                transitions.apply_one(s, p, review.ANNUAL_REPORT, report.id, action, "并发")
                s.commit()
                results.append(action)
            except transitions.Refused:
                s.rollback()

    threads = [threading.Thread(target=worker, args=(a,)) for a in ("approve", "reject")]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert len(results) == 1
    assert db_session.scalar(select(func.count()).select_from(EnterpriseReview).where(EnterpriseReview.target_id == report.id, EnterpriseReview.target == "annual_report", EnterpriseReview.opinion == "并发")) == 1


def test_report_and_rating_filters_match_direct_counts(client_as, db_session):
    from models import CreditGrade, CreditRating

    yb = db_session.scalar(select(Region.id).where(Region.name == "渝北区"))
    client = client_as("bureau")
    rows = sheet(client.get(f"/admin/annual_report/export/xlsx/?flt0_0=approved&flt1_1=2022&flt2_2={yb}"))
    expected = db_session.scalar(select(func.count()).select_from(AnnualReport).join(Enterprise).where(
        AnnualReport.status == ReportStatus.approved, AnnualReport.year == 2022, Enterprise.region_id == yb))
    assert len(rows) - 1 == expected > 0
    rows = sheet(client.get(f"/admin/credit_rating/export/xlsx/?flt0_0=A&flt1_1=2021&flt2_2={yb}"))
    expected = db_session.scalar(select(func.count()).select_from(CreditRating).join(Enterprise).where(
        CreditRating.grade == CreditGrade.a, CreditRating.year == 2021, Enterprise.region_id == yb))
    assert len(rows) - 1 == expected
    # rubbish in a filter is ignored, never a 500
    assert client.get("/admin/annual_report/?flt1_1=abc&flt2_2=x").status_code == 200
    search = client.get("/admin/credit_rating/?search=重庆渝北").status_code
    assert search == 200


def test_demo_seed_is_idempotent(db_session):
    from models import CreditRating, InnovationVoucher
    from seed.demo import seed_demo

    models = (Enterprise, AnnualReport, CreditRating, InnovationVoucher)
    before = [db_session.scalar(select(func.count()).select_from(m)) for m in models]
    seed_demo(db_session, password_hash="unused")
    db_session.flush()
    assert [db_session.scalar(select(func.count()).select_from(m)) for m in models] == before
