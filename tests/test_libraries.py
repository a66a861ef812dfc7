"""Library membership at the edge of every condition (just in, just out), parameters, pages and export."""
from __future__ import annotations

import io
from datetime import date
from decimal import Decimal

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from models import AnnualReport, AuditLog, Enterprise, LibraryParam, ListingStatus, Region, ReportStatus, StorageStatus, User
from rules import libraries as lib
from rules.scope import Principal

YEAR = 2022


def principal(session, username="bureau") -> Principal:
    return Principal.of(session.scalar(select(User).where(User.username == username)))


_seq = [0]


def make_enterprise(session, enterprise: dict | None = None, report: dict | None = None, prev: dict | None = None,
                    older: dict | None = None, region="渝北区") -> int:
    _seq[0] += 1
    n = _seq[0]
    region_id = session.scalar(select(Region.id).where(Region.name == region))
    values = {"name": f"边界测试企业{n:04d}有限公司", "uscc": f"91500112TEST{n:06d}", "region_id": region_id,
              "registered_on": date(2015, 1, 1), "storage_status": StorageStatus.stored, "stored_on": date(2021, 1, 1)}
    values.update(enterprise or {})
    e = Enterprise(**values)
    session.add(e)
    session.flush()
    for year, data in ((YEAR, report), (YEAR - 1, prev), (YEAR - 2, older)):
        if data is not None:
            row = {"staff": 100, "tech_staff": 10, "revenue": Decimal(1000), "rd_expense": Decimal(50)}
            row.update(data)
            session.add(AnnualReport(enterprise_id=e.id, year=year, status=ReportStatus.approved, **row))
    session.flush()
    return e.id


def members(session, key, values=None, **query) -> set[int]:
    library = lib.BY_KEY[key]
    params = lib.saved_defaults(session, library)
    params.update({k: Decimal(str(v)) for k, v in (values or {}).items()})
    return lib.member_ids(session, library, principal(session), lib.Query(year=YEAR, values=params, **query))


D = Decimal
HITECH_BASE = dict(invention_patents=1, utility_patents=0, software_copyrights=0, other_ip=0, staff=100, tech_staff=10,
                   revenue=D(5000), rd_expense=D(250), rd_domestic=D(150), hitech_income=D(3000), innovation_score=70)

