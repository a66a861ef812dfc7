"""The call designer (申报批次, issue #14) through the HTTP client: the bureau sets up a call in
ticks and rows, the stored JSON is what a hand-written expectation says, an applicant's
declaration then goes the designed way; bad rows are refused at the row in Chinese, nothing typed
is lost, and no input gives a 500."""
from __future__ import annotations

import io
import re
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select

from models import Call, Status

from .form_helpers import field_errors, form_data
from .test_workflow import act, decl, text

YEAR = datetime.now().year
NOW = datetime.now().replace(microsecond=0)
INNOVATION = "面向行业关键共性技术需求开展攻关。" * 10
QUOTA_003 = [["0", "1"], ["2000", "2"], ["40000", "5"], ["100000", "10"]]

# one custom field of each type (rules/form_fields.TYPES), as the bureau types them
CUSTOM = [
    dict(label="合作单位", type="text", required="y", min="2", max="50", help="填写主要合作单位全称", tab="基本情况"),
    dict(label="市场前景", type="textarea", required="y", min="", max="500", help="300字以内为宜", tab="基本情况"),
    dict(label="预计新增产值（万元）", type="number", min="0", max="1000.5", tab="经费预算"),
    dict(label="成果鉴定日期", type="date", min="2020-01-01", max=f"{YEAR}-12-31", tab="其他信息"),
    dict(label="计划投产年月", type="month", min=f"{YEAR}-1", tab="其他信息"),
    dict(label="技术来源", type="select", required="y", dict="tech_level", tab="基本情况"),
    dict(label="是否产学研合作", type="bool", tab="基本情况"),
    dict(label="查新报告", type="file", required="y", help="PDF 格式", tab="其他信息"),
]
CUSTOM_STORED = [
    {"key": "f_1", "label": "合作单位", "type": "text", "required": True, "min": 2, "max": 50, "dict": None,
     "help": "填写主要合作单位全称", "tab": "基本情况"},
    {"key": "f_2", "label": "市场前景", "type": "textarea", "required": True, "min": None, "max": 500, "dict": None,
     "help": "300字以内为宜", "tab": "基本情况"},
    {"key": "f_3", "label": "预计新增产值（万元）", "type": "number", "required": False, "min": 0, "max": "1000.5", "dict": None,
     "help": "", "tab": "经费预算"},
    {"key": "f_4", "label": "成果鉴定日期", "type": "date", "required": False, "min": "2020-01-01", "max": f"{YEAR}-12-31",
     "dict": None, "help": "", "tab": "其他信息"},
    {"key": "f_5", "label": "计划投产年月", "type": "month", "required": False, "min": f"{YEAR}-01", "max": None, "dict": None,
     "help": "", "tab": "其他信息"},
    {"key": "f_6", "label": "技术来源", "type": "select", "required": True, "min": None, "max": None, "dict": "tech_level",
     "help": "", "tab": "基本情况"},
    {"key": "f_7", "label": "是否产学研合作", "type": "bool", "required": False, "min": None, "max": None, "dict": None,
     "help": "", "tab": "基本情况"},
    {"key": "f_8", "label": "查新报告", "type": "file", "required": True, "min": None, "max": None, "dict": None,
     "help": "PDF 格式", "tab": "其他信息"},
]
ALL_FIELDS = ["name", "leader", "leader_phone", "summary", "innovation", "tech_level_id", "industry_category_id",
              "start_month", "end_month", "innovation_mode", "new_tech_desc"]


