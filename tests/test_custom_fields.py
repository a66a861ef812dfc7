"""A call's own fields on the 申报书 (自定义字段, issue #14): one field of each type on the applicant's
form, saved typed, refused at the field when malformed, checked at 提交, marked on 预览, shown on the
details, exported, and still readable after the call's fields change."""
from __future__ import annotations

import io
import json

from openpyxl import load_workbook
from sqlalchemy import select, text as sql, update

from models import Attachment, Call, Declaration, DictItem, Status

from .test_declarations import RESEARCH, call, create, dict_id
from .test_workflow import act, decl, text

FIELDS = [
    {"key": "f_market", "label": "市场前景分析", "type": "textarea", "required": True, "min": 10, "max": 300, "dict": None,
     "help": "10-300字", "tab": "基本情况"},
    {"key": "f_code", "label": "合作单位代码", "type": "text", "required": False, "min": None, "max": 12, "dict": None, "help": "",
     "tab": "其他信息"},
    {"key": "f_money", "label": "自筹经费（万元）", "type": "number", "required": True, "min": 0, "max": 5000, "dict": None,
     "help": "", "tab": "经费预算"},
    {"key": "f_day", "label": "立项论证日期", "type": "date", "required": False, "min": "2020-01-01", "max": "2030-12-31",
     "dict": None, "help": "", "tab": "其他信息"},
    {"key": "f_month", "label": "预计验收年月", "type": "month", "required": False, "min": None, "max": None, "dict": None,
     "help": "", "tab": "其他信息"},
    {"key": "f_level", "label": "成果技术水平", "type": "select", "required": True, "min": None, "max": None, "dict": "tech_level",
     "help": "", "tab": "其他信息"},
    {"key": "f_joint", "label": "是否产学研合作", "type": "bool", "required": True, "min": None, "max": None, "dict": None,
     "help": "", "tab": "其他信息"},
    {"key": "f_letter", "label": "合作协议", "type": "file", "required": True, "min": None, "max": None, "dict": None,
     "help": "", "tab": "其他信息"},
]
PDF = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def with_fields(db_session, fields=FIELDS, attachments=()) -> Call:
    c = call(db_session, RESEARCH)
    db_session.execute(update(Call).where(Call.id == c.id).values(form_fields=fields, notice="请如实填写，逾期不予受理。",
                                                                  required_attachments=list(attachments)))
    db_session.commit()
    return call(db_session, RESEARCH)


def stored_extra(db_session, declaration_id):
    """The stored JSON read with plain SQL (not through the model)."""
    raw = db_session.execute(sql("SELECT extra FROM declaration WHERE id = :id"), {"id": declaration_id}).scalar()
    return json.loads(raw) if isinstance(raw, str) else raw


def good_values(db_session):
    return {"x_f_market": "市场需求旺盛，前景广阔，可带动上下游产业。", "x_f_code": "HZ-2026", "x_f_money": "120.50",
            "x_f_day": "2026-03-15", "x_f_month": "2027-06", "x_f_level": dict_id(db_session, "tech_level"), "x_f_joint": "1"}


def test_the_form_shows_the_calls_fields_and_notice(client_as, db_session):
    c = with_fields(db_session)
    zhang = client_as("applicant_zhang")
    page = text(zhang.get(f"/admin/declaration/new/?call_id={c.id}"))
    for f in FIELDS:
        if f["type"] != "file":
            assert f["label"] in page and f'name="x_{f["key"]}"' in page
    assert "申报须知" in page and "请如实填写，逾期不予受理。" in page
    assert "其他信息" in page  # the tab the fields name
    assert "合作协议（必传）" in page  # file fields: uploaded on the details page
    assert 'type="month"' in page and 'type="date"' in page
    import re

    money = re.search(r'<input[^>]*name="x_f_money"[^>]*>', page).group(0)
    assert " required" not in money  # a draft saves unfinished: 必填 is checked at 提交, the * says so


def test_values_are_saved_typed_and_read_back(client_as, db_session):
    with_fields(db_session)
    zhang = client_as("applicant_zhang")
    d = create(zhang, db_session, RESEARCH, "带自定义字段的申报书", **good_values(db_session))
    level = int(dict_id(db_session, "tech_level"))
    assert stored_extra(db_session, d.id) == {"f_market": "市场需求旺盛，前景广阔，可带动上下游产业。", "f_code": "HZ-2026",
                                              "f_money": "120.5", "f_day": "2026-03-15", "f_month": "2027-06",
                                              "f_level": level, "f_joint": True}
    edit = text(zhang.get(f"/admin/declaration/edit/?id={d.id}"))
    assert 'value="HZ-2026"' in edit and 'value="2027-06"' in edit and "市场需求旺盛" in edit
    level_name = db_session.get(DictItem, level).name
    details = text(zhang.get(f"/admin/declaration/details/?id={d.id}"))
    assert "2027年6月" in details and "120.5" in details and level_name in details and ">是<" in details