# library → (enterprise base, report base, prev-year report, [(label, enterprise changes, report changes, expected)])
CASES = {
    "hitech_reserve": ({}, HITECH_BASE, None, [
        ("all at the limit", {}, {}, True),
        ("registered 2021-12-31", {"registered_on": date(2021, 12, 31)}, {}, True),
        ("registered 2022-01-01", {"registered_on": date(2022, 1, 1)}, {}, False),
        ("no invention, 5 other IP", {}, {"invention_patents": 0, "utility_patents": 3, "software_copyrights": 2}, True),
        ("no invention, 4 other IP", {}, {"invention_patents": 0, "utility_patents": 2, "software_copyrights": 2}, False),
        ("tech staff 9%", {}, {"tech_staff": 9}, False),
        ("rd 5% just below", {}, {"rd_expense": D("249.99")}, False),
        ("band 2: 4% in", {}, {"revenue": D(10000), "rd_expense": D(400), "rd_domestic": D(240), "hitech_income": D(6000)}, True),
        ("band 2: below 4%", {}, {"revenue": D(10000), "rd_expense": D("399.99"), "rd_domestic": D(240), "hitech_income": D(6000)}, False),
        ("band 3: 3% in", {}, {"revenue": D(30000), "rd_expense": D(900), "rd_domestic": D(540), "hitech_income": D(18000)}, True),
        ("band 3: below 3%", {}, {"revenue": D(30000), "rd_expense": D("899.99"), "rd_domestic": D(540), "hitech_income": D(18000)}, False),
        ("domestic below 60%", {}, {"rd_domestic": D("149.99")}, False),
        ("hitech income below 60%", {}, {"hitech_income": D("2999.99")}, False),
        ("score 69", {}, {"innovation_score": 69}, False),
        ("score missing", {}, {"innovation_score": None}, False),
    ]),
    "incubation": ({"registered_on": date(2020, 1, 1)}, dict(staff=100, tech_staff=10, revenue=D(1000), rd_expense=D(30)), None, [
        ("all at the limit", {}, {}, True),
        ("founded 2019-12-31", {"registered_on": date(2019, 12, 31)}, {}, False),
        ("staff 101", {}, {"staff": 101}, False),
        ("rd below 3%", {}, {"rd_expense": D("29.99")}, False),
    ]),
    "star_reserve": ({}, dict(revenue=D(10000), rd_expense=D(500), staff=100, rd_staff=10, invention_patents=5,
                              listing_status=ListingStatus.star_filed), None, [
        ("all at the limit", {}, {}, True),
        ("revenue just below", {}, {"revenue": D("9999.99"), "rd_expense": D(500)}, False),
        ("rd below 5%", {}, {"rd_expense": D("499.99")}, False),
        ("rd staff 9%", {}, {"rd_staff": 9}, False),
        ("4 invention patents", {}, {"invention_patents": 4}, False),
        ("already listed", {}, {"listing_status": ListingStatus.listed}, False),
    ]),
    "leader": ({}, dict(revenue=D(20000), rd_expense=D(1000), invention_patents=10, platforms_city=1, platforms_national=0), None, [
        ("all at the limit", {}, {}, True),
        ("revenue just below", {}, {"revenue": D("19999.99")}, False),
        ("rd just below", {}, {"rd_expense": D("999.99")}, False),
        ("9 patents", {}, {"invention_patents": 9}, False),
        ("no platform", {}, {"platforms_city": 0}, False),
        ("national platform only", {}, {"platforms_city": 0, "platforms_national": 1}, True),
    ]),
    "high_growth": ({}, dict(revenue=D(1200), rd_expense=D(36)), dict(revenue=D(1000), rd_expense=D(30)), [
        ("growth 20%", {}, {}, True),
        ("growth just below 20%", {}, {"revenue": D("1199.99")}, False),
        ("revenue below 500", {}, {"revenue": D(480), "rd_expense": D(20)}, False),
        ("rd below 3%", {}, {"rd_expense": D("35.99")}, False),
    ]),
    "sme_reserve": ({}, dict(staff=500, tech_staff=50, revenue=D(20000), total_assets=D(20000), rd_expense=D(600)), None, [
        ("all at the limit", {}, {}, True),
        ("staff 501", {}, {"staff": 501}, False),
        ("revenue just above 2亿", {}, {"revenue": D("20000.01")}, False),
        ("assets just above 2亿", {}, {"total_assets": D("20000.01")}, False),
        ("tech staff below 10%", {}, {"tech_staff": 49}, False),
        ("rd below 3%", {}, {"rd_expense": D("599.99")}, False),
    ]),
    "tech_enterprise": ({}, dict(staff=100, tech_staff=10, revenue=D(1000), rd_expense=D(30), invention_patents=1), None, [
        ("all at the limit", {}, {}, True),
        ("not stored", {"storage_status": StorageStatus.out, "stored_on": None}, {}, False),
        ("tech staff 9%", {}, {"tech_staff": 9}, False),
        ("rd below 3%", {}, {"rd_expense": D("29.99")}, False),
        ("no IP", {}, {"invention_patents": 0}, False),
        ("one software copyright", {}, {"invention_patents": 0, "software_copyrights": 1}, True),
    ]),
    "hitech_certified": ({}, dict(hitech_certified=True, hitech_cert_year=2020), None, [
        ("certified 2020, valid", {}, {}, True),
        ("certified 2019, expired", {}, {"hitech_cert_year": 2019}, False),
        ("not certified", {}, {"hitech_certified": False}, False),
    ]),
}


def test_every_library_has_cases():
    assert set(CASES) == {l.key for l in lib.LIBRARIES}


