"""数据导入: template, dry-run preview with every error, confirm in one audited transaction,
idempotent re-import, refused files, roles, and the CLI."""
from __future__ import annotations

import dataclasses
import io
import re
from datetime import date
from decimal import Decimal

import openpyxl
import pytest
from sqlalchemy import func, select

from models import AuditLog, DictItem, Enterprise, EnterpriseStatus, Region, Role, StorageStatus, Unit, UnitStatus
from rules.importing import ENCRYPTED_MARK, OLE_MAGIC, SPECS, register
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


# -- 科技型企业 ---------------------------------------------------------------------------------
ENTERPRISE_HEADERS = ["企业名称", "统一社会信用代码", "所属区县", "所在园区/新区", "注册时间", "注册资本(万元)", "产业类别",
                      "企业规模", "高新技术领域", "科研联系人手机", "主营业务收入(千元)", "规上工业企业"]
YB, JB, BB = make_uscc(700_001, "91", "500112"), make_uscc(700_002, "91", "500105"), make_uscc(700_003, "91", "500109")
ENTERPRISE_ROWS = [  # an Excel date cell, a text date, a region by 行政区划代码, a lower-case credit code
    ["导入测试渝北传感科技有限公司", YB, "渝北区", "两江新区", date(2018, 3, 15), 500, "新一代信息技术", "小型", "电子信息",
     "13600000001", 12500.5, "否"],
    ["导入测试江北医药有限公司", JB.lower(), "江北区", None, "2009/11/02", "3000", "生物医药", "中型", "生物与新医药",
     "13600000002", 86000, "是"],
    ["导入测试北碚材料有限公司", BB, 500109, "西部科学城重庆高新区", None, None, "新材料", "微型", "新材料", None, None, None],
]


def test_enterprise_template_opens_with_chinese_headers_and_its_examples_import(client_as, db_session):
    client = client_as("bureau")
    response = client.get("/admin/data_import/enterprise/template/")
    assert response.status_code == 200 and "filename*=UTF-8''" in response.headers["Content-Disposition"]
    rows = list(openpyxl.load_workbook(io.BytesIO(response.data)).active.iter_rows(values_only=True))
    assert list(rows[0]) == ["企业名称", "统一社会信用代码", "所属区县", "所在园区/新区", "注册时间", "注册资本(万元)", "法定代表人",
                             "通信地址", "产业类型", "产业类别", "企业规模", "高新技术领域", "科研联系人", "科研联系人手机",
                             "主营业务", "主营业务收入(千元)", "规上工业企业"]
    assert len(rows) == 3 and rows[1][:4] == ("重庆示例智造科技有限公司", "91500112MA61C7LQ3L", "渝北区", "两江新区")
    page = upload(client, "enterprise", response.data).get_data(as_text=True)
    assert "新增 2 条，更新 0 条，未变化 0 条" in page
    assert "科技型企业导入完成：新增 2 条" in confirm(client, "enterprise", page).get_data(as_text=True)
    example = db_session.scalar(select(Enterprise).where(Enterprise.uscc == "91500112MA61C7LQ3L"))
    assert example.name == "重庆示例智造科技有限公司" and example.industry.name == "第二产业"


def test_good_enterprise_file_creates_typed_rows_with_labels_resolved(client_as, db_session):
    client = client_as("bureau")
    page = upload(client, "enterprise", xlsx(ENTERPRISE_HEADERS, ENTERPRISE_ROWS)).get_data(as_text=True)
    assert "共 3 行数据：新增 3 条，更新 0 条，未变化 0 条" in page and "确认导入" in page
    assert count(db_session, Enterprise, Enterprise.name.like("导入测试%")) == 0  # a preview writes nothing
    done = confirm(client, "enterprise", page).get_data(as_text=True)
    assert "科技型企业导入完成：新增 3 条，更新 0 条，未变化 0 条" in done
    yb, jb, bb = (db_session.scalar(select(Enterprise).where(Enterprise.uscc == code)) for code in (YB, JB, BB))
    assert (yb.region.name, yb.zone.name, yb.registered_on) == ("渝北区", "两江新区", date(2018, 3, 15))
    assert (yb.registered_capital, yb.main_revenue, yb.above_scale) == (Decimal("500.00"), Decimal("12500.50"), False)
    assert (yb.industry_category.name, yb.scale.name, yb.hitech_field.name, yb.contact_mobile) == ("新一代信息技术", "小型", "电子信息", "13600000001")
    assert (jb.registered_on, jb.zone, jb.above_scale, jb.scale.name) == (date(2009, 11, 2), None, True, "中型")
    assert (bb.region.name, bb.zone.name, bb.registered_on, bb.main_revenue, bb.above_scale) == ("北碚区", "西部科学城重庆高新区", None, None, False)
    # seeded by the city: reviewed, not yet in any library
    assert {(e.review_status, e.storage_status) for e in (yb, jb, bb)} == {(EnterpriseStatus.approved, StorageStatus.out)}
    assert count(db_session, AuditLog, AuditLog.table_name == "enterprise", AuditLog.action == "create") == 3
    # the city lists all three; 渝北区's reviewer only its own district's
    city = client.get("/admin/enterprise/?search=导入测试").get_data(as_text=True)
    assert all(name in city for name in ("导入测试渝北传感科技有限公司", "导入测试江北医药有限公司", "导入测试北碚材料有限公司"))
    district = client_as("authority_yb").get("/admin/enterprise/?search=导入测试").get_data(as_text=True)
    assert "导入测试渝北传感科技有限公司" in district and "导入测试江北医药有限公司" not in district


