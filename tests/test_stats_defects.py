"""Issue 14 defects of the statistics pages (seed 001 §4.2–§5.5), each against plain SQL on the demo data:
自定义查询 with 年份 = 全部, the zones of 全市概况图, 待审核 of 培育进度 by month, the 申领企业数 合计,
the period in every export's title, and odd filter values."""
from __future__ import annotations

import io
from datetime import date, datetime
from urllib.parse import quote

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, or_, select
from sqlalchemy.orm import aliased

from models import AnnualReport, Enterprise, EnterpriseStatus, InnovationVoucher, Region, ReportStatus, StorageStatus


def workbook(response) -> tuple[str, list[list]]:
    assert response.status_code == 200
    wb = load_workbook(io.BytesIO(response.data), read_only=True)
    return wb.sheetnames[0], [list(r) for r in wb.active.iter_rows(values_only=True)]


def region_id(session, name):
    return session.scalar(select(Region.id).where(Region.name == name))


# -- 1. 自定义查询, 年份 = 全部: each enterprise once, with its latest approved report's figures -------------
def latest_approved(session) -> dict[str, tuple]:
    """企业名称 → (year, revenue) of its latest 审核已通过 report."""
    later = aliased(AnnualReport)
    newest = (select(func.max(later.year)).where(later.enterprise_id == Enterprise.id, later.status == ReportStatus.approved)
              .scalar_subquery())
    rows = session.execute(select(Enterprise.name, AnnualReport.year, AnnualReport.revenue).join(AnnualReport, AnnualReport.enterprise_id == Enterprise.id)
                           .where(AnnualReport.status == ReportStatus.approved, AnnualReport.year == newest))
    return {name: (year, float(revenue) if revenue is not None else None) for name, year, revenue in rows}


def test_custom_query_all_years_shows_each_enterprise_latest_approved_report(client_as, db_session):
    client = client_as("bureau")
    _, rows = workbook(client.get("/admin/stats_custom/export/xlsx/?f=name&f=report_year&f=revenue&f=report_status"))
    assert rows[1] == ["企业名称", "年报年度（最近一年年报）", "营业收入(万元)（最近一年年报）", "年报审核状态（最近一年年报）"]
    body = rows[2:]
    assert len(body) == db_session.scalar(select(func.count()).select_from(Enterprise))  # one row per enterprise
    expected = latest_approved(db_session)
    assert len(expected) > 100
    for name, year, revenue, status in body:
        if name in expected:
            assert (year, revenue, status) == (*expected[name], "审核已通过"), name
        else:
            assert {year, revenue, status} <= {None, ""}, name  # no approved report: blank
    # an enterprise whose 2022 report is not approved shows its 2021 figures, on the page as in the export
    later = aliased(AnnualReport)
    e = db_session.scalar(select(Enterprise).join(AnnualReport).join(later, later.enterprise_id == Enterprise.id).where(
        AnnualReport.year == 2022, AnnualReport.status != ReportStatus.approved, later.year == 2021, later.status == ReportStatus.approved
    ).order_by(Enterprise.id).limit(1))
    assert expected[e.name][0] == 2021
    page = client.get(f"/admin/stats_custom/?f=name&f=report_year&f=revenue&search={e.uscc}").get_data(as_text=True)
    assert "<th>营业收入(万元)（最近一年年报）</th>" in page and "最近一年年报：" in page
    assert f"<td>{e.name}</td><td>2021</td>" in page.replace("\n", "")
    # a chosen year keeps its own report (of any status) and plain headers
    _, rows = workbook(client.get(f"/admin/stats_custom/export/xlsx/?f=name&f=report_year&f=report_status&year=2022&search={e.uscc}"))
    status = db_session.scalar(select(AnnualReport.status).where(AnnualReport.enterprise_id == e.id, AnnualReport.year == 2022))
    assert rows[1:] == [["企业名称", "年报年度", "年报审核状态"], [e.name, 2022, status.label]]


# -- 2. 全市概况图: a zone counts the enterprises whose 所在园区/新区 is that zone ---------------------------
def in_zone(session, *flags, stored=False, region=None):
    z = aliased(Region)
    stmt = (select(func.count()).select_from(Enterprise).join(z, z.id == Enterprise.zone_id)
            .where(or_(*[getattr(z, f).is_(True) for f in flags])))
    if stored:
        stmt = stmt.where(Enterprise.storage_status == StorageStatus.stored)
    if region:
        stmt = stmt.where(Enterprise.region_id == region)
    return session.scalar(stmt)


def test_overview_zones_count_only_their_enterprises(client_as, db_session):
    data = client_as("bureau").get("/admin/stats_overview/data/").get_json()
    flags = [("in_liangjiang",), ("in_gaoxin", "in_jingkai"), ("in_city_hitech",)]
    assert data["zone_registered"] == [in_zone(db_session, *f) for f in flags]
    assert data["zone_stored"] == [in_zone(db_session, *f, stored=True) for f in flags]
    assert data["zone_registered"][0] > 0 and data["zone_registered"][1] > 0
    yubei = region_id(db_session, "渝北区")
    mine = client_as("authority_yb").get("/admin/stats_overview/data/").get_json()
    all_yubei = db_session.scalar(select(func.count()).select_from(Enterprise).where(Enterprise.region_id == yubei))
    assert mine["registered"] == [all_yubei]  # the district counts its own
    assert 0 < mine["zone_registered"][0] == in_zone(db_session, "in_liangjiang", region=yubei) < all_yubei
    assert mine["zone_registered"][1:] == [in_zone(db_session, "in_gaoxin", "in_jingkai", region=yubei), 0]
    page = client_as("bureau").get("/admin/stats_overview/").get_data(as_text=True)
    assert "所在园区/新区" in page