@pytest.mark.parametrize("key", list(CASES))
def test_membership_at_the_edges(db_session, key):
    base_e, base_r, prev, cases = CASES[key]
    made = []
    for label_text, e_changes, r_changes, expected in cases:
        eid = make_enterprise(db_session, {**base_e, **e_changes}, {**base_r, **r_changes}, prev)
        made.append((label_text, eid, expected))
    found = members(db_session, key)
    for label_text, eid, expected in made:
        assert (eid in found) is expected, f"{key}: {label_text}"


def test_unapproved_reports_never_count(db_session):
    eid = make_enterprise(db_session, {}, HITECH_BASE)
    assert eid in members(db_session, "hitech_reserve")
    db_session.execute(AnnualReport.__table__.update().where(AnnualReport.enterprise_id == eid).values(status="city_review"))
    assert eid not in members(db_session, "hitech_reserve")


def test_parameter_changes_recompute(db_session):
    eid = make_enterprise(db_session, {}, {**HITECH_BASE, "rd_expense": D(225), "rd_domestic": D(150)})  # 4.5%
    assert eid not in members(db_session, "hitech_reserve")
    assert eid in members(db_session, "hitech_reserve", {"rd_small": 4.5})
    assert eid not in members(db_session, "hitech_reserve", {"rd_small": 4.5, "tech_pct": 10.01})
    assert eid in members(db_session, "hitech_reserve", {"rd_small": 4, "age_years": 7})
    assert eid not in members(db_session, "hitech_reserve", {"rd_small": 4, "age_years": 8})


def test_first_qualifying_year(db_session):
    lib_ = lib.BY_KEY["high_growth"]
    early = make_enterprise(db_session, {}, dict(revenue=D(1500), rd_expense=D(60)), dict(revenue=D(1200), rd_expense=D(40)),
                            older=dict(revenue=D(1000), rd_expense=D(30)))
    late = make_enterprise(db_session, {}, dict(revenue=D(1200), rd_expense=D(36)), dict(revenue=D(1000), rd_expense=D(30)))
    p = principal(db_session)
    values = lib.saved_defaults(db_session, lib_)
    stmt, headers = lib.members(db_session, lib_, p, lib.Query(year=YEAR, values=values), first_year_for_all=True)
    first = {row[0]: row[-1] for row in db_session.execute(stmt)}
    assert headers[-1] == "首次符合条件年份"
    assert first[early] == 2021 and first[late] == 2022
    only_2021 = lib.member_ids(db_session, lib_, p, lib.Query(year=YEAR, values=values, first_year=2021))
    assert early in only_2021 and late not in only_2021
    assert lib.first_years_of(db_session, lib_, p, values, YEAR, [early, late]) == {early: 2021, late: 2022}


def test_explain_lists_each_condition_with_values(db_session):
    eid = make_enterprise(db_session, {}, {**HITECH_BASE, "tech_staff": 9})
    library = lib.BY_KEY["hitech_reserve"]
    result = lib.explain(db_session, library, principal(db_session), eid, YEAR, lib.saved_defaults(db_session, library))
    assert len(result) == 7
    by_key = {c["key"]: c for c in result}
    assert not by_key["tech_staff"]["passed"] and all(c["passed"] for k, c in by_key.items() if k != "tech_staff")
    assert ("科技人员(人)", 9) in by_key["tech_staff"]["values"]
    other = make_enterprise(db_session, {}, HITECH_BASE, region="江北区")
    assert lib.explain(db_session, library, principal(db_session, "authority_yb"), other, YEAR, {p.key: p.default for p in library.params}) is None


# -- pages ----------------------------------------------------------------------------------
LIBRARY_ENDPOINTS = [l.endpoint for l in lib.LIBRARIES]