def designer_form(title, *, chain=("unit", "authority"), authority_label="区县人社局审核", quota=QUOTA_003, fields=(),
                  required=ALL_FIELDS, attachments=("body",), natures=(), type="research", **extra) -> dict:
    """What the designer page posts: ticks as repeated names, rows as prefix-<n>-<attr>."""
    form = {
        "name": title, "type": type, "year": str(YEAR), "batch": "第一批", "batch_code": "03",
        "opens_at": f"{NOW - timedelta(days=1):%Y-%m-%d %H:%M:%S}", "closes_at": f"{NOW + timedelta(days=30):%Y-%m-%d %H:%M:%S}",
        "ranking_deadline": "", "report_opens_at": "", "report_closes_at": "", "notice": "请按申报指南填写。",
        "review_chain": list(chain), "authority_label": authority_label, "authority_route": "competent",
        "quota_rule": "table" if quota else "none", "required_fields": list(required),
        "required_attachments": list(attachments), "applicant_natures": list(natures),
    }
    for i, (lower, count) in enumerate(quota or ()):
        form[f"quota_rule-{i}-lower"], form[f"quota_rule-{i}-count"] = lower, count
    for i, row in enumerate(fields):
        for attr, value in row.items():
            form[f"form_fields-{i}-{attr}"] = value
    form.update(extra)
    return form


def stored(db_session, name) -> Call:
    db_session.expire_all()
    return db_session.scalars(select(Call).where(Call.name == name)).one()


def calls_named(db_session, name) -> int:
    return db_session.scalar(select(func.count()).select_from(Call).where(Call.name == name))


def save(client, form, url="/admin/call/new/"):
    return client.post_form(url, form)


def test_new_call_page_starts_from_sensible_defaults(client_as):
    page = text(client_as("bureau").get("/admin/call/new/"))
    data = form_data(page)
    assert data["review_chain"] == ["dept", "unit", "authority", "bureau"]
    assert data["required_fields"] == ALL_FIELDS  # every content field required until the bureau unticks one
    assert data["required_attachments"] == "body"
    assert "applicant_natures" not in data  # none ticked: 所有单位
    assert data["quota_rule"] == "table"
    bands = [(data[f"quota_rule-{i}-lower"], data[f"quota_rule-{i}-count"]) for i in range(4)]
    assert bands == [("0", "1"), ("2000", "2"), ("40000", "5"), ("100000", "10")]  # seed 003's bands
    for words in ("基本信息", "申报须知", "审核流程", "部门审核（仅二级单位的申报人）", "限额规则", "营业收入上限（万元）",
                  "必填项", "必传附件", "申报对象", "自定义字段", "所在页签", "模块配置"):
        assert words in page, words
    assert "[[" not in page and "[&#34;" not in page  # no JSON anywhere
    tech = form_data(text(client_as("bureau").get("/admin/call/new/?type=tech_innovation")))
    assert tech["type"] == "tech_innovation" and tech["applicant_natures"] == ["03", "04"]  # 国有企业、非公有制经济


def test_bureau_designs_a_call_and_the_stored_json_is_as_designed(client_as, db_session):
    bureau = client_as("bureau")
    response = save(bureau, designer_form("设计器批次", fields=CUSTOM, natures=("03", "04"), attachments=("body", "proof")))
    assert response.status_code == 302, field_errors(response)
    c = stored(db_session, "设计器批次")
    assert c.review_chain == ["unit", "authority"] and c.authority_label == "区县人社局审核"
    assert c.quota_rule == [[0, 1], [2000, 2], [40000, 5], [100000, 10]]
    assert c.required_fields == ALL_FIELDS
    assert c.required_attachments == ["body", "proof"]
    assert c.applicant_natures == ["03", "04"]
    assert c.form_fields == CUSTOM_STORED

    listing = text(bureau.get("/admin/call/?search=设计器批次"))
    assert "单位审核 → 区县人社局审核" in listing
    assert "上年度营业收入 2000 万元以下 1 项；2000 万元至 40000 万元 2 项；40000 万元至 100000 万元 5 项；100000 万元及以上 10 项" in listing
    details = text(bureau.get(f"/admin/call/details/?id={c.id}"))
    for words in ("市场前景（多行文本，必填）", "预计新增产值（万元）（数字）", "技术来源（下拉选择，必填）", "查新报告（附件，必填）",
                  "项目名称、项目负责人、负责人电话", "新技术描述", "申报书正文、证明材料", "国有企业、非公有制经济"):
        assert words in details, words
    assert "f_1" not in details and "tech_level" not in details and "[[" not in details


