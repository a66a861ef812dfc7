"""数据导入: template, dry-run preview with every error, confirm in one audited transaction,
idempotent re-import, refused files, roles, and the CLI."""
from __future__ import annotations

import io
import re

import openpyxl
import pytest
from sqlalchemy import func, select

from models import AuditLog, DictItem, Region, Unit
from rules.importing import ENCRYPTED_MARK, OLE_MAGIC, SPECS
from seed.demo import make_uscc


def xlsx(headers, rows) -> bytes:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(headers)
    for row in rows:
        ws.append(row)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def upload(client, name, data: bytes, filename="数据.xlsx"):
    return client.post_form(
        f"/admin/data_import/{name}/upload/",
        {"file": (io.BytesIO(data), filename)},
        content_type="multipart/form-data",
    )


def confirm(client, name, page: str):
    token = re.search(r'name="token" value="([^"]+)"', page).group(1)
    return client.post_form(f"/admin/data_import/{name}/confirm/", {"token": token}, follow_redirects=True)


def count(db_session, model, *where):
    return db_session.scalar(select(func.count()).select_from(model).where(*where))


UNIT_HEADERS = ["单位名称", "统一社会信用代码", "单位所在区县", "注册时间", "注册资本(万元)", "实收资本(万元)", "单位性质", "单位联系人手机"]


def test_template_has_chinese_headers_and_an_example_that_imports(client_as, db_session):
    client = client_as("sysadmin")
    response = client.get("/admin/data_import/unit/template/")
    assert response.status_code == 200 and "filename*=UTF-8''" in response.headers["Content-Disposition"]
    ws = openpyxl.load_workbook(io.BytesIO(response.data)).active
    rows = list(ws.iter_rows(values_only=True))
    assert list(rows[0]) == SPECS["unit"].headers and len(rows) == 2
    page = upload(client, "unit", response.data).get_data(as_text=True)
    assert "新增 1 条" in page and "确认导入" in page
    done = confirm(client, "unit", page).get_data(as_text=True)
    assert "单位信息导入完成：新增 1 条" in done
    unit = db_session.scalar(select(Unit).where(Unit.uscc == rows[1][1]))
    assert unit.name == rows[1][0] and unit.region.name == "渝北区" and unit.nature.name == "非公有制经济"
    created = db_session.scalars(select(AuditLog).where(AuditLog.table_name == "unit", AuditLog.action == "create")).all()
    assert [a.after["uscc"] for a in created] == [unit.uscc]  # audited, in the same transaction
    assert count(db_session, AuditLog, AuditLog.action == "import") == 1


def test_good_dictionary_file_creates_updates_and_reimport_changes_nothing(client_as, db_session):
    client = client_as("sysadmin")
    data = xlsx(["字典类别", "代码", "名称", "排序", "启用"], [
        ["学历", "01", "博士研究生（更新）", 1, "是"],
        ["职称", "T99", "研究员级高级工程师", 99, "是"],
        ["tech_level", "X1", "国际领先", 1, "否"],
    ])
    page = upload(client, "dictionary", data).get_data(as_text=True)
    assert "新增 2 条，更新 1 条，未变化 0 条" in page
    assert "博士研究生 → 博士研究生（更新）" in page
    assert count(db_session, DictItem, DictItem.code == "T99") == 0  # a preview writes nothing
    confirm(client, "dictionary", page)
    db_session.expire_all()
    assert db_session.scalar(select(DictItem.name).where(DictItem.category == "education", DictItem.code == "01")) == "博士研究生（更新）"
    assert db_session.scalar(select(DictItem.active).where(DictItem.category == "tech_level", DictItem.code == "X1")) is False
    audits = count(db_session, AuditLog)
    again = upload(client, "dictionary", data).get_data(as_text=True)
    assert "新增 0 条，更新 0 条，未变化 3 条" in again and "确认导入" not in again
    assert count(db_session, AuditLog) == audits


