"""申报管理: calls (申报批次), declarations (申报书) with their review, 推荐排序, 审批意见 and 调度填报.

Views only ask rules/workflow.py what is allowed (buttons) and ask it to act (state changes).
"""
from __future__ import annotations

import uuid
from datetime import datetime
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

from flask import abort, current_app, flash, has_request_context, jsonify, redirect, request, send_file
from flask_admin import expose
from flask_admin.menu import MenuView
from flask_admin.helpers import get_form_data, get_redirect_target, is_safe_url
from flask_admin.actions import action
from flask_admin.contrib.sqla.filters import FilterEqual, IntEqualFilter
from flask_wtf.csrf import CSRFError
from markupsafe import Markup
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.exceptions import NotFound
from wtforms.validators import ValidationError

from models import (
    Attachment, AttachmentKind, BudgetItem, Call, CallType, Declaration, DictItem, InnovationMode, Level, Member, ProgressReport,
    ProgressStatus, ReleaseStatus, ReviewRecord, Role, Status, Unit, UnitRevenue,
)
from extensions import csrf, db
from rules import calls as call_rules, display, export_jobs, form_fields, permissions, scope, workflow
from rules.constraints import MESSAGES
from rules.transitions import Context, Refused
from rules.params import parse_int
from rules.validators import file_content_error, has_control_chars

from . import custom_fields
from .base import ScopedModelView, principal, table_row_estimate
from .checks import INT_MAX
from .export import display_formatters
from .validation import MonthField, chars_at_most, filled, in_range, non_negative, not_before, one_newline, required
from .ui import status_badge

YEARS = in_range(1900, 2100, "年度应在 1900 年至 2100 年之间")

MENU_ORDER = 30
CATEGORY = "项目管理"
APPLICANT = frozenset({Role.applicant})
RANKERS = frozenset({Role.unit_admin, Role.authority})
UPLOAD_TYPES = {"pdf", "doc", "docx", "jpg", "jpeg", "png"}
UPLOAD_MAX = 10 * 1024 * 1024
FILENAME_MAX = Attachment.__table__.c.filename.type.length
VERBS = {"submit": "提交", "withdraw": "撤回", "approve": "审核通过", "return": "退回", "reject": "设为不予立项"}


def _status(view, context, model, name):
    """The state as the call type names it; a returned row with a 补正期限 says until when (the
    reader of rules/display.py gives Excel the same words)."""
    badge = status_badge(model.status, workflow.status_label(model.status, model.call))
    note = workflow.correction_note(model)
    return badge + Markup('<div class="correction-note small text-danger">（{}）</div>').format(note) if note else badge


class StateFilter(FilterEqual):
    """项目状态 with the words of the call type the list shows: the view's own (创业资助), else the
    only type the user declares in (an enterprise's 技术创新项目); the common words otherwise."""

    def __init__(self, column, name, call_type=None, **kwargs):
        self.call_type = call_type
        super().__init__(column, name, options=self.choices, **kwargs)

    def choices(self):
        kind = self.call_type
        if kind is None:
            types = permissions.call_types(principal())
            kind = types[0] if len(types) == 1 else None
        return workflow.state_choices(kind)

    def validate(self, value):
        return value in Status._value2member_map_


def _minute(view, context, model, name):
    value = getattr(model, name)
    return value.strftime("%Y-%m-%d %H:%M") if value else ""


def _rank_cell(view, context, model, name):
    """推荐排序: for who may rank the row now at this column's level, a blue number that
    static/ranking.js turns into an input; for everyone else (and in Excel) the plain number."""
    value = display.reader(Declaration, name)(model)
    p = principal()
    level = workflow.RANK_LEVEL.get(p.role) if p is not None else None
    if level is None or workflow.RANK_COLUMN[level].key != name or not view.may("rank", model):
        return value
    return Markup(
        '<button type="button" class="btn btn-link btn-sm p-0 rank-edit" data-rank-id="{}" data-rank-value="{}" '
        'title="点击修改推荐排序，输入序号后回车保存">{}</button>'
    ).format(model.id, value, "设置" if value == "" else value)


def _rank_answer(ok: bool, message: str, status: int = 200, **extra):
    return jsonify(ok=ok, message=message, **extra), status