def test_editing_keeps_everything_and_a_renamed_field_keeps_its_key(client_as, db_session):
    bureau = client_as("bureau")
    assert save(bureau, designer_form("再次修改的批次", fields=CUSTOM[:3], natures=("04",))).status_code == 302
    before = stored(db_session, "再次修改的批次")
    snapshot = {k: getattr(before, k) for k in ("review_chain", "authority_label", "quota_rule", "required_fields",
                                                "required_attachments", "applicant_natures", "form_fields", "notice")}
    url = f"/admin/call/edit/?id={before.id}"
    page = text(bureau.get(url))
    assert "区县人社局审核" in page and "市场前景" in page and "请按申报指南填写。" in page
    data = form_data(page)
    assert data["review_chain"] == ["unit", "authority"] and data["applicant_natures"] == "04"
    assert data["form_fields-1-key"] == "f_2" and data["form_fields-1-label"] == "市场前景"
    assert bureau.post_form(url, data).status_code == 302  # posted back unchanged
    after = stored(db_session, "再次修改的批次")
    assert {k: getattr(after, k) for k in snapshot} == snapshot

    data["form_fields-1-label"] = "市场前景及效益"  # renamed, and moved to the top
    moved = {k.replace("form_fields-1-", "form_fields-9-").replace("form_fields-0-", "form_fields-1-").replace("form_fields-9-", "form_fields-0-"): v
             for k, v in data.items()}
    assert bureau.post_form(url, moved).status_code == 302
    fields = stored(db_session, "再次修改的批次").form_fields
    assert [(f["key"], f["label"]) for f in fields] == [("f_2", "市场前景及效益"), ("f_1", "合作单位"), ("f_3", "预计新增产值（万元）")]

    data = form_data(text(bureau.get(url)))
    data["form_fields-2-remove"] = "y"  # 删除 ticked on the page without JavaScript
    assert bureau.post_form(url, data).status_code == 302
    assert [f["key"] for f in stored(db_session, "再次修改的批次").form_fields] == ["f_2", "f_1"]


def test_an_applicant_goes_the_designed_chain_and_the_required_set_is_checked(client_as, db_session):
    bureau = client_as("bureau")
    assert save(bureau, designer_form("两级审核的批次")).status_code == 302
    c = stored(db_session, "两级审核的批次")
    zhang = client_as("applicant_zhang")  # in 软件学院: the chain has no 部门审核, so it starts at 单位审核
    form = {"call": str(c.id), "name": "按设计流程审核的申报书", "leader": "张伟", "leader_phone": "13900000008",
            "summary": "项目简介", "innovation": INNOVATION[:170], "tech_level": _dict_id(db_session, "tech_level"),
            "industry_category": _dict_id(db_session, "industry_category"), "start_month": f"{YEAR}-01-01",
            "end_month": f"{YEAR + 1}-12-01", "innovation_mode": "own", "new_tech_count": "1", "new_product_count": "0",
            "new_process_count": "0", "new_tech_desc": ""}
    created = zhang.post_form("/admin/declaration/new/", form)
    assert created.status_code == 302, field_errors(created)
    d = decl(db_session, "按设计流程审核的申报书")
    _upload_body(zhang, d.id)
    refused = text(act(zhang, "submit", [d.id], reason=""))
    assert "新技术描述未填写" in refused  # required by this call (the old default did not ask it)
    assert decl(db_session, d.name).status == Status.draft

    d.new_tech_desc = "形成自主知识产权的检测算法。"
    db_session.commit()
    assert "已提交 1 条" in text(act(zhang, "submit", [d.id], reason=""))
    assert decl(db_session, d.name).status == Status.unit_review
    assert "已审核通过 1 条" in text(act(client_as("unit_cqu"), "approve", [d.id], reason="同意"))
    assert decl(db_session, d.name).status == Status.authority_review
    assert "区县人社局审核" in text(client_as("unit_cqu").get(f"/admin/declaration/details/?id={d.id}"))
    assert "已审核通过 1 条" in text(act(client_as("authority_jw"), "approve", [d.id], reason="同意"))
    assert decl(db_session, d.name).status == Status.approved  # no 科技局审核 in this call


