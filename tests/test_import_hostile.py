"""数据导入 of hostile files: broken zips and XML, XXE, billion laughs, zip bombs, too many cells,
NUL and over-long cells, forged confirmation tokens. Each is refused in Chinese, never with a 5xx;
the upload is gone from disk and nothing is imported."""
from __future__ import annotations

import io
import re
import zipfile

import pytest
import xlsxwriter
from sqlalchemy import func, select

from models import AuditLog, Region
from rules import xlsx_guard
from rules.importing import Invalid, integer, text

HEADERS = ["行政区划代码", "名称", "类型"]
SHEET = "xl/worksheets/sheet1.xml"
STRINGS = "xl/sharedStrings.xml"


def workbook(rows=(("500166", "敌意测试区", "区县"),), headers=HEADERS) -> bytes:
    """An import file as Excel saves one (xlsxwriter: shared strings, a <dimension>)."""
    buf = io.BytesIO()
    wb = xlsxwriter.Workbook(buf, {"in_memory": True})
    ws = wb.add_worksheet()
    for r, row in enumerate([headers, *rows]):
        ws.write_row(r, 0, row)
    wb.close()
    return buf.getvalue()


def rezip(data: bytes, change=None, drop=(), add=None, compression=zipfile.ZIP_DEFLATED) -> bytes:
    """The same zip with some parts rewritten (bytes → bytes), dropped or added."""
    change, add = change or {}, add or {}
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w", compression) as dst:
        for info in src.infolist():
            if info.filename in drop:
                continue
            body = src.read(info)
            dst.writestr(info.filename, change[info.filename](body) if info.filename in change else body)
        for name, body in add.items():
            dst.writestr(name, body)
    return out.getvalue()


def after_prolog(insert: bytes):
    """Put `insert` between a part's XML declaration and its root element."""
    return lambda body: body.replace(b"?>", b"?>" + insert, 1)


def sheet_with(cells: str, dimension: str = "A1:C2"):
    """Replace the sheet's rows by raw XML, with a dimension that may lie."""
    def change(body: bytes) -> bytes:
        body = re.sub(rb'<dimension ref="[^"]*"/>', f'<dimension ref="{dimension}"/>'.encode(), body)
        return re.sub(rb"<sheetData>.*</sheetData>", f"<sheetData>{cells}</sheetData>".encode(), body, flags=re.S)
    return change


def inline_row(number: int, *values: str) -> str:
    cells = "".join(f'<c r="{col}{number}" t="inlineStr"><is><t>{v}</t></is></c>' for col, v in zip("ABC", values))
    return f'<row r="{number}">{cells}</row>'


HEADER_ROW = inline_row(1, *HEADERS)
XXE = b'<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
LAUGHS = (b'<!DOCTYPE lolz [<!ENTITY lol "lol">'
          + b"".join(f'<!ENTITY lol{i} "{("&lol%s;" % (i - 1 if i > 1 else "")) * 10}">'.encode() for i in range(1, 10))
          + b"]>")
GOOD = workbook()
MANY_ROWS = workbook([(f"5001{i:04d}", f"敌意测试区{i}", "区县") for i in range(3000)])  # sheet1.xml > 64 KB