def test_enterprise_errors_in_several_rows_are_all_listed_and_nothing_is_written(client_as, db_session):
    taken = db_session.scalar(select(Enterprise.name).order_by(Enterprise.id))
    rows = [
        ["好企业甲", YB, "渝北区", None, None, None, None, None, None, None, None, None],
        ["坏代码企业", "91500112MA61C7LQ3A", "渝北区", None, None, None, None, None, None, None, None, None],
        ["", JB, "火星区", "渝北区", "2020-02-30", -5, "区块链", "超大型", None, "12345", "1.234", "可能"],
        ["园区当区县", BB, "两江新区", None, None, None, None, None, "人工智能", None, None, None],
        ["好企业甲重复", YB, "渝北区", None, None, None, None, None, None, None, None, None],
        [taken, make_uscc(700_004, "91", "500112"), "渝北区", None, None, None, None, None, None, None, None, None],
        ["缺区县企业", make_uscc(700_005, "91", "500112"), None, None, None, None, None, None, None, None, None, None],
    ]
    before = count(db_session, Enterprise)
    response = upload(client_as("bureau"), "enterprise", xlsx(ENTERPRISE_HEADERS, rows))
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and "未导入任何记录" in page and "确认导入" not in page
    errors = set(re.findall(r"<td>第 (\d+) 行</td><td>([^<]+)</td><td class=\"text-danger\">([^<]+)</td>", page))
    expected = {
        ("3", "统一社会信用代码", "统一社会信用代码校验位不正确"),
        ("4", "企业名称", "不能为空"),
        ("4", "所属区县", "“火星区”不是重庆市的区县或园区"),
        ("4", "所在园区/新区", "“渝北区”不是园区/新区"),
        ("4", "注册时间", "应为日期，如 2020-01-31"),
        ("4", "注册资本(万元)", "应为不小于 0 的数字"),
        ("4", "产业类别", "“区块链”不是有效的产业类别"),
        ("4", "企业规模", "“超大型”不是有效的企业规模"),
        ("4", "科研联系人手机", "请输入 11 位手机号码"),
        ("4", "主营业务收入(千元)", "最多保留 2 位小数"),
        ("4", "规上工业企业", "应填“是”或“否”"),
        ("5", "所属区县", "“两江新区”不是区县"),
        ("5", "高新技术领域", "“人工智能”不是有效的高新技术领域"),
        ("6", "统一社会信用代码", "与第 2 行重复"),
        ("7", "企业名称", f"“{taken}”已被其他记录使用"),
        ("8", "所属区县", "不能为空"),
    }
    assert errors == expected, (errors - expected, expected - errors)
    assert f"发现 {len(expected)} 处错误" in page
    assert count(db_session, Enterprise) == before


def test_enterprise_reimport_of_the_same_file_changes_nothing(client_as, db_session):
    client = client_as("sysadmin")
    data = xlsx(ENTERPRISE_HEADERS, ENTERPRISE_ROWS)
    confirm(client, "enterprise", upload(client, "enterprise", data).get_data(as_text=True))
    audits = count(db_session, AuditLog)
    stamps = dict(db_session.execute(select(Enterprise.uscc, Enterprise.updated_at).where(Enterprise.name.like("导入测试%"))).all())
    again = upload(client, "enterprise", data).get_data(as_text=True)
    assert "新增 0 条，更新 0 条，未变化 3 条" in again and "没有需要导入的变化" in again and "确认导入" not in again
    db_session.expire_all()
    assert count(db_session, AuditLog) == audits
    assert dict(db_session.execute(select(Enterprise.uscc, Enterprise.updated_at).where(Enterprise.name.like("导入测试%"))).all()) == stamps


