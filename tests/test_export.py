"""导出Excel: the file holds the list as the user sees it — scope, filters, search, sort, chosen
columns, selected rows — with typed cells and text that never turns into a formula."""
from __future__ import annotations

import io
from datetime import date, datetime
from decimal import Decimal
from urllib.parse import unquote

import openpyxl
import pytest
from sqlalchemy import func, or_, select

from models import DictItem, Person, Region, ReviewStatus, SecondaryUnit, Unit, User
from rules.exporting import XlsxStreamWriter, cell_value, column_widths, content_disposition, looks_like_formula, write_xlsx

ENDPOINTS = {
    "person": Person,
    "unit": Unit,
    "user": User,
    "secondary_unit": SecondaryUnit,
    "dictionary": DictItem,
    "region": Region,
}
DANGEROUS = ['=HYPERLINK("http://x","y")', "@SUM(A1)", "-1+2", "+1", "\tTAB", "\rCR", "=1+1"]


def sheet(response):
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    assert response.mimetype == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    return openpyxl.load_workbook(io.BytesIO(response.data)).active


def rows_of(ws):
    rows = list(ws.iter_rows(values_only=True))
    return list(rows[0]), rows[1:]


def unit_id(db_session, name):
    return db_session.scalar(select(Unit.id).where(Unit.name == name))


# -- the pure writer -------------------------------------------------------------------------
def test_writer_keeps_types_and_never_writes_formulas():
    buf = io.BytesIO()
    values = DANGEROUS + ["x\x00y", 7, 2.5, Decimal("12.30"), date(2024, 1, 2), datetime(2024, 1, 2, 3, 4, 5), None, "a<b&c>", "中文", 12345678901234567890]
    write_xlsx(buf, "测试[1]", [f"列{i}" for i in range(len(values))], [values])
    buf.seek(0)
    ws = openpyxl.load_workbook(buf).active
    assert ws.title == "测试1"
    assert ws.freeze_panes == "A2"
    assert ws["A1"].font.b
    cells = list(ws.iter_rows(min_row=2, values_only=False))[0]
    n = len(DANGEROUS)
    for cell, text in zip(cells[:n], DANGEROUS):
        assert cell.value == text and cell.data_type == "s", text
        assert cell.quotePrefix
    assert cells[n].value == "xy"
    assert [c.value for c in cells[n + 1 : n + 4]] == [7, 2.5, 12.3]
    assert all(c.data_type == "n" for c in cells[n + 1 : n + 4])
    assert cells[n + 4].value == datetime(2024, 1, 2) and cells[n + 4].is_date and cells[n + 4].number_format.startswith("yyyy")
    assert cells[n + 5].value == datetime(2024, 1, 2, 3, 4, 5) and cells[n + 5].is_date
    assert cells[n + 6].value is None
    assert cells[n + 7].value == "a<b&c>"
    assert cells[n + 8].value == "中文"
    assert cells[n + 9].value == "12345678901234567890"  # more digits than Excel keeps: text


def test_writer_streams_to_an_unseekable_file_and_reads_back_in_read_only_mode():
    class Pipe(io.RawIOBase):
        def __init__(self):
            self.data = bytearray()

        def writable(self):
            return True

        def write(self, b):
            self.data += b
            return len(b)

    pipe = Pipe()
    with XlsxStreamWriter(pipe, "s", ["a", "b"]) as xw:
        xw.write_rows([i, f"r{i}"] for i in range(3000))
    wb = openpyxl.load_workbook(io.BytesIO(bytes(pipe.data)), read_only=True)
    rows = list(wb.active.iter_rows(values_only=True))
    assert len(rows) == 3001 and rows[-1] == (2999, "r2999")


def test_pure_helpers():
    assert looks_like_formula("=1") and looks_like_formula("-1") and not looks_like_formula("1-")
    assert cell_value(True) == "是" and cell_value(ReviewStatus.approved) == "审核已通过"
    assert column_widths(["姓名"], [["一二三四五六七八九十"]]) == [22.0]
    header = content_disposition("个人信息_20240101.xlsx")
    assert "filename*=UTF-8''" in header and unquote(header.split("''")[1]) == "个人信息_20240101.xlsx"