# -- 3. 培育进度: 待审核企业 as of the end of the chosen month -----------------------------------------------
def pending_by(session, end: datetime, region=None):
    stmt = select(func.count()).select_from(Enterprise).where(
        Enterprise.review_status == EnterpriseStatus.pending, func.coalesce(Enterprise.submitted_at, Enterprise.created_at) < end)
    if region:
        stmt = stmt.where(Enterprise.region_id == region)
    return session.scalar(stmt)


def test_cultivation_pending_column_follows_the_month(client_as, db_session):
    all_pending = db_session.scalar(select(func.count()).select_from(Enterprise).where(Enterprise.review_status == EnterpriseStatus.pending))
    _, rows = workbook(client_as("bureau").get("/admin/stats_cultivation/export/xlsx/?month=2022-05"))
    assert rows[1][-1] == "待审核企业(家)"
    may = pending_by(db_session, datetime(2022, 6, 1))
    assert rows[-1][1] == "合计" and rows[-1][-1] == may and sum(r[-1] for r in rows[2:-1]) == may
    assert 0 < may < all_pending
    _, rows = workbook(client_as("authority_yb").get("/admin/stats_cultivation/export/xlsx/?month=2022-05"))
    assert rows[2][1] == "渝北区" and rows[2][-1] == pending_by(db_session, datetime(2022, 6, 1), region_id(db_session, "渝北区"))
    _, rows = workbook(client_as("bureau").get("/admin/stats_cultivation/export/xlsx/?month=2021-12"))
    assert rows[-1][-1] == pending_by(db_session, datetime(2022, 1, 1))
    this_month = date.today().strftime("%Y-%m")
    _, rows = workbook(client_as("bureau").get(f"/admin/stats_cultivation/export/xlsx/?month={this_month}"))
    assert rows[-1][-1] == all_pending
    page = client_as("bureau").get("/admin/stats_cultivation/?month=2022-05").get_data(as_text=True)
    assert "待审核企业：截至该月末已提交、仍待审核" in page


# -- 4. 申领企业数 合计 counts each enterprise once, and says so ----------------------------------------------
def test_voucher_claims_total_says_enterprises_are_counted_once(client_as, db_session):
    client = client_as("bureau")
    distinct = db_session.scalar(select(func.count(func.distinct(InnovationVoucher.enterprise_id))).where(InnovationVoucher.year == 2022))
    _, rows = workbook(client.get("/admin/voucher_claims/export/xlsx/?year=2022&tab=type"))
    total = next(r for r in rows[2:] if r[1] == "合计")
    assert total[2] == distinct < sum(r[2] for r in rows[2:] if isinstance(r[0], int))  # one enterprise, several types
    assert "注：合计按企业去重" in rows[0][0]
    page = client.get("/admin/voucher_claims/?year=2022&tab=type").get_data(as_text=True)
    assert "合计按企业去重" in page


# -- 5. every statistics export names its period in the sheet title and the first row ---------------------
@pytest.mark.parametrize("url,caption,first_header", [
    ("/admin/stats_cultivation/export/xlsx/?month=2022-05", "2022年5月 培育进度统计表", "序号"),
    ("/admin/stats_district_storage/export/xlsx/?year=2021&tab=scale", "2021年 区县入库企业情况统计表-企业规模", "序号"),
    ("/admin/stats_district_storage/export/xlsx/", "2022年 区县入库企业情况统计表-年报数量", "序号"),
    ("/admin/stats_annual/export/xlsx/?year=2022&tab=people", "2022年 区县科技型企业年报统计表-人员和研发平台概况", "序号"),
    ("/admin/voucher_claims/export/xlsx/?year=2022&tab=field", "2022年 科技创新券申领统计表-高新技术领域", "序号"),
    ("/admin/voucher_enterprises/export/xlsx/?year=2021", "2021年 科技创新券情况统计表", "序号"),
    ("/admin/stats_custom/export/xlsx/?year=2022&f=name", "2022年 自定义查询", "企业名称"),
    ("/admin/stats_custom/export/xlsx/?f=name", "全部年份 自定义查询", "企业名称"),
])
def test_exports_name_their_period(client_as, url, caption, first_header):
    response = client_as("authority_yb").get(url)
    title, rows = workbook(response)
    assert title == caption and rows[0][0].split("　注：")[0] == caption and rows[1][0] == first_header
    assert quote(caption, safe="") in response.headers["Content-Disposition"]


# -- odd filter values: no 500, a Chinese message, nothing English ---------------------------------------
@pytest.mark.parametrize("query", ["month=2022-13", "month=13", "month=99999999999", "month=2022-05%00", "month=9999-12"])
def test_bad_month_says_so_in_chinese(client_as, query):
    client = client_as("authority_yb")
    page = client.get(f"/admin/stats_cultivation/?{query}").get_data(as_text=True)
    assert "月份格式应为" in page and "YYYY" not in page
    title, _ = workbook(client.get(f"/admin/stats_cultivation/export/xlsx/?{query}"))
    assert title.endswith("培育进度统计表")


@pytest.mark.parametrize("query", ["year=99999999999", "year=1990", "year=2022%00", "year=-1"])
@pytest.mark.parametrize("endpoint", ["stats_district_storage", "stats_annual", "voucher_claims", "voucher_enterprises", "stats_custom"])
def test_bad_year_says_so_and_falls_back(client_as, endpoint, query):
    response = client_as("bureau").get(f"/admin/{endpoint}/?{query}")
    assert response.status_code == 200 and "没有该年份的" in response.get_data(as_text=True)
    assert client_as("bureau").get(f"/admin/{endpoint}/export/xlsx/?{query}").status_code == 200