def _dict_options(category):
    return _name_options(DictItem, DictItem.category == category, DictItem.active.is_(True))


def _name_options(model, *where):
    """(id, name) filter options inside the scope, read as plain rows (no ORM objects: the bureau
    sees thousands of units and the list page builds these on every request)."""

    def options():
        p = principal()
        if p is None:
            return []
        stmt = select(model.id, model.name).where(scope.predicate(p, model), *where).order_by(model.id).limit(500)
        return [(str(i), n) for i, n in db.session.execute(stmt)]

    return options


class EnumFilter(FilterEqual):
    """Equality on a coded column; a value outside the codes is ignored instead of failing the query."""

    def __init__(self, column, name, enum_cls, **kwargs):
        self.enum_cls = enum_cls
        super().__init__(column, name, options=enum_cls.choices(), **kwargs)

    def validate(self, value):
        return value in self.enum_cls._value2member_map_


class CallTypeFilter(EnumFilter):
    """申报类型 through the call, as a sub-select so the list needs no join."""

    def apply(self, query, value, alias=None):
        return query.filter(Declaration.call_id.in_(select(Call.id).where(Call.type == CallType(value))))


class DeclarationView(ScopedModelView):
    """申报书: rights from rules/permissions.py, transitions (提交, 撤回, 审核通过, 退回, 不予立项)
    from rules/workflow.py's DECLARATION table."""

    review_button_label = "批量提交"  # seed 000 §3: reviewers tick rows, 批量提交, then 提交至科技局 or 退回

    column_list = ("number", "year", "call", "district", "unit", "name", "leader", "tech_level", "industry_category", "address", "status",
                   "release_status", "unit_rank", "authority_rank", "submitted_at")
    column_default_sort = ("id", True)
    column_sortable_list = ("number", "year", "name", "status", "submitted_at", "unit_rank", "authority_rank")
    column_searchable_list = ("name", "number", "leader")
    # 区县 and 通讯地址 (seed 003 项目申报管理): the declaring unit's region and address, read by rules/display.py
    column_labels = {"district": "区县", "address": "通讯地址"}
    column_formatters = {"status": _status, "submitted_at": _minute, "unit_rank": _rank_cell, "authority_rank": _rank_cell,
                         **display_formatters(Declaration, "district", "address"),
                         **display_formatters(Declaration, "unit")}  # 申报单位 under its name when submitted (rules/renames.py)
    call_type = None  # a list of one type of call (创业资助, 创新资助): its rows, its calls, its words
    column_filters = (
        StateFilter(Declaration.status, "项目状态"),
        IntEqualFilter(Declaration.year, "项目年度"),
        IntEqualFilter(Declaration.call_id, "项目批次", options=_name_options(Call)),
        CallTypeFilter(Declaration.call_id, "申报类型", CallType),
        IntEqualFilter(Declaration.unit_id, "申报单位", options=_name_options(Unit)),
        IntEqualFilter(Declaration.tech_level_id, "项目技术水平", options=_dict_options("tech_level")),
        IntEqualFilter(Declaration.industry_category_id, "产业类别", options=_dict_options("industry_category")),
        EnumFilter(Declaration.release_status, "下达状态", ReleaseStatus),  # 项目下达 (issue 14)
    )
    column_details_list = (
        "number", "call", "year", "district", "unit", "address", "secondary_unit", "applicant", "status", "release_status", "name", "leader", "leader_phone",
        "summary", "innovation", "tech_level", "industry_category", "start_month", "end_month", "innovation_mode",
        "new_tech_count", "new_product_count", "new_process_count", "new_tech_desc", "submitted_at", "unit_rank", "authority_rank",
    )
    column_export_list = column_details_list
    form_columns = (
        "call", "name", "leader", "leader_phone", "summary", "innovation", "tech_level", "industry_category",
        "start_month", "end_month", "innovation_mode", "new_tech_count", "new_product_count", "new_process_count",
        "new_tech_desc", "members", "budget_items",
    )
    inline_models = (
        (Member, {"form_columns": ("id", "name", "title", "unit_name", "duty", "sort"),
                  "form_args": {"name": {"validators": [required("成员姓名")]}, "sort": {"validators": [filled("排序，没有请填 0")]}}}),
        (BudgetItem, {"form_columns": ("id", "subject", "amount", "note"),
                      "form_args": {"subject": {"validators": [required("预算科目")]},
                                    "amount": {"validators": [required("金额"), non_negative]}}}),
    )
    # 字数 (seed 003 §2: 项目简介 100字以内, 创新内容 150-200字, 新技术描述 100字以内) from the table the
    # submission checks (workflow.LENGTHS): the maximum refused at every save, the minimum only on
    # 提交 (a draft may be unfinished); the page counts both (static/forms.js).
    form_widget_args = {
        "summary": {"rows": 3},
        "innovation": {"rows": 5, "data-minlength": workflow.LENGTHS["innovation"][0]},
        "new_tech_desc": {"rows": 3},
        "end_month": {"data-not-before": "start_month"},
    }
    # 项目起止时间 is a 年/月 (seed 003 §2 item 8): the start kept as the month's first day, the end as its last.
    form_overrides = {"start_month": MonthField, "end_month": MonthField}
    form_args = {
        "name": {"label": "项目名称", "validators": [required("项目名称")]},
        **{name: {"validators": [chars_at_most(workflow.FIELD_LABELS[name], high)], "filters": [one_newline]}
           for name, (_low, high) in workflow.LENGTHS.items()},
        "start_month": {"description": "按年月填写，需与申报书首页起止时间一致"},
        "end_month": {"last_day": True, "validators": [not_before("start_month", MESSAGES["ck_declaration_period_order"][1])]},
        **{name: {"validators": [filled(Declaration.__table__.c[name].info["label"].replace("（个）", "个数") + "，没有请填 0"), non_negative]}
           for name in ("new_tech_count", "new_product_count", "new_process_count")},
    }
    form_choices = {"innovation_mode": InnovationMode.choices()}
    # The tabs of the form (seed 003 §2): tab label → field names.
    form_tabs = (
        ("基本情况", ("call", "name", "leader", "leader_phone", "summary", "innovation", "tech_level", "industry_category",
                      "start_month", "end_month", "innovation_mode", "new_tech_count", "new_product_count", "new_process_count", "new_tech_desc")),
        ("项目成员", ("members",)),
        ("经费预算", ("budget_items",)),
    )
    create_template = "admin/declarations/create.html"
    edit_template = "admin/declarations/edit.html"
    details_template = "admin/declarations/details.html"
    list_template = "admin/declarations/list.html"

    # -- the menu and title by role (seed 000: the unit side calls the list 本单位的项目) ------------
    ROLE_NAMES = {Role.unit_admin: "本单位的项目", Role.dept_admin: "本单位的项目"}

    @property
    def name(self):
        p = principal()
        return self.ROLE_NAMES.get(p.role, self._name) if p is not None and self.call_type is None else self._name

    @name.setter
    def name(self, value):
        self._name = value

    def base_filter(self):
        """A list of one call type shows only that type's rows (details, actions and export too)."""
        if self.call_type is None:
            return None
        return Declaration.call_id.in_(select(Call.id).where(Call.type == self.call_type))

    def get_list(self, *args, **kwargs):
        """A page of rows with their units' regions loaded in one query (区县), not one per row."""
        count, rows = super().get_list(*args, **kwargs)
        if kwargs.get("execute", True) and rows:
            from models import Region

            wanted = {d.unit.region_id for d in rows if d.unit is not None and d.unit.region_id is not None}
            if wanted:
                self.session.scalars(select(Region).where(Region.id.in_(wanted))).all()  # into the identity map
        return count, rows

    def estimated_count(self):
        """全部 scope over a large table: the planner's row count instead of COUNT(*) for the pager."""
        p = principal()
        if p is None or p.role not in scope.EVERYTHING:
            return None
        return table_row_estimate(self.session, "declaration")

    # -- forms --------------------------------------------------------------------------------
    def open_calls(self):
        """Calls in their window, of the call types the user's 模块配置 opens (none: none)."""
        now = datetime.now()
        types = permissions.call_types(principal())
        if self.call_type is not None:
            types = [t for t in types if t == self.call_type]
        query = self.session.query(Call).filter(Call.opens_at <= now, Call.closes_at >= now, Call.type.in_(types))
        p = principal()
        unit = self.session.get(Unit, p.unit_id) if p is not None and p.unit_id else None
        refused = [c.id for c in query.filter(Call.applicant_natures.is_not(None)) if call_rules.applicant_refusal(c, unit)]
        return query.filter(Call.id.not_in(refused)).order_by(Call.closes_at)  # 申报对象: only the calls the unit may apply in

    def _with_call_fields(self, form_class, call, obj=None):
        """The form class with the call's own fields (自定义字段) added, bound to the request."""
        defs = (call.form_fields or []) if call is not None else []
        if defs:
            form_class = type(form_class.__name__, (form_class,), custom_fields.form_fields_for(self.session, defs))
        form = form_class(get_form_data(), obj=obj)
        form.call_fields = defs
        return form

    def _chosen_call(self):
        """The call of a 新增: the posted 项目批次, else ?call_id= (links of 首页 and 申报须知)."""
        raw = request.form.get("call") if request.method == "POST" else request.args.get("call_id")
        call_id = parse_int(raw, lo=1, hi=INT_MAX)
        return self.open_calls().filter(Call.id == call_id).first() if call_id else None

    def create_form(self, obj=None):
        call = self._chosen_call()
        form = self.scope_form(self._with_call_fields(self._create_form_class, call, obj))
        form.call.query = self.open_calls()
        if request.method == "GET" and call is not None:
            form.call.data = call
        form.chosen_call = call
        return form

    def edit_form(self, obj=None):
        form = self.scope_form(self._with_call_fields(self._edit_form_class, obj.call if obj is not None else None, obj))
        del form.call  # 调整项目批次 is its own page
        form.chosen_call = obj.call if obj is not None else None
        return form

    def extra_export_choices(self):
        """导出Excel's 选择导出字段: the calls' own fields, "字段（批次）". Filtered to one 项目批次, its
        fields are exported by default; otherwise they are offered for the calls in the scope."""
        if not has_request_context():
            return []  # asked about the view itself (the columns every export has)
        chosen = {value for _idx, name, value in (self._get_list_filter_args() or []) if name == "项目批次"}
        query = select(Call.id, Call.name, Call.form_fields).where(Call.form_fields.is_not(None), scope.predicate(principal(), Call))
        if chosen:
            query = query.where(Call.id.in_([int(v) for v in chosen if str(v).isdigit()]))
        out = []
        for call_id, name, defs in self.session.execute(query.order_by(Call.opens_at.desc()).limit(20)):
            for defn in defs or []:
                out.append((export_jobs.custom_column(call_id, defn["key"]), f"{defn['label']}（{name}）", bool(chosen)))
        return out

    def tabs_of(self, form):
        """The form's tabs with the call's own fields in the tab each names."""
        return custom_fields.tabs_with(self.form_tabs, getattr(form, "call_fields", ()))

    def on_form_prefill(self, form, id):
        if request.method == "POST":
            return  # a refused post shows what was typed
        model = self.get_one(id)
        form.innovation_mode.data = model.innovation_mode.value if model.innovation_mode else ""
        custom_fields.fill(form, getattr(form, "call_fields", ()), model.extra)

    def on_model_change(self, form, model, is_created):
        p = principal()
        if is_created:
            call = model.call
            if call is None or not (call.opens_at <= datetime.now() <= call.closes_at):
                raise ValidationError("请选择一个正在申报期内的批次")
            model.applicant_id, model.unit_id = p.user_id, p.unit_id
            model.secondary_unit_id, model.year = p.secondary_unit_id, call.year  # a new row starts 未提交 (the column default)
            if p.unit_id is None:
                raise ValidationError("您的账号未关联单位，不能申报")
        # the call's own fields: only those the form showed (a 新增 whose 批次 changed on the page saves them later)
        if getattr(form, "call_fields", None) and (not is_created or getattr(form, "chosen_call", None) is model.call):
            model.extra = custom_fields.collect(form, form.call_fields, model.extra)

    def row_refusal(self, action, row):
        if action == "delete":
            return workflow.delete_refusal(principal(), row)
        if action == "rank":
            return workflow.rank_refusal(principal(), row)
        return super().row_refusal(action, row)

    def on_model_delete(self, model):
        """A deleted declaration takes its 审批意见 with it (the audit log keeps every step and the delete)."""
        for record in list(model.reviews):
            self.session.delete(record)

    def after_transition(self, t, outcome):
        """提交 of one declaration from its own page (details, edit): 提交成功 and back to the list
        (seed 002 §3.1.4); bulk 提交 and the other actions keep their summary."""
        target = get_redirect_target() or ""
        own_page = urlsplit(target).path.rstrip("/").rsplit("/", 1)[-1] in ("details", "edit")
        if t.action == "submit" and own_page and len(outcome.done) == 1 and not outcome.skipped:
            flash("提交成功", "success")
            back = dict(parse_qsl(urlsplit(target).query)).get("url")
            return redirect(back if back and is_safe_url(back) else self.get_url(".index_view"))
        return super().after_transition(t, outcome)

    # -- 推荐排序 (the transitions come from the table, see ScopedModelView.init_actions) ----
    @action("rank", "推荐排序")
    def action_rank(self, ids):
        position = request.form.get("position", "").strip()
        first = self.get_one(ids[0])
        back = self.get_url(".ranking_view", call_id=first.call_id)
        if not position:
            return redirect(back)
        if len(ids) != 1 or not (position.isascii() and position.isdigit() and len(position) <= 6):
            flash("请为一条申报书输入一个正整数序号", "error")
            return redirect(back)
        ok, message = workflow.rank(self.session, principal(), int(ids[0]), int(position))
        if ok:
            self.session.commit()
        else:
            self.session.rollback()
        flash(message, "success" if ok else "error")
        return redirect(back)

    @expose("/rank-one/", methods=("POST",))
    @csrf.exempt  # checked below instead, so that an expired page is answered in JSON like any refusal
    def rank_one_view(self):
        """推荐排序 from the list's cell (static/ranking.js): fields `id`, `position`, `csrf_token` (or
        the X-CSRFToken header) → JSON {ok, rank, message, ranks}. The same workflow.rank as the
        ranking page: scope, deadline, 1..n without gaps or duplicates, one audit row per change."""
        try:
            csrf.protect()
        except CSRFError:
            return _rank_answer(False, "页面已过期，请刷新页面后重试", 400)
        try:  # an id past INTEGER is no row (PostgreSQL would refuse to compare it: a 500)
            d = self.get_one(parse_int(request.form.get("id"), lo=1, hi=INT_MAX))
        except NotFound:
            return _rank_answer(False, "记录不存在或不在您的数据权限范围内", 404)
        problem = self.refusal("rank", d)
        if problem:
            return _rank_answer(False, problem, 403)
        position = parse_int(request.form.get("position"))  # any integer: rank() names the range
        if position is None:
            return _rank_answer(False, "请输入一个正整数序号", 400)
        p = principal()
        try:
            ok, message = workflow.rank(self.session, p, d.id, position)
            if not ok:
                self.session.rollback()
                return _rank_answer(False, message, 400)
            column = workflow.RANK_COLUMN[workflow.RANK_LEVEL[p.role]].key  # the others moved too: the page updates them
            ranks = {str(row.id): getattr(row, column) for row in workflow.rankable(self.session, p, d.call)}
            self.session.commit()
        except SQLAlchemyError:
            self.session.rollback()
            current_app.logger.exception("推荐排序失败（申报书 %s）", d.id)
            return _rank_answer(False, "系统繁忙，排序未保存，请稍后重试", 503)
        return _rank_answer(True, message, rank=ranks.get(str(d.id)), ranks=ranks)

    # -- pages beside the CRUD ----------------------------------------------------------------
    def ranking_calls(self):
        """Calls whose ranking is still open, for the 推荐排序 links above the list."""
        if not self.may("rank"):
            return []
        now = datetime.now()
        return self.session.query(Call).filter((Call.ranking_deadline.is_(None)) | (Call.ranking_deadline >= now)).order_by(Call.opens_at.desc()).all()

    def details_context(self, d):
        return {
            "transitions": self.transitions_for(d),
            "can_edit": self.may("edit", d),
            "status_text": workflow.status_label(d.status, d.call),
            "reviews": d.reviews,
            "actors": {r.id: display.reader(ReviewRecord, "actor_name")(r) for r in d.reviews},  # as the 审批意见 list reads them
            "Status": Status,
            "level_label": lambda code: (d.call.authority_label if code == "authority" else Level(code).label) if code else "",
            "status_label": lambda s: workflow.status_label(s, d.call),
            "action_label": lambda a: workflow.action_label(a, d.call),
            "correction_note": workflow.correction_note(d),
            "can_rank": self.may("rank"),
            "attachment_kinds": AttachmentKind,
            "custom_rows": custom_rows(self.session, d),
            "upload_kinds": upload_kinds(d),
        }

    @expose("/details/")
    def details_view(self):
        d = self.get_one(request.args.get("id"))
        self._template_args.update(self.details_context(d))
        return super().details_view()

    @expose("/preview/<int:id>/")
    def preview_view(self, id):
        """预览 (seed 002 §3.1.3): the declaration as printed, with what 提交 would refuse marked at its
        field (必填项未填写, 字数/数值超出范围, 必传附件未上传) while it can still be changed."""
        d = self.get_one(id)
        checking = self.may("edit", d)
        problems = workflow.submission_problems(self.session, d) if checking else []
        window = workflow.call_open(Context(self.session, principal(), workflow.DECLARATION, workflow.BY_ACTION["submit"], d,
                                            datetime.now())) if checking else None  # the 提交 guard itself (补正期限 included)
        return self.render("admin/declarations/preview.html", d=d, status_text=workflow.status_label(d.status, d.call),
                           problems=problems, marked={p.key: p.message for p in problems}, window=window, checking=checking,
                           custom_rows=custom_rows(self.session, d),
                           required_attachments=workflow.required_attachments_of(d.call))

    @expose("/move/<int:id>/", methods=("GET", "POST"))
    def move_view(self, id):
        """调整项目批次: to another open call of the same type, while the row is editable."""
        d = self.get_one(id)
        back = self.get_url(".details_view", id=d.id)
        if not self.may("edit", d):
            flash("只有未提交或退回中的申报书可以调整项目批次", "error")
            return redirect(back)
        calls = [c for c in self.open_calls().filter(Call.type == d.call.type, Call.id != d.call_id)]
        error = None
        if request.method == "POST":
            target = next((c for c in calls if str(c.id) == request.form.get("call_id")), None)
            if target is None:
                error = "请选择一个正在申报期内的同类批次"
            else:  # the target's quota, a new 项目编号 of the new batch, audited: workflow.move
                try:
                    message = workflow.move(self.session, principal(), d.id, target)
                    self.session.commit()
                except Refused as refused:
                    self.session.rollback()
                    error = str(refused)
                else:
                    flash(message, "success")
                    return redirect(back)
            d = self.get_one(id)
        return self.render("admin/declarations/move.html", d=d, calls=calls, error=error), (400 if error else 200)

    @expose("/ranking/<int:call_id>/")
    def ranking_view(self, call_id):
        p = principal()
        if not self.may("rank"):
            abort(404)
        call = self.session.get(Call, call_id) or abort(404)
        rows = workflow.rankable(self.session, p, call)
        level = workflow.RANK_LEVEL[p.role]
        return self.render("admin/declarations/ranking.html", call=call, rows=rows, column=workflow.RANK_COLUMN[level].key,
                           closed=workflow.ranking_closed(call), calls=self.session.query(Call).order_by(Call.opens_at.desc()).all())

    @expose("/attachments/<int:id>/", methods=("POST",))
    def upload_view(self, id):
        d = self.get_one(id)
        back = self.get_url(".details_view", id=d.id)
        if not self.may("edit", d):
            flash("只有未提交或退回中的申报书可以上传附件", "error")
            return redirect(back)
        file = request.files.get("file")
        kind, field_key = request.form.get("kind", AttachmentKind.other.value), None
        if kind.startswith(FIELD_KIND):  # a file field of the call's own (自定义字段)
            if kind not in dict(upload_kinds(d)):
                flash("附件类型不正确", "error")
                return redirect(back)
            kind, field_key = AttachmentKind.other.value, kind.removeprefix(FIELD_KIND)
        error = _upload_error(file, kind)
        if error:
            flash(error, "error")
            return redirect(back)
        data = file.read()
        stored = f"{uuid.uuid4().hex}.{file.filename.rsplit('.', 1)[1].lower()}"
        folder = upload_dir()
        (folder / stored).write_bytes(data)
        self.session.add(Attachment(declaration_id=d.id, kind=AttachmentKind(kind), field_key=field_key, filename=file.filename,
                                    stored_name=stored, size=len(data)))
        self.session.commit()
        flash(f"已上传附件“{file.filename}”", "success")
        return redirect(back)

    @expose("/attachment/<int:att_id>/")
    def download_view(self, att_id):
        att = self._attachment(att_id)
        return send_stored(att.stored_name, att.filename, self.get_url(".details_view", id=att.declaration_id))

    @expose("/attachment/<int:att_id>/delete/", methods=("POST",))
    def delete_attachment_view(self, att_id):
        att = self._attachment(att_id)
        d = att.declaration
        if not self.may("edit", d):
            flash("只有未提交或退回中的申报书可以删除附件", "error")
        else:
            self.session.delete(att)
            self.session.commit()
            (upload_dir() / att.stored_name).unlink(missing_ok=True)
            flash(f"已删除附件“{att.filename}”", "success")
        return redirect(self.get_url(".details_view", id=d.id))

    def _attachment(self, att_id):
        att = self.session.scalar(select(Attachment).where(Attachment.id == att_id, scope.predicate(principal(), Attachment)))
        if att is None:
            abort(404)
        return att