def test_bad_values_are_refused_at_the_field_and_kept(client_as, db_session):
    with_fields(db_session)
    zhang = client_as("applicant_zhang")
    c = call(db_session, RESEARCH)
    cases = {
        "x_f_money": ("一百", "自筹经费（万元）应为数字"),
        "x_f_day": ("2026-02-30", "立项论证日期应为日期"),
        "x_f_month": ("2026-13", "预计验收年月应为年月"),
        "x_f_code": ("X" * 13, "合作单位代码应为12字以内"),
        "x_f_level": ("999999999", "成果技术水平请从列表中选择"),
        "x_f_joint": ("maybe", "是否产学研合作请选择“是”或“否”"),
    }
    for name, (bad, message) in cases.items():
        values = {**good_values(db_session), name: bad}
        from .test_declarations import full_form

        response = zhang.post_form("/admin/declaration/new/", full_form(c.id, f"坏值{name}", **values))
        page = text(response)
        assert response.status_code == 200 and message in page, (name, page[-1500:])
        assert "市场需求旺盛" in page  # what was typed is still there
        assert db_session.scalar(select(Declaration.id).where(Declaration.name == f"坏值{name}")) is None
    nul = zhang.post_form("/admin/declaration/new/", full_form(c.id, "NUL", **{**good_values(db_session), "x_f_code": "a\x00b"}))
    assert nul.status_code == 200 and "控制字符" in text(nul)
    out_of_range = zhang.post_form("/admin/declaration/new/", full_form(c.id, "超范围", **{**good_values(db_session), "x_f_money": "1" + "0" * 30}))
    assert out_of_range.status_code == 200 and "自筹经费（万元）应为数字" in text(out_of_range)
    above = zhang.post_form("/admin/declaration/new/", full_form(c.id, "超上限", **{**good_values(db_session), "x_f_money": "5000.01"}))
    assert above.status_code == 200 and "自筹经费（万元）应在 0 至 5000 之间（现为 5000.01）" in text(above)


def test_submit_needs_the_required_fields_and_files_and_preview_marks_them(client_as, db_session):
    with_fields(db_session, attachments=["body"])
    zhang = client_as("applicant_zhang")
    values = {**good_values(db_session), "x_f_market": "太短", "x_f_joint": ""}
    d = create(zhang, db_session, RESEARCH, "缺自定义字段的申报书", **values)
    preview = text(zhang.get(f"/admin/declaration/preview/{d.id}/"))
    assert "提交前请处理以下" in preview
    for message in ("市场前景分析应为10-300字（现为 2 字）", "是否产学研合作未填写", "合作协议未上传", "未上传申报书正文"):
        assert message in preview
    assert preview.count('class="problem"') >= 3
    page = text(act(zhang, "submit", [d.id], reason=""))
    assert "是否产学研合作未填写" in page and "合作协议未上传" in page
    assert decl(db_session, d.name).status == Status.draft
    # fix it: the values through the edit form, the file on the details page
    from .form_helpers import form_data

    edit = zhang.get(f"/admin/declaration/edit/?id={d.id}")
    form = form_data(text(edit))
    form.update({"x_f_market": "市场需求旺盛，前景广阔，可带动上下游产业。", "x_f_joint": "0"})
    assert zhang.post_form(f"/admin/declaration/edit/?id={d.id}", form).status_code == 302
    upload = zhang.post_form(f"/admin/declaration/attachments/{d.id}/", {"kind": "field:f_letter", "file": (io.BytesIO(PDF), "合作协议.pdf")})
    assert upload.status_code == 302
    assert db_session.scalar(select(Attachment.field_key).where(Attachment.declaration_id == d.id)) == "f_letter"
    assert "未上传申报书正文" in text(zhang.get(f"/admin/declaration/preview/{d.id}/"))  # a file field's upload is not the 正文
    zhang.post_form(f"/admin/declaration/attachments/{d.id}/", {"kind": "body", "file": (io.BytesIO(PDF), "申报书.pdf")})
    ready = text(zhang.get(f"/admin/declaration/preview/{d.id}/"))
    assert "可以提交" in ready and "合作协议.pdf" in ready
    act(zhang, "submit", [d.id], reason="")
    assert decl(db_session, d.name).status != Status.draft
    assert stored_extra(db_session, d.id)["f_joint"] is False


