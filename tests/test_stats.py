"""Statistics tables against direct counts (合计 included), scope of every table, chart and export."""
from __future__ import annotations

import io
from datetime import date, datetime
from decimal import Decimal

import pytest
from openpyxl import load_workbook
from sqlalchemy import and_, func, or_, select

from models import AnnualReport, DictItem, Enterprise, EnterpriseStatus, InnovationVoucher, Region, ReportStatus, StorageStatus, User
from rules import enterprise_stats as stats
from rules.scope import Principal

YEAR = 2022
END = date(2022, 12, 31)
SUBMITTED = [ReportStatus.district_review, ReportStatus.city_review, ReportStatus.approved]


def principal(session, username) -> Principal:
    return Principal.of(session.scalar(select(User).where(User.username == username)))


def count(session, *where, model=Enterprise, join=None):
    stmt = select(func.count()).select_from(model)
    if join is not None:
        stmt = stmt.join(join)
    return session.scalar(stmt.where(*where))


def region_id(session, name):
    return session.scalar(select(Region.id).where(Region.name == name))


def row_of(table, name):
    return next(r for r in table.rows if r[1] == name)


def test_district_storage_against_direct_counts(db_session):
    table = stats.district_storage(db_session, principal(db_session, "bureau"), YEAR)
    assert table.headers == ["序号", "区县", "两江新区/高新区、经开区", "注册企业数(家)", "入库科企数(家)", "年报科企数(家)", "规上工业企业(家)"]
    assert len(table.rows) == 38
    stored = and_(Enterprise.storage_status == StorageStatus.stored, Enterprise.stored_on <= END)
    registered = or_(Enterprise.registered_on.is_(None), Enterprise.registered_on <= END)
    reported = Enterprise.id.in_(select(AnnualReport.enterprise_id).where(AnnualReport.year == YEAR, AnnualReport.status.in_(SUBMITTED)))
    for name in ("渝北区", "江北区", "万州区"):
        rid = region_id(db_session, name)
        here = Enterprise.region_id == rid
        assert row_of(table, name)[3:] == [count(db_session, here, registered), count(db_session, here, stored),
                                           count(db_session, here, reported), count(db_session, here, stored, Enterprise.above_scale.is_(True))]
    assert row_of(table, "渝北区")[2] == "两江新区" and row_of(table, "南岸区")[2] == "经开区"
    assert table.total[:3] == ["", "合计", "--"]
    assert table.total[3:] == [count(db_session, registered), count(db_session, stored), count(db_session, reported),
                               count(db_session, stored, Enterprise.above_scale.is_(True))]
    assert table.total[3:] == [sum(r[i] for r in table.rows) for i in range(3, 7)]
    assert all(v > 0 for v in table.total[3:])


@pytest.mark.parametrize("tab,category,column", [("scale", "enterprise_scale", "scale_id"), ("industry", "industry_category", "industry_category_id"),
                                                 ("field", "hitech_field", "hitech_field_id")])
def test_district_storage_tabs(db_session, tab, category, column):
    table = stats.district_storage(db_session, principal(db_session, "bureau"), YEAR, tab)
    items = list(db_session.scalars(select(DictItem).where(DictItem.category == category).order_by(DictItem.sort, DictItem.id)))
    assert table.headers[2:-2] == [i.name for i in items]
    stored = and_(Enterprise.storage_status == StorageStatus.stored, Enterprise.stored_on <= END)
    rid = region_id(db_session, "渝北区")
    row = row_of(table, "渝北区")
    for k, item in enumerate(items):
        assert row[2 + k] == count(db_session, stored, Enterprise.region_id == rid, getattr(Enterprise, column) == item.id)
        assert table.total[2 + k] == count(db_session, stored, getattr(Enterprise, column) == item.id)
    assert table.total[-1] == count(db_session, stored)


@pytest.mark.parametrize("tab", list(stats.ANNUAL_TABS))
def test_annual_summary_against_direct_sums(db_session, tab):
    table = stats.annual_summary(db_session, principal(db_session, "bureau"), YEAR, tab)
    _, fields = stats.ANNUAL_TABS[tab]
    where = [AnnualReport.year == YEAR, AnnualReport.status.in_(SUBMITTED)]
    rid = region_id(db_session, "渝北区")
    row = row_of(table, "渝北区")
    assert row[2] == count(db_session, *where, Enterprise.region_id == rid, model=AnnualReport, join=Enterprise)
    assert table.total[2] == count(db_session, *where, model=AnnualReport)
    for k, (_, column) in enumerate(fields):
        direct = db_session.scalar(select(func.coalesce(func.sum(getattr(AnnualReport, column)), 0)).where(*where))
        assert Decimal(str(table.total[3 + k])) == Decimal(str(direct))
        mine = db_session.scalar(select(func.coalesce(func.sum(getattr(AnnualReport, column)), 0)).join(Enterprise).where(*where, Enterprise.region_id == rid))
        assert Decimal(str(row[3 + k])) == Decimal(str(mine))


