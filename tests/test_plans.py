"""计划表 and 计划汇总表 (issue 14, seed 003): approved projects of a 年度 and 批次 in each role's scope,
their sums by 区县 and by 产业类别, and the Excel files, checked against plain SQL and hand counts."""
from __future__ import annotations

import io
import re
from datetime import datetime
from html import unescape

import openpyxl
import pytest
from sqlalchemy import select, text

from models import Call

LAST_YEAR = datetime.now().year - 1  # the demo's approved projects are all of last year
TECH_CALL = f"{LAST_YEAR}年技术创新项目（下半年）"
FROM = ("FROM declaration d JOIN unit u ON u.id = d.unit_id LEFT JOIN region r ON r.id = u.region_id "
        "LEFT JOIN dict_item ic ON ic.id = d.industry_category_id WHERE d.status = 'approved' AND d.year = :year")
# account → (its part of the approved projects as SQL, how many the demo gives it, written by hand)
SCOPES = {
    "bureau": ("", 4),
    "sysadmin": ("", 4),
    "authority_yb": (" AND r.name = '渝北区' AND u.competent_unit_id IS NULL", 2),  # 智联科技, 两江精密
    "unit_ent": (" AND u.name = '重庆渝北智联科技有限公司'", 1),
    "applicant_ent": (" AND d.applicant_id = (SELECT id FROM app_user WHERE username = 'applicant_ent')", 1),
    "unit_cqu": (" AND u.name = '重庆大学'", 2),
}