# -- every list exports what it lists ------------------------------------------------------
@pytest.mark.parametrize("endpoint", sorted(ENDPOINTS))
def test_every_list_has_the_button_and_exports_all_rows_with_chinese_headers(client_as, db_session, endpoint):
    client = client_as("sysadmin")
    page = client.get(f"/admin/{endpoint}/").get_data(as_text=True)
    assert "导出Excel" in page and "选择导出字段" in page and 'name="col"' in page
    response = client.get(f"/admin/{endpoint}/export/xlsx/")
    assert "filename*=UTF-8''" in response.headers["Content-Disposition"]
    headers, rows = rows_of(sheet(response))
    model = ENDPOINTS[endpoint]
    assert len(rows) == db_session.scalar(select(func.count()).select_from(model))
    view_labels = [text for name, text, checked in _choices(client, endpoint) if checked]
    assert headers == view_labels
    assert all(h and not h.isascii() or h in ("Email", "E-mail", "QQ") for h in headers)


def _choices(client, endpoint):
    from flask import current_app

    from admin_views.downloads import find_view

    return find_view(current_app, endpoint).export_column_choices()


def test_user_export_never_offers_password_hash(client_as):
    client = client_as("sysadmin")
    assert "password_hash" not in [n for n, _, _ in _choices(client, "user")]
    headers, _ = rows_of(sheet(client.get("/admin/user/export/xlsx/?col=password_hash&col=username")))
    assert headers == ["用户名"]


def test_export_is_scoped_filtered_searched_and_sorted(client_as, db_session):
    client = client_as("unit_cqu")
    cqu = unit_id(db_session, "重庆大学")
    _, rows = rows_of(sheet(client.get("/admin/person/export/xlsx/?col=id_no&col=name")))
    cqu_user = db_session.scalar(select(User.id).where(User.username == "unit_cqu"))
    expected = set(db_session.scalars(select(Person.id_no).where(or_(Person.unit_id == cqu, Person.user_id == cqu_user))))
    assert {r[0] for r in rows} == expected and len(rows) == len(expected)
    # a filter (状态 = 待审核) and a search, as the page builds them, plus sort by 姓名 descending
    view = _view("person")
    index, flt = next((i, f) for i, f in enumerate(view._filters) if str(f.name) == "状态")
    status_filter = view.get_filter_arg(index, flt)
    assert client.get(f"/admin/person/?flt1_{status_filter}=pending").status_code == 200
    sort_idx = [n for n, _ in view._list_columns].index("name")
    url = f"/admin/person/export/xlsx/?flt1_{status_filter}=pending&sort={sort_idx}&desc=1&col=name&col=review_status&col=unit"
    headers, rows = rows_of(sheet(client.get(url)))
    assert headers == ["姓名", "状态", "工作单位"]
    pending = db_session.scalar(
        select(func.count()).select_from(Person).where(or_(Person.unit_id == cqu, Person.user_id == cqu_user), Person.review_status == ReviewStatus.pending)
    )
    assert len(rows) == pending > 0
    assert {r[1] for r in rows} == {"待审核"} and {r[2] for r in rows} == {"重庆大学"}
    names = [r[0] for r in rows]
    assert names == sorted(names, reverse=True) or len(set(names)) < len(names)
    someone = rows[0][0]
    _, found = rows_of(sheet(client.get(f"/admin/person/export/xlsx/?search={someone}&col=name")))
    assert found and all(someone in r[0] for r in found)


def _view(endpoint):
    from flask import current_app

    from admin_views.downloads import find_view

    return find_view(current_app, endpoint)


def test_selected_rows_only_and_foreign_ids_answer_404(client_as, db_session):
    client = client_as("unit_cqu")
    cqu, swu = unit_id(db_session, "重庆大学"), unit_id(db_session, "西南大学")
    mine = db_session.scalars(select(Person.id).where(Person.unit_id == cqu).order_by(Person.id).limit(2)).all()
    foreign = db_session.scalar(select(Person.id).where(Person.unit_id == swu))
    response = client.post_form("/admin/person/export/xlsx/", {"rowid": [str(i) for i in mine], "col": ["id_no"]})
    _, rows = rows_of(sheet(response))
    assert sorted(r[0] for r in rows) == sorted(db_session.scalars(select(Person.id_no).where(Person.id.in_(mine))))
    assert client.post_form("/admin/person/export/xlsx/", {"rowid": [str(mine[0]), str(foreign)]}).status_code == 404
    assert client.get(f"/admin/person/export/xlsx/?rowid={foreign}").status_code == 404
    assert client.get("/admin/person/export/xlsx/?rowid=abc").status_code == 404