def test_errors_in_several_rows_are_all_listed_and_nothing_is_written(client_as, db_session):
    client = client_as("bureau")
    good = make_uscc(900_001, "91", "500112")
    rows = [
        ["好单位甲", good, "渝北区", "2020-01-02", 100, 50, "非公有制经济", "13800000001"],
        ["坏代码单位", "91500112MA5U3K8X2A", "渝北区", None, None, None, None, None],
        ["", make_uscc(900_002, "91", "500112"), "火星区", "2020-13-01", "abc", None, "不存在的性质", "12345"],
        ["资本倒挂", make_uscc(900_003, "91", "500112"), None, None, 10, 20, None, None],
        ["好单位甲重复", good, None, None, None, None, None, None],
        ["重庆大学", make_uscc(900_004, "12", "500000"), None, None, None, None, None, None],
    ]
    before = count(db_session, Unit)
    response = upload(client, "unit", xlsx(UNIT_HEADERS, rows))
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and "未导入任何记录" in page and "确认导入" not in page
    errors = set(re.findall(r"<td>第 (\d+) 行</td><td>([^<]+)</td><td class=\"text-danger\">([^<]+)</td>", page))
    expected = {
        ("3", "统一社会信用代码", "统一社会信用代码校验位不正确"),
        ("4", "单位名称", "不能为空"),
        ("4", "单位所在区县", "“火星区”不是重庆市的区县或园区"),
        ("4", "注册时间", "应为日期，如 2020-01-31"),
        ("4", "注册资本(万元)", "应为数字"),
        ("4", "单位性质", "“不存在的性质”不是有效的单位性质"),
        ("4", "单位联系人手机", "请输入 11 位手机号码"),
        ("5", "实收资本(万元)", "实收资本不能大于注册资本"),
        ("6", "统一社会信用代码", "与第 2 行重复"),
        ("7", "单位名称", "“重庆大学”已被其他记录使用"),
    }
    assert expected <= errors, errors - expected
    assert count(db_session, Unit) == before


@pytest.mark.parametrize(
    "data, filename, message",
    [
        (b"name,uscc\n", "units.csv", "只能导入 .xlsx 格式"),
        (b"this is not a spreadsheet", "假的.xlsx", "文件不是 Excel（.xlsx）格式"),
        (b"", "空.xlsx", "文件为空"),
        (OLE_MAGIC + b"\x00" * 504 + ENCRYPTED_MARK + b"\x00" * 100, "加密.xlsx", "设置了打开密码"),
        (OLE_MAGIC + b"\x00" * 600, "旧版.xlsx", "旧版 .xls"),
        (b"PK\x03\x04broken zip", "坏.xlsx", "无法读取"),
    ],
)
def test_refused_files_say_why(client_as, data, filename, message):
    page = upload(client_as("sysadmin"), "region", data, filename).get_data(as_text=True)
    if "导入失败" not in page:
        page = client_as("sysadmin").get("/admin/data_import/").get_data(as_text=True)
    assert message in page


def _refusal(client, name, data):
    response = upload(client, name, data)
    assert response.status_code == 302
    return client.get("/admin/data_import/").get_data(as_text=True)


def test_refused_sheets_empty_missing_unknown_columns_too_large(app, client_as, db_session):
    client = client_as("sysadmin")
    headers = ["行政区划代码", "名称", "类型"]
    assert "文件为空" in _refusal(client, "region", xlsx([], []))
    page = _refusal(client, "region", xlsx(["行政区划代码", "类型", "备注"], [["500199", "区县", "x"]]))
    assert "缺少必填列：名称" in page and "无法识别的列：备注" in page
    assert "没有需要导入的变化" in upload(client, "region", xlsx(headers, [])).get_data(as_text=True)
    old = app.config.get("IMPORT_MAX_BYTES")
    app.config["IMPORT_MAX_BYTES"] = 1000
    try:
        assert "文件过大" in _refusal(client, "region", xlsx(headers, [["500199", "测试区", "区县"]]))
    finally:
        app.config["IMPORT_MAX_BYTES"] = old or 10 * 1024 * 1024
    app.config["IMPORT_MAX_ROWS"] = 2
    try:
        assert "数据行数过多" in _refusal(client, "region", xlsx(headers, [[f"5009{i:02d}", f"测试区{i}", "区县"] for i in range(3)]))
    finally:
        app.config["IMPORT_MAX_ROWS"] = 100_000
    assert count(db_session, Region, Region.code.like("5009%")) == 0