def build(case: str) -> bytes:
    """One hostile file per case, built here so that each stays cheap (all well under a second)."""
    return {
        "not a zip": lambda: b"this is not a spreadsheet at all",
        "zip magic, then junk": lambda: b"PK\x03\x04" + b"\x00" * 200,
        "truncated zip": lambda: GOOD[: len(GOOD) // 2],
        "zip without workbook": lambda: rezip(GOOD, drop={"xl/workbook.xml"}),
        "zip of something else": lambda: rezip(GOOD, drop={"[Content_Types].xml"}, add={"readme.txt": b"hello"}),
        "broken XML at the top of sheet1": lambda: rezip(GOOD, {SHEET: lambda b: b.replace(b"<dimension ", b"<dimension <", 1)}),
        "broken XML deep in sheet1": lambda: rezip(MANY_ROWS, {SHEET: lambda b: b.replace(b"</sheetData>", b"<row></sheetData>")}),
        "broken XML in sharedStrings": lambda: rezip(GOOD, {STRINGS: lambda b: b.replace(b"</sst>", b"<si>")}),
        "XXE in sheet1": lambda: rezip(GOOD, {SHEET: after_prolog(XXE)}),
        "XXE in [Content_Types].xml": lambda: rezip(GOOD, {"[Content_Types].xml": after_prolog(XXE)}),
        "billion laughs in sharedStrings": lambda: rezip(GOOD, {STRINGS: after_prolog(LAUGHS)}),
        "DTD hidden after a 100 KB comment": lambda: rezip(GOOD, {SHEET: after_prolog(b"<!--" + b" " * 100_000 + b"-->" + XXE)}),
        "zip bomb over the unpacked cap": lambda: rezip(GOOD, add={"xl/media/zeros.bin": b"\x00" * (3 << 20)}),
        "zip bomb by compression ratio": lambda: rezip(GOOD, add={"xl/media/zeros.bin": b"\x00" * (8 << 20)}),
        "too many parts": lambda: rezip(GOOD, add={f"xl/media/p{i}.bin": b"" for i in range(1001)}, compression=zipfile.ZIP_STORED),
        "dimension claims 10^7 cells": lambda: rezip(GOOD, {SHEET: sheet_with(HEADER_ROW, "A1:J1000000")}),
        "dimension lies small, cells over the cap": lambda: rezip(GOOD, {SHEET: sheet_with(
            HEADER_ROW + "".join(inline_row(n, f"5002{n:02d}", f"敌意测试区{n}", "区县") for n in range(2, 40)))}),
        "a row gap to row 10^9": lambda: rezip(GOOD, {SHEET: sheet_with(HEADER_ROW + inline_row(1_000_000_000, "500201", "敌意测试区", "区县"))}),
        "NUL as a character reference": lambda: rezip(GOOD, {SHEET: sheet_with(HEADER_ROW + inline_row(2, "500201", "敌意&#0;测试区", "区县"))}),
        "NUL in a cell (Excel's _x0000_)": lambda: workbook([("500166", "敌意\x00测试区", "区县")]),
        "5,000-character cell": lambda: workbook([("500166", "敌意" + "长" * 5000, "区县")]),
        "5,000-character header": lambda: workbook(headers=[*HEADERS, "类" * 5000]),
        "5,000-digit 排序": lambda: workbook([("500166", "敌意测试区", "区县", "9" * 5000)], [*HEADERS, "排序"]),
        "排序 with a billion-digit exponent": lambda: workbook([("500166", "敌意测试区", "区县", "1e999999999")], [*HEADERS, "排序"]),
    }[case]()


# case, config overrides, the Chinese message the user reads
CASES = [
    ("not a zip", {}, "文件不是 Excel（.xlsx）格式"),
    ("zip magic, then junk", {}, "文件无法读取：不是有效的 Excel（.xlsx）文件"),
    ("truncated zip", {}, "文件无法读取：不是有效的 Excel（.xlsx）文件"),
    ("zip without workbook", {}, "文件无法读取：不是有效的 Excel（.xlsx）文件"),
    ("zip of something else", {}, "文件无法读取：不是有效的 Excel（.xlsx）文件"),
    ("broken XML at the top of sheet1", {}, "文件无法读取：不是有效的 Excel（.xlsx）文件"),
    ("broken XML deep in sheet1", {}, "文件无法读取：不是有效的 Excel（.xlsx）文件"),
    ("broken XML in sharedStrings", {}, "文件无法读取：不是有效的 Excel（.xlsx）文件"),
    ("XXE in sheet1", {}, "文件包含不允许的内容（外部实体声明）"),
    ("XXE in [Content_Types].xml", {}, "文件包含不允许的内容（外部实体声明）"),
    ("billion laughs in sharedStrings", {}, "文件包含不允许的内容（外部实体声明）"),
    ("DTD hidden after a 100 KB comment", {}, "文件无法读取：不是有效的 Excel（.xlsx）文件"),
    ("zip bomb over the unpacked cap", {"IMPORT_MAX_UNPACKED_BYTES": 2 << 20}, "文件过大：解压后超过 2 MB"),
    ("zip bomb by compression ratio", {}, "压缩比过高"),
    ("too many parts", {}, "最多 1000 个"),
    ("dimension claims 10^7 cells", {}, "单元格过多：最多 3,000,000 个"),
    ("dimension lies small, cells over the cap", {"IMPORT_MAX_CELLS": 60}, "单元格过多：最多 60 个"),
    ("a row gap to row 10^9", {"IMPORT_MAX_CELLS": 1000}, "单元格过多：最多 1,000 个"),
    ("NUL as a character reference", {}, "文件无法读取：不是有效的 Excel（.xlsx）文件"),
    ("NUL in a cell (Excel's _x0000_)", {}, "含有空字符（NUL），请删除后重新上传"),
    ("5,000-character cell", {}, "长度不能超过 40 个字符"),
    ("5,000-character header", {}, "无法识别的列：" + "类" * 30 + "…"),
    ("5,000-digit 排序", {}, "数值超出范围"),
    ("排序 with a billion-digit exponent", {}, "数值超出范围"),
]


def region_count(db_session, *where) -> int:
    return db_session.scalar(select(func.count()).select_from(Region).where(*where))


def import_count(db_session) -> int:
    return db_session.scalar(select(func.count()).select_from(AuditLog).where(AuditLog.action == "import"))


def post_file(client, data: bytes):
    return client.post_form("/admin/data_import/region/upload/", {"file": (io.BytesIO(data), "敌意.xlsx")},
                            content_type="multipart/form-data", follow_redirects=True)


@pytest.mark.parametrize("case, config, message", CASES, ids=[c[0] for c in CASES])
def test_hostile_file_is_refused_removed_and_imports_nothing(app, client_as, db_session, tmp_path, monkeypatch, case, config, message):
    monkeypatch.setitem(app.config, "IMPORT_DIR", str(tmp_path))
    for key, value in config.items():
        monkeypatch.setitem(app.config, key, value)
    regions, imports = region_count(db_session), import_count(db_session)
    response = post_file(client_as("sysadmin"), build(case))
    page = response.get_data(as_text=True)
    assert response.status_code < 500, page[-2000:]
    assert message in page, page[-3000:]
    assert "确认导入" not in page
    assert list(tmp_path.iterdir()) == []  # the upload is gone
    db_session.expire_all()
    assert region_count(db_session) == regions and region_count(db_session, Region.name.like("敌意%")) == 0
    assert import_count(db_session) == imports


# Refused by the zip look alone, before openpyxl opens anything
BEFORE_PARSING = ["zip magic, then junk", "truncated zip", "zip without workbook", "zip of something else",
                  "broken XML at the top of sheet1", "XXE in sheet1", "XXE in [Content_Types].xml",
                  "billion laughs in sharedStrings", "DTD hidden after a 100 KB comment", "zip bomb by compression ratio",
                  "too many parts", "dimension claims 10^7 cells"]


@pytest.mark.parametrize("case", BEFORE_PARSING)
def test_the_guard_refuses_before_any_parser(case, monkeypatch):
    def no_parsing(*args, **kwargs):
        raise AssertionError("openpyxl was asked to parse a file the guard should have refused")

    monkeypatch.setattr("openpyxl.load_workbook", no_parsing)
    message = next(m for c, _, m in CASES if c == case)
    assert message in xlsx_guard.problem(io.BytesIO(build(case)), xlsx_guard.Limits())


def test_the_guard_lets_a_real_file_through_and_caps_grow_with_the_rows():
    assert xlsx_guard.problem(io.BytesIO(MANY_ROWS), xlsx_guard.Limits()) is None
    assert xlsx_guard.Limits.for_rows(100_000) == xlsx_guard.Limits()
    big = xlsx_guard.Limits.for_rows(10_000_000)  # the command line's allowance
    assert (big.cells, big.unpacked_bytes) == (300_000_000, 100 * 200 * xlsx_guard.MB)


@pytest.mark.parametrize("ref, cells", [("A1", 1), ("A1:C2", 6), ("$A$1:$S$100001", 19 * 100_001), ("B2:A1", 4),
                                        ("A1:XFD1048576", 16384 * 1048576), ("A1:A99999999999", float("inf")), ("nonsense", 0)])
def test_dimension_cells(ref, cells):
    assert xlsx_guard.dimension_cells(ref) == cells


@pytest.mark.parametrize("value, reason", [("a\x00b", "含有空字符（NUL）"), ("a_x0000_b", "含有空字符（NUL）"), ("长" * 41, "长度不能超过 40 个字符")])
def test_text_cells_nul_and_length(value, reason):
    with pytest.raises(Invalid, match=re.escape(reason)):
        text(40)(value, {})


def test_excel_escapes_are_read_as_excel_shows_them():
    assert text(40)("第一行_x000D_\n第二行", {}) == "第一行\r\n第二行"
    assert text(40)("_x005F_x0041_", {}) == "_x0041_"  # an escaped underscore keeps the literal text
    assert text(40)("_xD800_", {}) == "_xD800_"  # a lone surrogate is not decoded (it could not be stored)


@pytest.mark.parametrize("value", ["9" * 5000, "1e999999999", "-2147483648", "sNaN", "Infinity"])
def test_integer_out_of_range_is_a_cell_error(value):
    with pytest.raises(Invalid):
        integer(value, {})


# -- confirmation tokens ---------------------------------------------------------------------
def _preview(client, tmp_path) -> str:
    page = post_file(client, workbook()).get_data(as_text=True)
    assert "新增 1 条" in page and len(list(tmp_path.iterdir())) == 1
    return re.search(r'name="token" value="([^"]+)"', page).group(1)


def _confirm(client, token, model="region"):
    return client.post_form(f"/admin/data_import/{model}/confirm/", {"token": token}, follow_redirects=True)


@pytest.mark.parametrize("token", ["", "nope", "../../../etc/passwd", "A" * 22, "x" * 5000, "a\x00b", "令牌" * 11])
def test_a_forged_token_is_a_chinese_message(app, client_as, db_session, tmp_path, monkeypatch, token):
    monkeypatch.setitem(app.config, "IMPORT_DIR", str(tmp_path))
    client = client_as("sysadmin")
    kept = _preview(client, tmp_path)
    response = _confirm(client, token)
    assert response.status_code == 200 and "导入文件已失效，请重新上传" in response.get_data(as_text=True)
    assert [p.name for p in tmp_path.iterdir()] == [f"{kept}.xlsx"]  # somebody else's forged token removes nothing
    assert region_count(db_session, Region.name.like("敌意%")) == 0


def test_another_users_token_and_an_expired_file(app, client_as, db_session, tmp_path, monkeypatch):
    monkeypatch.setitem(app.config, "IMPORT_DIR", str(tmp_path))
    sysadmin = client_as("sysadmin")
    token = _preview(sysadmin, tmp_path)
    page = _confirm(client_as("bureau"), token, "unit").get_data(as_text=True)  # not in the bureau's session
    assert "导入文件已失效" in page and len(list(tmp_path.iterdir())) == 1
    (tmp_path / f"{token}.xlsx").unlink()  # swept after a day
    assert "导入文件已失效" in _confirm(sysadmin, token).get_data(as_text=True)
    assert region_count(db_session, Region.name.like("敌意%")) == 0


def test_a_confirmation_uses_the_upload_up(app, client_as, db_session, tmp_path, monkeypatch):
    monkeypatch.setitem(app.config, "IMPORT_DIR", str(tmp_path))
    client = client_as("sysadmin")
    token = _preview(client, tmp_path)
    assert "区县/园区导入完成：新增 1 条" in _confirm(client, token).get_data(as_text=True)
    assert list(tmp_path.iterdir()) == [] and region_count(db_session, Region.name.like("敌意%")) == 1
    assert "导入文件已失效" in _confirm(client, token).get_data(as_text=True)  # a second click imports nothing twice
    assert region_count(db_session, Region.name.like("敌意%")) == 1