def custom_rows(session, d) -> list[tuple[dict, str, list]]:
    """The call's own fields of a declaration as read: (definition, value in words, its files)."""
    defs = form_fields.of_declaration(d)
    names = custom_fields.dict_names(session, defs, d.extra)
    files: dict = {}
    for att in d.attachments:
        if att.field_key:
            files.setdefault(att.field_key, []).append(att)
    return [(defn, form_fields.shown(defn, (d.extra or {}).get(defn["key"]), names), files.get(defn["key"], [])) for defn in defs]


def upload_kinds(d) -> list[tuple[str, str]]:
    """附件类型 of the upload form: the fixed kinds, then the call's own file fields."""
    own = [(FIELD_KIND + defn["key"], defn["label"]) for defn in (d.call.form_fields or []) if defn["type"] == "file"]
    return [(k.value, k.label) for k in AttachmentKind] + own


FIELD_KIND = "field:"


def send_stored(stored_name: str, filename: str, back: str):
    """An uploaded file as a download; one missing on disk (moved, restored from an older backup)
    says so on the page it was asked from instead of failing."""
    path = upload_dir() / stored_name
    if not path.is_file():
        current_app.logger.warning("附件文件不存在：%s（%s）", stored_name, filename)
        flash(f"文件“{filename}”已不存在，请重新上传", "error")
        return redirect(back)
    return send_file(path, as_attachment=True, download_name=filename)