def test_cultivation_progress_by_month(db_session):
    table = stats.cultivation_progress(db_session, principal(db_session, "bureau"), "2022-05")
    start, end = date(2022, 5, 1), date(2022, 6, 1)
    stored = Enterprise.storage_status == StorageStatus.stored
    assert table.total[2:] == [
        count(db_session, or_(Enterprise.registered_on.is_(None), Enterprise.registered_on < end)),
        count(db_session, stored, Enterprise.stored_on >= start, Enterprise.stored_on < end),
        count(db_session, stored, Enterprise.stored_on < end),
        count(db_session, AnnualReport.submitted_at >= datetime(2022, 5, 1), AnnualReport.submitted_at < datetime(2022, 6, 1), model=AnnualReport),
        count(db_session, Enterprise.review_status == EnterpriseStatus.pending,
              func.coalesce(Enterprise.submitted_at, Enterprise.created_at) < datetime(2022, 6, 1)),
    ]
    assert table.total[2:] == [sum(r[i] for r in table.rows) for i in range(2, 7)]


@pytest.mark.parametrize("tab", list(stats.VOUCHER_TABS))
def test_voucher_claims_against_direct_counts(db_session, tab):
    table = stats.voucher_claims(db_session, principal(db_session, "bureau"), YEAR, tab)
    where = InnovationVoucher.year == YEAR
    assert table.total[2] == db_session.scalar(select(func.count(func.distinct(InnovationVoucher.enterprise_id))).where(where))
    assert table.total[3] == count(db_session, where, model=InnovationVoucher)
    assert Decimal(str(table.total[4])) == Decimal(str(db_session.scalar(select(func.sum(InnovationVoucher.amount)).where(where))))
    assert sum(r[3] for r in table.rows) == table.total[3]


def test_voucher_by_enterprise_and_search(db_session):
    p = principal(db_session, "authority_yb")
    table, n = stats.voucher_by_enterprise(db_session, p, YEAR, limit=None)
    rid = region_id(db_session, "渝北区")
    assert n == db_session.scalar(select(func.count(func.distinct(InnovationVoucher.enterprise_id))).join(Enterprise).where(
        InnovationVoucher.year == YEAR, Enterprise.region_id == rid))
    assert len(table.rows) == n and {r[3] for r in table.rows} == {"渝北区"}
    first = table.rows[0][1]
    found, m = stats.voucher_by_enterprise(db_session, p, YEAR, search=first)
    assert m >= 1 and found.rows[0][1] == first


def test_overview_counts(db_session):
    data = stats.overview(db_session, principal(db_session, "bureau"))
    assert len(data["districts"]) == 38 and sum(data["registered"]) == count(db_session)
    assert sum(data["stored"]) == count(db_session, Enterprise.storage_status == StorageStatus.stored)
    assert data["zones"] == ["两江新区", "国家级高新区和经开区", "市级高新区"] and all(v > 0 for v in data["zone_registered"][:2])
    mine = stats.overview(db_session, principal(db_session, "authority_yb"))
    assert mine["districts"] == ["渝北区"] and mine["registered"] == [count(db_session, Enterprise.region_id == region_id(db_session, "渝北区"))]


# -- pages: scope, exports, refusals ---------------------------------------------------------
PAGES = ["stats_cultivation", "stats_district_storage", "stats_annual", "voucher_claims", "voucher_enterprises", "stats_custom", "stats_overview"]


def sheet(response, caption=True):
    """The rows, headers first; a statistics export's title row (naming the period, see test_stats_defects) left off."""
    assert response.status_code == 200
    wb = load_workbook(io.BytesIO(response.data), read_only=True)
    return [list(r) for r in wb.active.iter_rows(values_only=True)][1 if caption else 0:]


@pytest.mark.parametrize("endpoint", PAGES)
def test_pages_are_for_district_and_city_only(client_as, endpoint):
    for user in ("bureau", "authority_yb", "sysadmin"):
        assert client_as(user).get(f"/admin/{endpoint}/").status_code == 200
    for user in ("unit_cqu", "applicant_ent", "unit_ent", "dept_cqu_se"):
        assert client_as(user).get(f"/admin/{endpoint}/").status_code == 404