def test_a_file_field_of_another_call_is_refused(client_as, db_session):
    with_fields(db_session)
    zhang = client_as("applicant_zhang")
    d = create(zhang, db_session, RESEARCH, "附件类型不对", **good_values(db_session))
    response = zhang.post_form(f"/admin/declaration/attachments/{d.id}/", {"kind": "field:f_nothing", "file": (io.BytesIO(PDF), "x.pdf")})
    assert response.status_code == 302
    assert "附件类型不正确" in text(zhang.get(f"/admin/declaration/details/?id={d.id}"))
    assert db_session.scalar(select(Attachment.id).where(Attachment.declaration_id == d.id)) is None


def test_submitted_values_stay_readable_when_the_call_changes(client_as, db_session):
    c = with_fields(db_session, [f for f in FIELDS if not f["required"] or f["type"] not in ("file",)])
    zhang = client_as("applicant_zhang")
    d = create(zhang, db_session, RESEARCH, "提交后批次改了字段", **good_values(db_session))
    act(zhang, "submit", [d.id], reason="")
    assert decl(db_session, d.name).status != Status.draft
    # the bureau drops 合作单位代码 and renames 市场前景分析
    changed = [dict(f, label="市场分析") if f["key"] == "f_market" else f for f in c.form_fields if f["key"] != "f_code"]
    db_session.execute(update(Call).where(Call.id == c.id).values(form_fields=changed))
    db_session.commit()
    details = text(client_as("bureau").get(f"/admin/declaration/details/?id={d.id}"))
    assert "合作单位代码" in details and "HZ-2026" in details  # as submitted
    assert "市场前景分析" in details


def test_export_has_the_calls_fields(client_as, db_session):
    c = with_fields(db_session)
    zhang = client_as("applicant_zhang")
    d = create(zhang, db_session, RESEARCH, "导出自定义字段", **good_values(db_session))
    flt = _call_filter(zhang, c.id)
    response = zhang.get(f"/admin/declaration/export/xlsx/?{flt}")
    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(response.data)).active
    rows = list(sheet.iter_rows(values_only=True))
    header = next(r for r in rows if r and "项目名称" in r)
    column = header.index(f"预计验收年月（{c.name}）")
    money = header.index(f"自筹经费（万元）（{c.name}）")
    row = next(r for r in rows if r and d.name in r)
    assert row[column] == "2027年6月" and float(row[money]) == 120.5


def _call_filter(client, call_id) -> str:
    """The list's own 项目批次 filter argument, as the page builds it."""
    from .test_export import _view

    view = _view("declaration")
    index, flt = next((i, f) for i, f in enumerate(view._filters) if str(f.name) == "项目批次")
    return f"flt0_{view.get_filter_arg(index, flt)}={call_id}"


def test_a_university_applicant_is_not_offered_an_enterprise_call(client_as, db_session):
    """申报对象 (the call designer): the 技术创新 call is for enterprises; a 重庆大学 applicant with the
    module opened is neither offered it nor able to submit into it."""
    from models import Unit, User

    from .test_declarations import TECH, full_form

    zhang = db_session.scalars(select(User).where(User.username == "applicant_zhang")).one()
    db_session.execute(update(User).where(User.id == zhang.id).values(modules=["research", "tech_innovation"]))
    tech = call(db_session, TECH)
    db_session.execute(update(Call).where(Call.id == tech.id).values(applicant_natures=["03", "04"]))
    db_session.commit()
    client = client_as("applicant_zhang")
    page = text(client.get("/admin/declaration/new/"))
    assert RESEARCH in page and TECH not in page
    refused = client.post_form("/admin/declaration/new/", full_form(tech.id, "大学申报技术创新项目"))
    assert refused.status_code == 200 and db_session.scalar(select(Declaration.id).where(Declaration.name == "大学申报技术创新项目")) is None
    # a row already in the call (moved there before the rule, or by a script) cannot be submitted either
    d = create(client, db_session, RESEARCH, "已在技术创新批次里的申报书", **good_values(db_session))
    db_session.execute(update(Declaration).where(Declaration.id == d.id).values(call_id=tech.id))
    db_session.commit()
    nature = db_session.get(Unit, d.unit_id).nature.name
    answer = text(act(client, "submit", [d.id], reason=""))
    assert f"本批次仅限企业申报" in answer and f"本单位的单位性质为“{nature}”" in answer
    assert decl(db_session, d.name).status == Status.draft