def test_another_unit_admin_never_gets_our_rows(client_as, db_session):
    cqu = unit_id(db_session, "重庆大学")
    ours = set(db_session.scalars(select(Person.id_no).where(Person.unit_id == cqu)))
    _, rows = rows_of(sheet(client_as("unit_swu").get("/admin/person/export/xlsx/?col=id_no")))
    assert rows and not ({r[0] for r in rows} & ours)
    _, units = rows_of(sheet(client_as("unit_swu").get("/admin/unit/export/xlsx/?col=name")))
    assert [r[0] for r in units] == ["西南大学"]


def test_roles_without_the_list_get_404(client_as):
    assert client_as("applicant_zhang").get("/admin/unit/export/xlsx/").status_code == 404
    assert client_as("sysadmin").get("/admin/unit/export/csv/").status_code == 404


def test_formula_like_text_comes_back_as_text(client_as, db_session):
    cqu = unit_id(db_session, "重庆大学")
    people = db_session.scalars(select(Person).where(Person.unit_id == cqu).order_by(Person.id).limit(len(DANGEROUS))).all()
    for person, text in zip(people, DANGEROUS):
        person.major = text
    db_session.commit()
    ids = [str(p.id) for p in people]
    response = client_as("unit_cqu").post_form("/admin/person/export/xlsx/", {"rowid": ids, "col": ["id_no", "major"]})
    ws = sheet(response)
    got = {row[0].value: row[1] for row in ws.iter_rows(min_row=2)}
    for person, text in zip(people, DANGEROUS):
        cell = got[person.id_no]
        assert cell.value == text and cell.data_type == "s"


def test_typed_values_dictionary_labels_and_field_order(client_as, db_session):
    unit = db_session.scalar(select(Unit).where(Unit.name == "重庆大学"))
    unit.registered_on = date(1929, 10, 12)
    unit.registered_capital = Decimal("12345.67")
    db_session.commit()
    response = client_as("unit_cqu").get("/admin/unit/export/xlsx/?col=registered_capital&col=name&col=registered_on&col=nature&col=status&col=bogus")
    ws = sheet(response)
    headers, rows = rows_of(ws)
    assert headers == ["注册资本(万元)", "单位名称", "注册时间", "单位性质", "审核状态"]
    capital, name, registered, nature, status = list(ws.iter_rows(min_row=2, max_row=2))[0]
    assert capital.value == pytest.approx(12345.67) and capital.data_type == "n"
    assert registered.is_date and registered.value == datetime(1929, 10, 12)
    assert nature.value == (unit.nature.name if unit.nature else None)
    assert status.value == unit.status.label
    region = sheet(client_as("sysadmin").get("/admin/region/export/xlsx/?col=name&col=in_liangjiang&col=kind"))
    values = {r[0]: r for r in rows_of(region)[1]}
    assert values["渝北区"][1] in ("是", "否") and values["渝北区"][2] == "区县"
    dictionary = rows_of(sheet(client_as("sysadmin").get("/admin/dictionary/export/xlsx/?col=category&col=name")))[1]
    assert ("学历", "博士研究生") in dictionary or any(r[0] == "学历" for r in dictionary)