def upload_dir() -> Path:
    folder = Path(current_app.config.get("UPLOAD_DIR") or Path(current_app.instance_path) / "uploads")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _upload_error(file, kind):
    if file is None or not file.filename:
        return "请选择要上传的文件"
    if kind not in {k.value for k in AttachmentKind}:
        return "附件类型不正确"
    ext = file.filename.rsplit(".", 1)[-1].lower() if "." in file.filename else ""
    if ext not in UPLOAD_TYPES:
        return "只能上传 pdf、doc、docx、jpg、png 格式的文件"
    file.seek(0, 2)
    size = file.tell()
    file.seek(0)
    if size > UPLOAD_MAX:
        return f"文件不能超过 {UPLOAD_MAX // 1024 // 1024} MB"
    if size == 0:
        return "文件为空"
    if len(file.filename) > FILENAME_MAX or has_control_chars(file.filename):
        return f"文件名最多 {FILENAME_MAX} 个字，且不能包含不可见的控制字符，请改名后上传"
    head = file.read(16)
    file.seek(0)
    return file_content_error(ext, head)


class ReviewRecordView(ScopedModelView):
    """审批意见: every transition, exportable; read-only."""

    can_view_details = False
    column_list = ("declaration", "at", "actor_name", "role", "level", "action", "from_status", "to_status", "opinion")
    column_labels = {"actor_name": "操作人"}
    column_default_sort = ("id", True)
    column_filters = (IntEqualFilter(ReviewRecord.declaration_id, "申报书编号"), FilterEqual(ReviewRecord.action, "操作"))
    column_formatters = {
        "at": _minute,
        "actor_name": lambda v, c, m, n: display.reader(ReviewRecord, "actor_name")(m),  # 姓名（单位/二级单位）, one query a page
        "role": lambda v, c, m, n: display.reader(ReviewRecord, "role")(m),  # the system's own decisions: 系统
        "level": lambda v, c, m, n: Level(m.level).label if m.level else "",
        **display_formatters(ReviewRecord, "action", "from_status", "to_status"),  # the call type's words (退回企业)
    }