def test_district_sees_only_its_district_in_tables_charts_and_exports(client_as):
    client = client_as("authority_yb")
    for url in ("/admin/stats_district_storage/export/xlsx/?year=2022", "/admin/stats_annual/export/xlsx/?year=2022&tab=results",
                "/admin/stats_cultivation/export/xlsx/?month=2022-05", "/admin/stats_district_storage/export/xlsx/?tab=field"):
        rows = sheet(client.get(url))
        assert [r[1] for r in rows[1:]] == ["渝北区", "合计"], url
    data = client.get("/admin/stats_overview/data/").get_json()
    assert data["districts"] == ["渝北区"]
    rows = sheet(client.get("/admin/voucher_enterprises/export/xlsx/?year=2022"))
    assert {r[3] for r in rows[1:-1]} == {"渝北区"}
    rows = sheet(client.get("/admin/stats_custom/export/xlsx/?f=region&f=name"))
    assert {r[0] for r in rows[1:]} == {"渝北区"}
    rows = sheet(client.get("/admin/credit_rating/export/xlsx/"), caption=False)
    assert {r[2] for r in rows[1:]} == {"渝北区"}
    city = sheet(client_as("bureau").get("/admin/stats_district_storage/export/xlsx/?year=2022"))
    assert len(city) == 1 + 38 + 1


def test_export_matches_page_including_total(client_as, db_session):
    rows = sheet(client_as("bureau").get("/admin/stats_district_storage/export/xlsx/?year=2022"))
    table = stats.district_storage(db_session, principal(db_session, "bureau"), YEAR)
    assert rows[0] == table.headers
    assert rows[-1][1] == "合计" and rows[-1][3:] == table.total[3:]


def test_custom_query_exports_exactly_the_picked_fields_in_order(client_as, db_session):
    client = client_as("bureau")
    rows = sheet(client.get("/admin/stats_custom/export/xlsx/?f=uscc&f=name&f=contact_mobile&f=bogus&year=2022"))
    assert rows[0] == ["统一社会信用代码", "企业名称", "科研联系人手机"]
    assert len(rows) - 1 == count(db_session, AnnualReport.year == YEAR, model=AnnualReport)
    e = db_session.scalar(select(Enterprise).where(Enterprise.name == "重庆渝北智联科技有限公司"))
    searched = sheet(client.get(f"/admin/stats_custom/export/xlsx/?f=name&f=region&search={e.uscc}"))
    assert searched == [["企业名称", "区县"], [e.name, "渝北区"]]
    page = client.get("/admin/stats_custom/?f=name&f=uscc").get_data(as_text=True)
    assert page.index("<th>企业名称</th>") < page.index("<th>统一社会信用代码</th>")


def test_formula_like_text_is_exported_as_text(client_as, db_session):
    e = db_session.scalar(select(Enterprise).where(Enterprise.name == "重庆渝北智联科技有限公司"))
    e.contact_name = "=HYPERLINK(\"http://x\")"
    db_session.commit()
    response = client_as("authority_yb").get(f"/admin/stats_custom/export/xlsx/?f=contact_name&search={e.uscc}")
    wb = load_workbook(io.BytesIO(response.data))
    cell = wb.active["A3"]
    assert cell.value == "=HYPERLINK(\"http://x\")" and cell.data_type == "s"


def test_bad_period_arguments_never_500(client_as):
    client = client_as("bureau")
    assert "月份格式应为" in client.get("/admin/stats_cultivation/?month=2022-13").get_data(as_text=True)
    assert client.get("/admin/stats_district_storage/?year=abc&tab=nope").status_code == 200
    assert "没有该年份" in client.get("/admin/stats_annual/?year=1990").get_data(as_text=True)
    assert client.get("/admin/voucher_enterprises/?page=-3&search=%25").status_code == 200
    assert client.get("/admin/stats_custom/?page=abc&year=x").status_code == 200


def test_echarts_is_served_by_the_app(client_as, app):
    page = client_as("bureau").get("/admin/stats_overview/").get_data(as_text=True)
    assert "/static/vendor/echarts.min.js" in page and "cdn" not in page.lower()
    import os

    if os.path.exists(os.path.join(app.static_folder, "vendor", "echarts.min.js")):
        assert client_as("bureau").get("/static/vendor/echarts.min.js").status_code == 200