def test_every_formatted_export_column_reads_the_same_through_rules_display(app, client_as, db_session):
    """A view that formats a column exports it through rules.display (the worker has no views):
    for every view, every offered column it formats, every row, both give the same cell."""
    from inspect import getattr_static

    from markupsafe import Markup

    from admin_views.base import ScopedModelView
    from rules import display

    client_as("unit_cqu").post_form("/admin/person/export/xlsx/", {"col": ["name"]})  # something in the logs
    person = db_session.scalar(select(Person).order_by(Person.id))
    person.major = "<b>a&b</b>  two  spaces"  # the 操作日志 change set shows this value
    db_session.commit()
    checked = set()
    for admin in app.extensions["admin"]:
        for view in admin._views:
            if not isinstance(view, ScopedModelView) or getattr_static(view, "can_export", True) is False:
                continue
            formatted = {**(view.column_formatters or {}), **(view.column_formatters_export or {})}
            rows = db_session.scalars(select(view.model).limit(300)).all()
            for name, _, _ in view.export_column_choices():
                if name not in formatted:
                    continue
                read = display.reader(view.model, name)
                assert read is not None, f"{view.endpoint}.{name} is formatted in the view but has no reader in rules/display.py"
                for row in rows:
                    shown = formatted[name](view, None, row, name)
                    shown = shown.striptags() if isinstance(shown, Markup) else shown
                    assert cell_value(read(row)) == cell_value(shown), (view.endpoint, name, row)
                checked.add((view.endpoint, name, bool(rows)))
    assert {("declaration", "status", True), ("person", "review_level", True), ("operation_log", "after", True),
            ("user", "modules", True), ("call", "quota_rule", True), ("review_record", "action", True)} <= checked


def test_display_formatters_give_a_view_the_readers_of_rules_display(db_session):
    from admin_views.export import display_formatters

    formatters = display_formatters(User, "active", "modules")
    user = db_session.scalar(select(User).where(User.username == "unit_cqu"))
    assert formatters["active"](None, None, user, "active") == "已启用"
    with pytest.raises(KeyError):
        display_formatters(User, "no_such_column")


# -- the 选择导出字段 dialog in a browser -------------------------------------------------------
from tests.test_browser import live_server, page  # noqa: E402,F401  (fixtures)


@pytest.mark.browser
def test_dialog_picks_orders_columns_and_exports_the_ticked_rows(live_server, page, db_session):
    from tests.conftest import DEMO_PASSWORD

    page.goto(f"{live_server}/login")
    page.fill("#username", "unit_cqu")
    page.fill("#password", DEMO_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server}/admin/**")
    page.goto(f"{live_server}/admin/person/?search=500")
    boxes = page.locator("input.action-checkbox")
    boxes.nth(0).check()
    boxes.nth(1).check()
    ticked = [boxes.nth(0).get_attribute("value"), boxes.nth(1).get_attribute("value")]
    page.click("#export-xlsx")
    page.wait_for_selector("#export-dialog.show")
    assert page.locator("#export-selected-count").inner_text() == "2"
    page.click("[data-export-check=none]")
    page.check("#export-columns input[value=id_no]")
    page.check("#export-columns input[value=name]")
    up = page.locator("#export-columns li", has=page.locator("input[value=id_no]")).locator("[data-export-move=up]")
    up.click()  # 姓名, 性别, 证件号码 → 姓名, 证件号码, 性别
    up.click()  # → 证件号码, 姓名
    with page.expect_download() as info:
        page.click("#export-form button[type=submit]")
    download = info.value
    assert download.suggested_filename.startswith("个人信息审核_") and download.suggested_filename.endswith(".xlsx")
    ws = openpyxl.load_workbook(io.BytesIO(open(download.path(), "rb").read())).active
    rows = list(ws.iter_rows(values_only=True))
    assert rows[0] == ("证件号码", "姓名")
    expected = set(db_session.scalars(select(Person.id_no).where(Person.id.in_([int(i) for i in ticked]))))
    assert {r[0] for r in rows[1:]} == expected and len(rows) == 3


def test_export_selected_action_on_every_list(client_as, db_session):
    client = client_as("unit_cqu")
    page = client.get("/admin/person/").get_data(as_text=True)
    assert "仅导出列表中勾选的记录" in page and 'class="action-checkbox"' in page  # the 导出Excel dialog
    cqu, swu = unit_id(db_session, "重庆大学"), unit_id(db_session, "西南大学")
    mine = db_session.scalars(select(Person.id).where(Person.unit_id == cqu).order_by(Person.id).limit(3)).all()
    _, rows = rows_of(sheet(client.action("person", "export_selected", mine)))
    assert len(rows) == 3
    foreign = db_session.scalar(select(Person.id).where(Person.unit_id == swu))
    assert client.action("person", "export_selected", [mine[0], foreign]).status_code == 404
