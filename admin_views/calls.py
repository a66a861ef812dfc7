"""申报批次: the call designer (issue #14). The bureau sets a call up in sections — 基本信息, 时间,
申报须知, 审核流程, 限额规则, 必填项, 必传附件, 申报对象, 自定义字段 — as ticks and rows, never JSON.

The fields below parse what the page posts into the stored formats (rules/calls.py for the
限额规则 and 申报对象, rules/form_fields.py for the 自定义字段) and keep what was typed, with the
Chinese errors at their row, when a save is refused.
"""
from __future__ import annotations

import re
from typing import Optional

from flask import request
from flask_admin.contrib.sqla.filters import IntEqualFilter
from markupsafe import Markup
from sqlalchemy import select
from wtforms.fields import Field, SelectMultipleField
from wtforms.validators import DataRequired, InputRequired, Optional as OptionalValidator, StopValidation, ValidationError
from wtforms.widgets import CheckboxInput, ListWidget

from models import DEFAULT_QUOTA, DEFAULT_REQUIRED, DICT_CATEGORIES, MODULES, AttachmentKind, Call, CallType, DictItem, Level
from rules import calls, display, form_fields
from rules.constraints import MESSAGES
from rules.validators import has_control_chars
from rules.workflow import FIELD_LABELS

from .base import ScopedModelView
from .declarations import YEARS, EnumFilter
from .validation import not_before

MENU_ORDER = 31  # right after 申报书 in 项目管理
CATEGORY = "项目管理"
CHAIN_LABELS = {"dept": "部门审核（仅二级单位的申报人）", "unit": "单位审核", "authority": "主管部门审核", "bureau": "科技局审核"}
ROWS_READ_MAX = 1000  # rows of a posted table kept for the page; past this nobody typed them
FIELD_ATTRS = ("key", "label", "type", "required", "min", "max", "dict", "help", "tab")
# which input of a custom-field row a refusal of form_fields.normalize is about
ATTR_WORDS = (("字段名称", "label"), ("字段类型", "type"), ("字段标识", "label"), ("下限", "min"), ("上限", "max"),
              ("字典", "dict"), ("填写说明", "help"), ("页签", "tab"))


class _OwnChecks:
    """A designer field says itself what is missing: the scaffold's 必填/可选 validators would
    either say it in English-like generic words or (Optional) clear the field's own errors."""

    def __init__(self, *args, validators=None, **kwargs):
        validators = [v for v in validators or () if not isinstance(v, (InputRequired, DataRequired, OptionalValidator))]
        super().__init__(*args, validators=validators, **kwargs)