def _cells(html: str) -> list[str]:
    return [unescape(re.sub(r"<[^>]+>", "", c)).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", html, re.S)]


def _table(page: str) -> tuple[list[list[str]], list[str]]:
    """(body rows, 合计 row) of the page's table as the user reads them."""
    body = re.search(r'<table[^>]*id="plan-table".*?<tbody>(.*?)</tbody>', page, re.S).group(1)
    rows = [_cells(r) for r in re.findall(r"<tr>(.*?)</tr>", body, re.S)]
    rows = [r for r in rows if r != ["暂无数据"]]
    foot = re.search(r'id="total-row">(.*?)</tr>', page, re.S)
    return rows, (_cells(foot.group(1)) if foot else [])


def _sheet(response):
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    ws = openpyxl.load_workbook(io.BytesIO(response.data)).active
    rows = [list(r) for r in ws.iter_rows(values_only=True)]
    return ws.title, rows[0], rows[1:]


def _sql(s, account, select_: str, tail: str = "", **params):
    return s.execute(text(f"SELECT {select_} {FROM}{SCOPES[account][0]}{tail}"), {"year": LAST_YEAR, **params}).all()


@pytest.mark.parametrize("account", sorted(SCOPES))
def test_plan_lists_the_approved_projects_of_the_scope(client_as, db_session, account):
    s = db_session
    expected = _sql(s, account, "d.number, d.name, r.name, d.release_status", " ORDER BY d.number")
    assert len(expected) == SCOPES[account][1]
    page = client_as(account).get("/admin/plan/").get_data(as_text=True)
    rows, _ = _table(page)
    assert [(r[1], r[4], r[3]) for r in rows] == [(n, name, region) for n, name, region, _ in expected]
    assert [r[8] for r in rows] == [{"pending": "未下达", "released": "已下达"}[status] for *_, status in expected]
    assert [r[0] for r in rows] == [str(i) for i in range(1, len(rows) + 1)]
    assert f"共 {len(expected)} 条" in page and f"{LAST_YEAR}年 计划表" in page
    if account == "authority_yb":
        assert {r[3] for r in rows} == {"渝北区"}
    # 起止时间 as the manual writes it
    start, end = s.execute(text(f"SELECT d.start_month, d.end_month {FROM}{SCOPES[account][0]} ORDER BY d.number"), {"year": LAST_YEAR}).first()
    start, end = str(start), str(end)
    assert rows[0][7] == f"{int(start[:4])}年{int(start[5:7])}月～{int(end[:4])}年{int(end[5:7])}月"


@pytest.mark.parametrize("account", sorted(SCOPES))
def test_plan_summary_sums_by_district_and_by_industry(client_as, db_session, account):
    s = db_session
    client = client_as(account)
    for tab, key in (("district", "r.name"), ("industry", "ic.name")):
        expected = {name or "未填写": (n, int(done or 0)) for name, n, done in _sql(
            s, account, f"{key}, COUNT(*), SUM(CASE WHEN d.release_status = 'released' THEN 1 ELSE 0 END)", f" GROUP BY {key}")}
        rows, total = _table(client.get(f"/admin/plan_summary/?tab={tab}").get_data(as_text=True))
        assert {r[1]: (int(r[2]), int(r[3])) for r in rows} == expected
        assert all(int(r[2]) - int(r[3]) == int(r[4]) for r in rows)  # 未下达
        projects = SCOPES[account][1]
        released = sum(done for _, done in expected.values())
        assert total == ["", "合计", str(projects), str(released), str(projects - released)]
    if account == "authority_yb":
        assert [r[1] for r in _table(client.get("/admin/plan_summary/").get_data(as_text=True))[0]] == ["渝北区"]


def test_a_batch_narrows_both_tables_and_the_exports_name_the_period(client_as, db_session):
    s = db_session
    call = s.scalars(select(Call).where(Call.name == TECH_CALL)).one()
    bureau = client_as("bureau")
    page = bureau.get(f"/admin/plan/?year={LAST_YEAR}&call={call.id}").get_data(as_text=True)
    rows, _ = _table(page)
    names = {n for (n,) in s.execute(text(f"SELECT d.name {FROM} AND d.call_id = :c"), {"year": LAST_YEAR, "c": call.id})}
    assert {r[4] for r in rows} == names and len(names) == 2

    title, headers, data = _sheet(bureau.get(f"/admin/plan/export/xlsx/?year={LAST_YEAR}&call={call.id}"))
    assert title == f"{LAST_YEAR}年 下半年 计划表"
    assert headers == ["序号", "项目编号", "企业（申报单位）", "区县", "项目名称", "项目技术水平", "产业类别", "起止时间", "下达状态"]
    assert {r[4] for r in data} == names and [r[0] for r in data] == [1, 2]

    title, headers, data = _sheet(bureau.get(f"/admin/plan/export/xlsx/?year={LAST_YEAR}"))
    assert title == f"{LAST_YEAR}年 计划表" and len(data) == 4

    title, headers, data = _sheet(bureau.get(f"/admin/plan_summary/export/xlsx/?year={LAST_YEAR}&call={call.id}&tab=district"))
    assert title == f"{LAST_YEAR}年 下半年 计划汇总表（按区县）"
    assert headers == ["序号", "区县", "项目数", "已下达", "未下达"]
    assert data[-1][1:] == ["合计", 2, 2, 0] and data[:-1] == [[1, "渝北区", 2, 2, 0]]

    title, _, data = _sheet(bureau.get(f"/admin/plan_summary/export/xlsx/?year={LAST_YEAR}&tab=industry"))
    assert title == f"{LAST_YEAR}年 计划汇总表（按产业类别）" and data[-1][1:] == ["合计", 4, 2, 2]


def test_the_district_export_holds_only_its_district(client_as):
    title, _, data = _sheet(client_as("authority_yb").get("/admin/plan/export/xlsx/"))
    assert title == f"{LAST_YEAR}年 计划表" and {r[3] for r in data} == {"渝北区"} and len(data) == 2
    _, _, data = _sheet(client_as("authority_yb").get("/admin/plan_summary/export/xlsx/"))
    assert data == [[1, "渝北区", 2, 2, 0], ["", "合计", 2, 2, 0]]


@pytest.mark.parametrize("account", ["dept_cqu_se", "applicant_zhang"])  # 二级单位; a 填报用户 without 技术创新项目
def test_who_has_no_plan_gets_404(client_as, account):
    client = client_as(account)
    for url in ("/admin/plan/", "/admin/plan_summary/", "/admin/plan/export/xlsx/", "/admin/plan_summary/export/xlsx/"):
        assert client.get(url).status_code == 404


@pytest.mark.parametrize("query, message", [
    ("year=1999", "该年度没有已立项项目"),
    ("year=abc", None),
    ("year=99999999999999999999", None),
    ("year=%00", None),
    ("call=abc", "所选批次在该年度没有已立项项目"),
    ("call=99999999999999999999", "所选批次在该年度没有已立项项目"),
    ("call=%00", "所选批次在该年度没有已立项项目"),
    ("page=-1", None),
    ("page=99999999", None),
    ("tab=nonsense", None),
])
def test_odd_arguments_fall_back_to_the_latest_year_with_a_message(client_as, query, message):
    client = client_as("bureau")
    for endpoint in ("plan", "plan_summary"):
        response = client.get(f"/admin/{endpoint}/?{query}")
        page = response.get_data(as_text=True)
        assert response.status_code == 200
        assert f"{LAST_YEAR}年 计划" in page
        if message:
            assert message in page
        assert client.get(f"/admin/{endpoint}/export/xlsx/?{query}").status_code == 200


def test_a_released_project_counts_as_released_in_the_summary(client_as, db_session):
    s = db_session
    row = s.scalar(text("SELECT id FROM declaration WHERE name = '软件自动化测试关键技术研究'"))
    bureau = client_as("bureau")
    bureau.post_form("/admin/project_release/action/", {"action": "release", "rowid": [str(row)], "doc_no": "渝科发〔2026〕3号",
                                                        "released_on": "2026-01-05"})
    _, total = _table(bureau.get("/admin/plan_summary/").get_data(as_text=True))
    assert total == ["", "合计", "4", "3", "1"]