@pytest.mark.parametrize("bands, row, message", [
    ([("0", "1"), ("40000", "5"), ("2000", "2")], 3, "营业收入下限应大于上一档的下限（40000 万元）"),
    ([("0", "1"), ("2000", "2"), ("2000", "3")], 3, "营业收入下限应大于上一档的下限（2000 万元）"),
    ([("0", "1"), ("-5", "2")], 2, "营业收入下限不能为负数"),
    ([("0", "-1")], 1, "项目数应为不小于 0 的整数"),
    ([("100", "1")], 1, "第一档的营业收入下限应为 0"),
    ([("0", "1"), ("1" + "0" * 30, "2")], 2, "营业收入下限过大"),
    ([("0", "1"), ("2000", "1" + "0" * 30)], 2, "项目数不能超过 9999"),
    ([("0", "1"), ("两千", "2")], 2, "营业收入下限应为数字（万元）"),
    ([("0", "1"), ("2000\x00", "2")], 2, "营业收入下限应为数字（万元）"),
    ([("0", "1"), ("2000", "")], 2, "请填写项目数"),
])
def test_bad_quota_rows_are_refused_at_the_row(client_as, db_session, bands, row, message):
    response = save(client_as("bureau"), designer_form("限额有误的批次", quota=bands))
    page = text(response)
    assert response.status_code == 200 and calls_named(db_session, "限额有误的批次") == 0
    assert f"第 {row} 档：" in page and message in page
    error_row = re.search(rf'<td class="cd-num">{row}</td>.*?</tbody>', page, re.S).group(0)
    assert message in error_row  # next to its row
    for lower, count in bands:  # nothing typed is lost
        assert f'value="{lower.replace(chr(0), "")}"' in page or "\x00" in lower
        assert f'value="{count}"' in page


def test_no_quota_and_an_empty_required_set(client_as, db_session):
    bureau = client_as("bureau")
    refused = save(bureau, designer_form("没有必填项的批次", required=()))
    assert refused.status_code == 200 and "请至少选择一个必填项" in field_errors(refused)
    assert calls_named(db_session, "没有必填项的批次") == 0
    assert save(bureau, designer_form("不限额的批次", quota=None, attachments=())).status_code == 302
    c = stored(db_session, "不限额的批次")
    assert c.quota_rule is None and c.required_attachments == [] and c.applicant_natures == []
    assert "不限额" in text(bureau.get(f"/admin/call/details/?id={c.id}"))
    only_dept = save(bureau, designer_form("只有部门审核的批次", chain=("dept",)))
    assert "请至少选择部门审核以外的一个审核环节" in text(only_dept) and calls_named(db_session, "只有部门审核的批次") == 0
    nameless = save(bureau, designer_form("主管部门没有名称的批次", authority_label=""))
    assert "请填写主管部门审核环节的名称" in text(nameless)


BAD_FIELD = dict(label="字段", type="text", tab="基本情况")


@pytest.mark.parametrize("changes, message", [
    ({"label": "名称\x00"}, "第 1 个自定义字段“名称”：字段名称最多 30 个字，且不能包含控制字符"),
    ({"type": "script"}, "请选择字段类型"),
    ({"type": "select", "dict": "nope"}, "字典“nope”不存在"),
    ({"type": "select"}, "下拉选择字段请选择字典"),
    ({"type": "number", "max": "1" + "0" * 30}, "上限应为数字"),
    ({"type": "text", "min": "20", "max": "10"}, "下限不能大于上限"),
    ({"type": "date", "min": "2026-02-30"}, "下限应为日期"),
    ({"tab": "外星页签"}, "所在页签不正确"),
    ({"key": "../../etc"}, "字段标识不正确"),
])
def test_bad_custom_fields_are_refused_in_chinese(client_as, db_session, changes, message):
    rows = [dict(label="正常字段", type="text", tab="基本情况"), {**BAD_FIELD, **changes}]
    response = save(client_as("bureau"), designer_form("字段有误的批次", fields=rows))
    page = text(response)
    assert response.status_code == 200 and calls_named(db_session, "字段有误的批次") == 0
    assert message.replace("第 1 个", "第 2 个") in page
    assert 'value="正常字段"' in page  # the other rows are kept as typed