@pytest.mark.parametrize("endpoint", LIBRARY_ENDPOINTS)
def test_library_pages_for_district_and_city(client_as, endpoint):
    for user in ("bureau", "authority_yb"):
        page = client_as(user).get(f"/admin/{endpoint}/")
        assert page.status_code == 200
        assert "条件说明" in page.get_data(as_text=True)
    for user in ("unit_cqu", "applicant_ent", "unit_ent"):
        assert client_as(user).get(f"/admin/{endpoint}/").status_code == 404
        assert client_as(user).get(f"/admin/{endpoint}/export/xlsx/").status_code == 404


def test_default_year_is_latest_with_approved_reports(client_as, db_session):
    page = client_as("bureau").get("/admin/library_hitech_reserve/").get_data(as_text=True)
    latest = db_session.scalar(select(func.max(AnnualReport.year)).where(AnnualReport.status == ReportStatus.approved))
    assert f"{latest}年年报数据" in page


def test_bad_parameter_is_a_chinese_error_not_a_500(client_as):
    page = client_as("bureau").get("/admin/library_hitech_reserve/?c_tech_pct=abc&c_score_min=1.5")
    text = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "科技人员占比(%)须为数字" in text and "创新能力评分(分)须为整数" in text
    assert 'value="abc"' in text  # what the user typed is kept


def _sheet(response):
    wb = load_workbook(io.BytesIO(response.data), read_only=True)
    return [list(r) for r in wb.active.iter_rows(values_only=True)]


def test_export_is_the_current_result_and_district_sees_only_its_own(client_as, db_session):
    mine = make_enterprise(db_session, {}, HITECH_BASE)
    theirs = make_enterprise(db_session, {}, HITECH_BASE, region="江北区")
    db_session.commit()
    rows = _sheet(client_as("authority_yb").get("/admin/library_hitech_reserve/export/xlsx/?year=2022"))
    names = {r[0] for r in rows[1:]}
    assert db_session.get(Enterprise, mine).name in names and db_session.get(Enterprise, theirs).name not in names
    assert {r[2] for r in rows[1:]} == {"渝北区"}
    city = _sheet(client_as("bureau").get("/admin/library_hitech_reserve/export/xlsx/?year=2022"))
    assert len(city) - 1 == len(members(db_session, "hitech_reserve"))
    strict = _sheet(client_as("bureau").get("/admin/library_hitech_reserve/export/xlsx/?year=2022&c_tech_pct=99"))
    assert len(strict) < len(city)
    # details: in scope shows conditions, out of scope is 404
    assert client_as("authority_yb").get(f"/admin/library_hitech_reserve/details/{mine}/?year=2022").status_code == 200
    assert client_as("authority_yb").get(f"/admin/library_hitech_reserve/details/{theirs}/?year=2022").status_code == 404


def test_bureau_saves_defaults_audited_others_cannot(client_as, db_session):
    bureau = client_as("bureau")
    response = bureau.post_form("/admin/library_hitech_reserve/defaults/", {"c_tech_pct": "12", "c_score_min": "75"})
    assert response.status_code == 302
    saved = {r.param: r.value for r in db_session.scalars(select(LibraryParam).where(LibraryParam.library == "hitech_reserve"))}
    assert saved["tech_pct"] == 12 and saved["score_min"] == 75 and saved["rd_small"] == 5
    assert db_session.scalar(select(func.count()).select_from(AuditLog).where(AuditLog.table_name == "library_param")) >= 7
    page = bureau.get("/admin/library_hitech_reserve/").get_data(as_text=True)
    assert "不低于 12%" in page
    before = db_session.scalar(select(func.count()).select_from(LibraryParam))
    assert client_as("authority_yb").post_form("/admin/library_hitech_reserve/defaults/", {"c_tech_pct": "1"}).status_code == 404
    bad = bureau.post_form("/admin/library_hitech_reserve/defaults/", {"c_tech_pct": "-3"})
    assert bad.status_code == 302
    db_session.expire_all()
    assert db_session.scalar(select(func.count()).select_from(LibraryParam)) == before
    assert db_session.scalar(select(LibraryParam.value).where(LibraryParam.param == "tech_pct")) == 12