class ProgressReportView(ScopedModelView):
    """调度填报 (seed 003 §3): applicants file on approved projects; districts review (PROGRESS_REPORT)."""

    column_list = ("declaration", "period", "percent", "invested", "status", "submitted_at", "return_reason")
    column_formatters = {"submitted_at": _minute}
    column_default_sort = ("id", True)
    column_filters = (EnumFilter(ProgressReport.status, "状态", ProgressStatus),)
    form_columns = ("declaration", "period", "percent", "invested", "content", "problems")
    form_args = {
        "percent": {"validators": [in_range(0, 100, MESSAGES["ck_progress_report_percent_range"][1])]},
        "invested": {"validators": [non_negative]},
    }

    def scope_form(self, form, model=None):
        form = super().scope_form(form, model)
        if hasattr(form, "declaration"):
            form.declaration.query = form.declaration.query.filter(  # seed 003 §3: 省厅下达通过的项目
                Declaration.status == Status.approved, Declaration.release_status == ReleaseStatus.released)
        return form

    def on_model_change(self, form, model, is_created):
        problem = workflow.report_window_refusal(model.declaration.call, datetime.now())
        if problem:
            raise ValidationError(problem)


class UnitRevenueView(ScopedModelView):
    """上年度营业收入, the quota's input (later fed from the enterprise annual reports)."""

    column_list = ("unit", "year", "revenue")
    column_filters = ("year",)
    form_columns = ("unit", "year", "revenue")
    form_args = {"year": {"validators": [YEARS]}, "revenue": {"validators": [non_negative]}}