class CheckList(_OwnChecks, SelectMultipleField):
    """Ticks (drawn by admin/_form.html as a list of check boxes); the data in the order of the choices."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()

    def __init__(self, *args, at_least_one: Optional[str] = None, null_means=None, **kwargs):
        self.at_least_one, self.null_means = at_least_one, null_means
        super().__init__(*args, **kwargs)

    def process_data(self, value):
        if value is None and self.null_means is not None:
            value = list(self.null_means)
        super().process_data(value if isinstance(value, (list, tuple)) else [])

    def process_formdata(self, valuelist):
        order = [str(choice[0]) for choice in self.choices or []]
        posted = [v for v in valuelist if isinstance(v, str)]
        self.unknown = [v for v in posted if v not in order]
        self.data = [code for code in order if code in posted]

    def pre_validate(self, form):
        if getattr(self, "unknown", None):
            raise StopValidation("选项不正确，请重新选择")
        if self.at_least_one and not self.data:
            raise StopValidation(self.at_least_one)


class ChainField(_OwnChecks, Field):
    """审核流程: the levels ticked, always in their fixed order (部门 → 单位 → 主管部门 → 科技局)."""

    def process_data(self, value):
        self.data = [x for x in (value or []) if x in CHAIN_LABELS] if isinstance(value, list) else []

    def process_formdata(self, valuelist):
        posted = [v for v in valuelist if isinstance(v, str)]
        self.unknown = [v for v in posted if v not in CHAIN_LABELS]
        self.data = [code for code in CHAIN_LABELS if code in posted]

    def pre_validate(self, form):
        if getattr(self, "unknown", None):
            raise StopValidation("审核环节不正确，请重新选择")
        if not [x for x in self.data if x != "dept"]:
            raise StopValidation("请至少选择部门审核以外的一个审核环节（部门审核只对二级单位的申报人）")

    def levels(self):
        """(code, label, ticked) for the page."""
        return [(code, label, code in (self.data or [])) for code, label in CHAIN_LABELS.items()]


def _rows(formdata, prefix: str, attrs) -> list[dict]:
    """The rows `prefix-<n>-<attr>` of a post, in the order of n (the page renumbers them when moved)."""
    pattern = re.compile(rf"^{re.escape(prefix)}-(\d{{1,4}})-({'|'.join(attrs)})$")
    rows: dict[int, dict] = {}
    for name in formdata.keys():
        m = pattern.match(name)
        if m and (int(m.group(1)) in rows or len(rows) < ROWS_READ_MAX):
            rows.setdefault(int(m.group(1)), {})[m.group(2)] = formdata.get(name, "")
    return [rows[n] for n in sorted(rows)]


class QuotaField(_OwnChecks, Field):
    """限额规则: 不限额, or rows 营业收入下限 / 项目数 (the upper bound shown is the next row's lower)."""

    def process(self, formdata, data=None, extra_filters=None):
        self.row_errors, self.typed = {}, None
        if formdata is not None:
            self.typed = [calls.QuotaRow(str(r.get("lower", "")), str(r.get("count", ""))) for r in _rows(formdata, self.name, ("lower", "count"))]
        super().process(formdata, data, extra_filters)

    def process_data(self, value):
        self.data = value if isinstance(value, list) else None

    def process_formdata(self, valuelist):
        mode = valuelist[0] if valuelist else ""
        typed = self.typed or []
        self.mode = mode if mode in ("none", "table") else ("table" if any(r.lower or r.count for r in typed) else "none")
        if self.mode == "none":
            self.data = None
            return
        self.data, self.row_errors = calls.quota_rule(typed)

    def pre_validate(self, form):
        if self.row_errors:
            raise StopValidation(self.row_errors.get(-1, ["限额规则有误，请按各档的提示修改"])[0])

    @property
    def unlimited(self) -> bool:
        return getattr(self, "mode", None) == "none" if self.typed is not None else not self.data

    def rows(self) -> list:
        """(lower, count, upper shown, errors) per row; one blank row when there are none."""
        rows = self.typed if self.typed is not None else calls.quota_rows(self.data)
        rows = list(rows) or [calls.QuotaRow("0", "")]
        shown = []
        for i, r in enumerate(rows):
            upper = rows[i + 1].lower.strip() if i + 1 < len(rows) else ""
            shown.append((r.lower, r.count, upper, self.row_errors.get(i, [])))
        return shown


class FormFieldsField(_OwnChecks, Field):
    """自定义字段: rows of definitions, normalised by rules/form_fields.py; a row's key travels in a
    hidden input, so a renamed field keeps the values declarations gave it."""

    categories: tuple = tuple(DICT_CATEGORIES)

    def process(self, formdata, data=None, extra_filters=None):
        self.row_errors, self.typed = {}, None
        if formdata is not None:
            self.typed = [r for r in _rows(formdata, self.name, (*FIELD_ATTRS, "remove"))
                          if _filled(r) and not r.get("remove")]  # 删除 ticked (the page without JavaScript)
        super().process(formdata, data, extra_filters)

    def process_data(self, value):
        self.data = [d for d in value if isinstance(d, dict)] if isinstance(value, list) else []

    def process_formdata(self, valuelist):
        rows = self.typed or []
        self.data, self.row_errors = None, {}
        for i, row in enumerate(rows):  # each row alone first: every row's own mistakes at once
            try:
                form_fields.normalize([row], self.categories)
            except ValueError as exc:
                self.row_errors[i] = _at_row(str(exc), i)
        if self.row_errors:
            return
        try:
            self.data = form_fields.normalize(rows, self.categories)
        except ValueError as exc:  # between rows: duplicates, too many
            m = re.match(r"^第 (\d+) 个", str(exc))
            self.row_errors[int(m.group(1)) - 1 if m else -1] = _at_row(str(exc), None)

    def pre_validate(self, form):
        if self.row_errors:
            raise StopValidation(self.row_errors.get(-1) or "自定义字段有误，请按各行的提示修改")

    def rows(self) -> list:
        """(values by attribute, the error's attribute, errors) per row, as typed or as stored."""
        rows = self.typed if self.typed is not None else [
            {k: ("" if d.get(k) is None else ("y" if d.get(k) is True else "" if d.get(k) is False else str(d.get(k)))) for k in FIELD_ATTRS}
            for d in (self.data or [])]
        out = []
        for i, r in enumerate(rows):
            error = self.row_errors.get(i)
            attr = next((a for word, a in ATTR_WORDS if error and word in error), None)
            out.append(({k: str(r.get(k) or "") for k in FIELD_ATTRS}, attr, [error] if error else []))
        return out


def _filled(row: dict) -> bool:
    return any(str(row.get(k) or "").strip() for k in ("key", "label", "min", "max", "help"))


def _at_row(message: str, position: Optional[int]) -> str:
    """normalize names a row by its place in the list it was given (one row alone: 第 1 个)."""
    message = "".join(ch for ch in message if ord(ch) >= 32)  # a NUL typed into a label is not echoed in the message
    return re.sub(r"^第 \d+ 个", f"第 {position + 1} 个", message) if position is not None else message


# -- how a call reads (lists, details, Excel): rules/display.py's readers ---------------------------
def _reads(name):
    return lambda v, c, m, n: display.reader(Call, name)(m)


def _authority_label_check(form, field):
    chain = form.review_chain.data or [] if "review_chain" in form else []
    text = (field.data or "").strip()
    if "\x00" in text or has_control_chars(text):
        raise StopValidation("主管部门审核名称不能包含不可见的控制字符")
    if "authority" in chain and not text:
        raise StopValidation("请填写主管部门审核环节的名称，如“区县人社局审核”")
    field.data = text or Level.authority.label


class CallView(ScopedModelView):
    """申报批次 (seed 003 项目批次, seed 002 申报时间/推荐排序截止): data, not code."""

    column_list = ("name", "type", "year", "batch", "opens_at", "closes_at", "ranking_deadline", "review_chain", "quota_rule")
    column_default_sort = ("opens_at", True)
    column_searchable_list = ("name",)
    column_filters = (EnumFilter(Call.type, "申报类型", CallType), IntEqualFilter(Call.year, "项目年度"))
    column_details_list = (
        "name", "type", "year", "batch", "batch_code", "opens_at", "closes_at", "ranking_deadline", "report_opens_at",
        "report_closes_at", "notice", "review_chain", "authority_route", "quota_rule", "required_fields",
        "required_attachments", "applicant_natures", "form_fields",
    )
    column_export_list = column_details_list
    column_labels = {"review_chain": "审核流程", "quota_rule": "限额规则", "authority_label": "主管部门审核名称"}
    column_formatters = {name: _reads(name) for name in (
        "review_chain", "quota_rule", "required_fields", "required_attachments", "applicant_natures", "form_fields")}
    form_columns = (
        "name", "type", "year", "batch", "batch_code", "opens_at", "closes_at", "ranking_deadline", "report_opens_at",
        "report_closes_at", "notice", "review_chain", "authority_label", "authority_route", "quota_rule",
        "required_fields", "required_attachments", "applicant_natures", "form_fields",
    )
    form_overrides = {"review_chain": ChainField, "quota_rule": QuotaField, "required_fields": CheckList,
                      "required_attachments": CheckList, "applicant_natures": CheckList, "form_fields": FormFieldsField}
    form_args = {
        "type": {"description": "填报用户须由单位管理员在“模块配置”中开通同名模块，才能在本批次申报"},
        "year": {"validators": [YEARS]},
        "batch_code": {"description": "两位数字，编入项目编号", "validators": []},
        "closes_at": {"validators": [not_before("opens_at", MESSAGES["ck_call_window_order"][1], strict=True)]},
        "ranking_deadline": {"description": "单位、主管部门在此之前完成推荐排序；留空为不限"},
        "report_closes_at": {"validators": [not_before("report_opens_at", "调度填报截止时间应晚于开始时间", strict=True)]},
        "notice": {"description": "显示在申报人新增申报书的页面上", "filters": [lambda v: v.replace("\r\n", "\n").strip() or None if isinstance(v, str) else v]},
        "review_chain": {"label": "审核流程", "default": lambda: ["dept", "unit", "authority", "bureau"]},
        "authority_label": {"label": "主管部门审核名称", "validators": [_authority_label_check], "default": Level.authority.label},
        "authority_route": {"description": "既有主管部门又有所在区县的单位，其主管部门审核环节与推荐排序只归其中一方"},
        "quota_rule": {"label": "限额规则", "default": lambda: [list(step) for step in DEFAULT_QUOTA]},
        "required_fields": {"label": "必填项", "choices": list(FIELD_LABELS.items()), "default": lambda: list(FIELD_LABELS),
                            "at_least_one": "请至少选择一个必填项", "null_means": DEFAULT_REQUIRED,  # NULL: what 提交 checks
                            "description": "申报人提交时必须填写的内容"},
        "required_attachments": {"label": "必传附件", "choices": AttachmentKind.choices(), "default": lambda: [AttachmentKind.body.value],
                                 "description": "提交前必须上传的附件；都不选则不要求上传附件"},
        "applicant_natures": {"label": "申报对象（单位性质）", "choices": [], "default": list,
                              "description": "可以申报的单位性质；都不选为所有单位"},
        "form_fields": {"label": "自定义字段", "default": list},
    }
    create_template = "admin/calls/create.html"
    edit_template = "admin/calls/edit.html"

    # -- the designer's choices, per request ----------------------------------------------------
    def _designer(self, form, stored_natures=()):
        """The 单位性质 of the dictionary (and any stored one since deactivated) as the 申报对象 ticks."""
        items = self.session.execute(
            select(DictItem.code, DictItem.name, DictItem.active).where(DictItem.category == "unit_nature").order_by(DictItem.sort, DictItem.id)).all()
        choices = [(code, name) for code, name, active in items if active or code in stored_natures]
        form.applicant_natures.choices = choices
        kind = form.type.data.value if isinstance(form.type.data, CallType) else form.type.data
        form.type.description = Markup("申报人须由单位管理员在“模块配置”中开通“<b id=\"cd-module\">{}</b>”模块，才能在本批次申报").format(
            MODULES.get(kind, MODULES[CallType.research.value]))
        if request.method == "POST":  # posted before the choices were known: read again now
            form.applicant_natures.process_formdata(request.form.getlist("applicant_natures"))
        return form

    def create_form(self, obj=None):
        form = self._designer(super().create_form(obj))
        wanted = request.args.get("type")
        if request.method == "GET" and wanted in CallType._value2member_map_:
            form.type.data = wanted
            form.applicant_natures.data = list(calls.DEFAULT_NATURES.get(CallType(wanted), ()))
        return form

    def edit_form(self, obj=None):
        stored = [str(c) for c in (getattr(obj, "applicant_natures", None) or [])]
        form = self._designer(super().edit_form(obj), stored)
        if request.method == "GET" and obj is not None:
            form.applicant_natures.data = [c for c in stored if c in {code for code, _ in form.applicant_natures.choices}]
        return form

    def render(self, template, **kwargs):
        if template in (self.create_template, self.edit_template):
            kwargs.update(designer_context())
        return super().render(template, **kwargs)

    def on_model_change(self, form, model, is_created):
        if model.opens_at and model.closes_at and model.closes_at <= model.opens_at:
            raise ValidationError("申报截止时间应晚于开始时间")


def designer_context() -> dict:
    """What the designer's template needs beside the form."""
    return {
        "field_types": form_fields.TYPES, "field_tabs": form_fields.TABS, "dict_categories": DICT_CATEGORIES,
        "modules": MODULES, "enterprise_natures": calls.ENTERPRISE_NATURES,
        "limit_hints": {"text": "字数", "textarea": "字数", "number": "数值", "date": "日期，如 2026-01-31", "month": "年月，如 2026-01"},
    }


def register(admin, session):
    admin.add_view(CallView(Call, session, name="申报批次", category=CATEGORY, endpoint="call"))