def test_region_import_upserts_by_code_and_checks_names(client_as, db_session):
    client = client_as("sysadmin")
    headers = ["行政区划代码", "名称", "类型", "两江新区", "排序"]
    page = upload(client, "region", xlsx(headers, [["500199", "测试新区", "园区/新区", "是", 99], ["500188", "渝北区", "区县", "否", 1]])).get_data(as_text=True)
    assert "“渝北区”已被其他记录使用" in page
    page = upload(client, "region", xlsx(headers, [["500199", "测试新区", "园区/新区", "是", 99]])).get_data(as_text=True)
    confirm(client, "region", page)
    region = db_session.scalar(select(Region).where(Region.code == "500199"))
    assert region.name == "测试新区" and region.in_liangjiang is True and region.kind.label == "园区/新区"


def test_update_preview_names_dictionary_values(client_as, db_session):
    unit = db_session.scalar(select(Unit).where(Unit.uscc.is_not(None), Unit.nature_id.is_not(None)).order_by(Unit.id))
    other = db_session.scalar(select(DictItem).where(DictItem.category == "unit_nature", DictItem.id != unit.nature_id).order_by(DictItem.id))
    page = upload(client_as("bureau"), "unit", xlsx(["单位名称", "统一社会信用代码", "单位性质"], [[unit.name, unit.uscc, other.name]])).get_data(as_text=True)
    assert "更新 1 条" in page and f"单位性质：{unit.nature.name} → {other.name}" in page


def test_roles_and_tokens(client_as):
    assert client_as("unit_cqu").get("/admin/data_import/").status_code == 404
    bureau = client_as("bureau")
    page = bureau.get("/admin/data_import/").get_data(as_text=True)
    assert 'id="import-unit"' in page and 'id="import-dictionary"' not in page
    assert bureau.get("/admin/data_import/dictionary/template/").status_code == 404
    sysadmin = client_as("sysadmin")
    page = upload(sysadmin, "region", xlsx(["行政区划代码", "名称", "类型"], [["500177", "令牌区", "区县"]])).get_data(as_text=True)
    token = re.search(r'name="token" value="([^"]+)"', page).group(1)
    other = client_as("bureau")
    assert other.post_form("/admin/data_import/region/confirm/", {"token": token}).status_code == 404
    page = client_as("sysadmin").post_form("/admin/data_import/unit/confirm/", {"token": token}, follow_redirects=True).get_data(as_text=True)
    assert "导入文件已失效" in page


def test_cli_import_dry_run_then_real_then_again(app, db_session, tmp_path):
    path = tmp_path / "units.xlsx"
    rows = [[f"命令行单位{i}", make_uscc(800_000 + i, "91", "500112"), "渝北区", None, None, None, "非公有制经济", None] for i in range(5)]
    path.write_bytes(xlsx(UNIT_HEADERS, rows))
    runner = app.test_cli_runner()
    result = runner.invoke(args=["import", "unit", str(path), "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "新增 5 条" in result.output and count(db_session, Unit, Unit.name.like("命令行单位%")) == 0
    result = runner.invoke(args=["import", "unit", str(path)])
    assert result.exit_code == 0 and "已导入单位信息" in result.output
    assert count(db_session, Unit, Unit.name.like("命令行单位%")) == 5
    result = runner.invoke(args=["import", "unit", str(path)])
    assert "新增 0 条，更新 0 条，未变化 5 条" in result.output
    bad = tmp_path / "bad.xlsx"
    bad.write_bytes(xlsx(UNIT_HEADERS, [["坏", "123", None, None, None, None, None, None]]))
    result = runner.invoke(args=["import", "unit", str(bad)])
    assert result.exit_code != 0 and "第 2 行" in result.output and "未导入任何记录" in result.output