class StartupDeclarationView(DeclarationView):
    """创业资助 (seed 002 §3.1): the returnee's 创业资助 declarations and 新增 in its calls only."""

    call_type = CallType.startup
    column_filters = tuple(f for f in DeclarationView.column_filters if f.name not in ("申报类型", "项目状态")) + (
        StateFilter(Declaration.status, "项目状态", CallType.startup),)


class InnovationDeclarationView(DeclarationView):
    """创新资助 (seed 002 §3.2), as 创业资助."""

    call_type = CallType.innovation_fund
    column_filters = tuple(f for f in DeclarationView.column_filters if f.name not in ("申报类型", "项目状态")) + (
        StateFilter(Declaration.status, "项目状态", CallType.innovation_fund),)


class RoleNamedMenuView(MenuView):
    """A menu entry named as its view is for the user (本单位的项目 for the unit side)."""

    @property
    def name(self):
        return self._view.name if self._view is not None else self._text

    @name.setter
    def name(self, value):
        self._text = value


def register(admin, session):
    declarations = DeclarationView(Declaration, session, name="申报书", category=CATEGORY, endpoint="declaration")
    admin.add_view(declarations)
    for item in admin.menu():  # the entry reads the view's name per role
        for entry in item._children if item.is_category() else [item]:
            if getattr(entry, "_view", None) is declarations:
                entry.__class__ = RoleNamedMenuView
    admin.add_view(StartupDeclarationView(Declaration, session, name="创业资助", category=CATEGORY, endpoint="startup_declaration"))
    admin.add_view(InnovationDeclarationView(Declaration, session, name="创新资助", category=CATEGORY, endpoint="innovation_declaration"))
    admin.add_view(ReviewRecordView(ReviewRecord, session, name="审批意见", category=CATEGORY, endpoint="review_record"))
    admin.add_view(ProgressReportView(ProgressReport, session, name="调度填报", category=CATEGORY, endpoint="progress_report"))
    admin.add_view(UnitRevenueView(UnitRevenue, session, name="单位营业收入", category=CATEGORY, endpoint="unit_revenue"))