def test_duplicate_labels_and_too_many_fields(client_as, db_session):
    bureau = client_as("bureau")
    twice = save(bureau, designer_form("重复字段的批次", fields=[BAD_FIELD, BAD_FIELD]))
    assert "第 2 个自定义字段“字段”：字段名称与其他字段重复" in text(twice)
    many = [dict(label=f"字段{i}", type="text", tab="基本情况") for i in range(500)]
    response = save(bureau, designer_form("五百个字段的批次", fields=many))
    page = text(response)
    assert response.status_code == 200 and "自定义字段最多 50 个" in page
    assert 'value="字段499"' in page and calls_named(db_session, "五百个字段的批次") == 0


@pytest.mark.parametrize("changes", [
    {"name": "批次\x00"}, {"review_chain": ["boss"]}, {"required_fields": ["password_hash"]},
    {"required_attachments": ["exe"]}, {"applicant_natures": ["99\x00"]}, {"quota_rule": "\x00"},
    {"year": "1" + "0" * 30}, {"authority_label": "审核\x00"}, {"form_fields-99999999-label": "x"},
])
def test_hostile_input_is_refused_without_a_500(client_as, db_session, changes):
    response = save(client_as("bureau"), designer_form("恶意输入的批次", **changes))
    assert response.status_code in (200, 302), response.status_code
    if response.status_code == 200:
        assert field_errors(response) or "error" in text(response)
        assert calls_named(db_session, "恶意输入的批次") == 0


def test_unknown_options_are_named_in_chinese(client_as):
    bureau = client_as("bureau")
    assert "审核环节不正确" in text(save(bureau, designer_form("环节未知的批次", review_chain=["boss"])))
    assert "选项不正确" in text(save(bureau, designer_form("必填项未知的批次", required_fields=["password_hash"])))
    assert "选项不正确" in text(save(bureau, designer_form("单位性质未知的批次", applicant_natures=["99"])))


def test_sysadmin_designs_too_and_other_roles_cannot_open_the_designer(client_as, db_session):
    assert save(client_as("sysadmin"), designer_form("系统管理员的批次")).status_code == 302
    c = stored(db_session, "系统管理员的批次")
    assert "call-designer" in text(client_as("sysadmin").get(f"/admin/call/edit/?id={c.id}"))
    for username in ("unit_cqu", "applicant_zhang", "authority_yb", "dept_cqu_se"):
        client = client_as(username)
        for url in ("/admin/call/new/", f"/admin/call/edit/?id={c.id}"):
            response = client.get(url)
            assert response.status_code in (302, 403, 404), (username, url)
            assert "call-designer" not in text(response)
        assert save(client, designer_form("越权的批次")).status_code in (302, 403, 404)
        assert client.post_form(f"/admin/call/edit/?id={c.id}", designer_form("被越权修改的批次")).status_code in (302, 403, 404)
    assert calls_named(db_session, "越权的批次") == 0 and calls_named(db_session, "被越权修改的批次") == 0
    assert "系统管理员的批次" in text(client_as("unit_cqu").get("/admin/call/"))  # calls are public notices


def _dict_id(db_session, category) -> str:
    from models import DictItem

    return str(db_session.scalars(select(DictItem.id).where(DictItem.category == category)).first())


def _upload_body(client, declaration_id) -> None:
    """申报书正文 as a PDF, so that the submission below is refused (or not) for its content only."""
    response = client.post(f"/admin/declaration/attachments/{declaration_id}/", data={
        "csrf_token": client.csrf_token, "kind": "body", "file": (io.BytesIO(b"%PDF-1.4\n%test\n"), "申报书正文.pdf")})
    assert response.status_code == 302