def test_enterprise_update_by_credit_code_changes_only_the_file_columns(client_as, db_session):
    ent = db_session.scalar(select(Enterprise).where(Enterprise.review_status == EnterpriseStatus.pending,
                                                     Enterprise.scale_id.is_not(None), Enterprise.zone_id.is_not(None)).order_by(Enterprise.id))
    old_name, old_scale, old_zone, old_revenue = ent.name, ent.scale.name, ent.zone_id, ent.main_revenue
    new_scale = "大型" if old_scale != "大型" else "微型"
    headers = ["企业名称", "统一社会信用代码", "所属区县", "企业规模", "主营业务收入(千元)"]
    row = ["导入更名科技有限公司", ent.uscc.lower(), ent.region.name, new_scale, "88888.8"]
    client = client_as("bureau")
    page = upload(client, "enterprise", xlsx(headers, [row])).get_data(as_text=True)
    assert "新增 0 条，更新 1 条，未变化 0 条" in page
    assert f"企业名称：{old_name} → 导入更名科技有限公司" in page and f"企业规模：{old_scale} → {new_scale}" in page
    assert f"主营业务收入(千元)：{old_revenue} → 88888.80" in page
    before = count(db_session, Enterprise)
    assert "科技型企业导入完成：新增 0 条，更新 1 条" in confirm(client, "enterprise", page).get_data(as_text=True)
    db_session.expire_all()
    ent = db_session.get(Enterprise, ent.id)
    assert (ent.name, ent.scale.name, ent.main_revenue) == ("导入更名科技有限公司", new_scale, Decimal("88888.80"))
    assert (ent.zone_id, ent.review_status) == (old_zone, EnterpriseStatus.pending)  # not in the file: untouched
    assert count(db_session, Enterprise) == before
    update = db_session.scalar(select(AuditLog).where(AuditLog.table_name == "enterprise", AuditLog.action == "update",
                                                      AuditLog.row_id == str(ent.id)))
    assert update.after["name"] == "导入更名科技有限公司"


@pytest.mark.parametrize("username, may", [("sysadmin", True), ("bureau", True), ("authority_yb", False),
                                           ("unit_ent", False), ("applicant_ent", False)])
def test_only_the_city_may_import_enterprises(client_as, db_session, username, may):
    client = client_as(username)
    assert (client.get("/admin/data_import/enterprise/template/").status_code == 200) is may
    if may:
        assert 'id="import-enterprise"' in client.get("/admin/data_import/").get_data(as_text=True)
    else:
        assert upload(client, "enterprise", xlsx(ENTERPRISE_HEADERS, ENTERPRISE_ROWS)).status_code == 404
        assert count(db_session, Enterprise, Enterprise.name.like("导入测试%")) == 0


def test_a_spec_cannot_give_import_to_a_scoped_role():
    with pytest.raises(ValueError, match="全部"):
        register(dataclasses.replace(SPECS["enterprise"], name="enterprise_district", roles=frozenset({Role.authority})))
    assert "enterprise_district" not in SPECS


def test_cli_imports_enterprises(app, db_session, tmp_path):
    path = tmp_path / "enterprises.xlsx"
    path.write_bytes(xlsx(ENTERPRISE_HEADERS, ENTERPRISE_ROWS))
    runner = app.test_cli_runner()
    result = runner.invoke(args=["import", "enterprise", str(path), "--dry-run"])
    assert result.exit_code == 0 and "新增 3 条" in result.output, result.output
    assert count(db_session, Enterprise, Enterprise.name.like("导入测试%")) == 0
    result = runner.invoke(args=["import", "enterprise", str(path)])
    assert result.exit_code == 0 and "已导入科技型企业：共 3 行，新增 3 条" in result.output, result.output
    assert "新增 0 条，更新 0 条，未变化 3 条" in runner.invoke(args=["import", "enterprise", str(path)]).output


def test_an_enterprise_and_a_unit_with_one_credit_code_are_linked_whichever_comes_first(client_as, db_session):
    """The unit's own accounts see the enterprise (and fill its 年报) once both are on file."""
    from rules import scope

    region = db_session.scalar(select(Region.id).where(Region.name == "渝北区"))
    first = make_uscc(700_010, "91", "500112")
    unit = Unit(name="先有单位的企业", uscc=first, region_id=region, status=UnitStatus.approved)
    db_session.add(unit)
    db_session.commit()
    bureau = client_as("bureau")
    page = upload(bureau, "enterprise", xlsx(ENTERPRISE_HEADERS[:3], [["先有单位的企业", first, "渝北区"]])).get_data(as_text=True)
    confirm(bureau, "enterprise", page)
    enterprise = db_session.scalar(select(Enterprise).where(Enterprise.uscc == first))
    assert enterprise.unit_id == unit.id
    own = scope.Principal(user_id=0, role=Role.unit_admin, unit_id=unit.id)
    assert db_session.scalars(select(Enterprise.name).where(scope.predicate(own, Enterprise))).all() == ["先有单位的企业"]

    later = make_uscc(700_011, "91", "500112")
    page = upload(bureau, "enterprise", xlsx(ENTERPRISE_HEADERS[:3], [["后有单位的企业", later, "渝北区"]])).get_data(as_text=True)
    confirm(bureau, "enterprise", page)
    assert db_session.scalar(select(Enterprise.unit_id).where(Enterprise.uscc == later)) is None
    page = upload(bureau, "unit", xlsx(UNIT_HEADERS[:3], [["后有单位的企业", later, "渝北区"]])).get_data(as_text=True)
    assert "新增 1 条" in page, page[-2000:]
    confirm(bureau, "unit", page)
    db_session.expire_all()
    linked = db_session.scalar(select(Enterprise).where(Enterprise.uscc == later))
    assert linked.unit_id == db_session.scalar(select(Unit.id).where(Unit.uscc == later))
    assert count(db_session, AuditLog, AuditLog.table_name == "enterprise", AuditLog.summary == "按统一社会信用代码关联单位") == 2
