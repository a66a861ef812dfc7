"""The scoped base view: every Flask-Admin path that reads or writes rows goes through rules.scope.

Flask-Admin leaks in seven places when only `get_query` is overridden; each is closed here:
counts, get_one (details/edit/delete/ajax update), actions (raw rowids), ajax_update,
ajax look-ups and foreign-key select fields, inline models, and filter option lists.
"""
from __future__ import annotations

import enum
from collections import OrderedDict
from datetime import datetime
from typing import Any, Callable, Iterable, Optional

from flask import abort, current_app, flash, g, has_request_context, redirect, request, url_for
from flask_admin import expose
from flask_admin.actions import action
from flask_admin.babel import gettext as admin_gettext, ngettext as admin_ngettext
from flask_admin.contrib.sqla import ModelView
from flask_admin.contrib.sqla.form import AdminModelConverter
from flask_admin.model.form import converts
from flask_admin.contrib.sqla.ajax import QueryAjaxModelLoader
from flask_admin.contrib.sqla.fields import QuerySelectField, QuerySelectMultipleField
from flask_admin.contrib.sqla.filters import BaseSQLAFilter, FilterLike, FilterNotLike
from flask_admin.helpers import get_redirect_target
from flask_admin.model.fields import AjaxSelectField, AjaxSelectMultipleField
from flask_admin.model.template import DeleteRowAction, EditPopupRowAction, EditRowAction
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import BigInteger, Boolean, false, not_, select
from sqlalchemy import inspect as sa_inspect
from wtforms.fields import FieldList, FormField
from wtforms.validators import ValidationError

from extensions import db
from models import DictItem, ReviewLog, Role
from models.base import LabeledEnum
from rules import permissions, scope, transitions
from rules.constraints import CONTROL_CHARS
from rules.validators import has_control_chars

from .checks import INT_MAX, ModelChecks, like_pattern
from .listing import ListUI
from rules.params import BIGINT_MAX, clean_text, parse_int


def principal() -> Optional[scope.Principal]:
    """The signed-in user as rules/scope sees them, built once per request (a list page asks for
    it for every row and every column's rule)."""
    if not (has_request_context() and current_user and current_user.is_authenticated):
        return None
    user = current_user._get_current_object()
    cached = g.get("principal")
    if cached is None or cached[0] is not user:
        cached = (user, scope.Principal.of(user))
        g.principal = cached
    return cached[1]


def current_role() -> Optional[Role]:
    p = principal()
    return p.role if p else None


class _Messages:
    """A form's messages: WTForms' own in Chinese, then Flask-Admin's. Flask-Admin's fields raise
    theirs ("Invalid JSON", "Not a valid choice") through the form's translations, which know
    only WTForms' catalogue, so they stayed English."""

    def __init__(self, wtforms) -> None:
        self.wtforms = wtforms

    def gettext(self, string: str) -> str:
        text = self.wtforms.gettext(string)
        return admin_gettext(string) if text == string else text

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        text = self.wtforms.ngettext(singular, plural, n)
        return admin_ngettext(singular, plural, n) if text in (singular, plural) else text


class AdminForm(FlaskForm):
    """Flask-WTF form base so that every admin form, action and inline edit carries a CSRF token."""

    class Meta(FlaskForm.Meta):
        def get_translations(self, form):
            return _Messages(super().get_translations(form))

    def __init__(self, formdata=None, obj=None, prefix="", **kwargs):
        self._obj = obj
        super().__init__(formdata=formdata, obj=obj, prefix=prefix, **kwargs)

    def validate(self, extra_validators=None):
        ok = super().validate(extra_validators)
        token = self._fields.get("csrf_token")
        if token is not None and token.errors:
            token.errors = []  # an expired page is said once, above the form (errors.py)
            ok = False
        return ok and not g.get("csrf_expired")  # shown again after a refused token: never saved


def _enum_label(view, value, name=None):
    """A workflow state as its coloured badge, any other enum as its label (never the code)."""
    from .ui import status_badge

    return status_badge(value) if getattr(value, "label", None) is not None else value.name


def scoped_options(model: type, label: Callable[[Any], str] = str, where=None) -> Callable[[], list]:
    """Filter options naming rows of `model`, computed per request inside the user's scope."""

    def options() -> list[tuple[str, str]]:
        p = principal()
        if p is None:
            return []
        query = db.session.query(model).filter(scope.predicate(p, model))
        if where is not None:
            query = query.filter(where)
        return [(str(obj.id), label(obj)) for obj in query.order_by(model.id).limit(500)]

    return options


class DecidedByMe(BaseSQLAFilter):
    """审核归属: the rows whose review reaches the current user (a machine's reviewer rule), or the others."""

    def __init__(self, column, name, who, **kwargs):
        super().__init__(column, name, options=(("1", "由本级审核"), ("0", "由其他层级审核")), **kwargs)
        self.who = who

    def validate(self, value):
        return value in ("0", "1")

    def apply(self, query, value, alias=None):
        p = principal()
        mine = self.who.where(p) if p is not None else false()
        return query.filter(mine if value == "1" else not_(mine))

    def operation(self):
        return "为"


class ScopedAjaxSelectField(AjaxSelectField):
    """An ajax select that refuses an id its (scoped) loader cannot find, instead of blanking it."""

    def pre_validate(self, form):
        posted = getattr(self, "_formdata", None)
        if posted and self.data is None:
            raise ValidationError("请选择有效的选项")
        super().pre_validate(form)


class ScopedAjaxSelectMultipleField(AjaxSelectMultipleField):
    def pre_validate(self, form):
        posted = getattr(self, "_formdata", None) or ()
        if posted and len(self.data or ()) != len(set(posted)):
            raise ValidationError("请选择有效的选项")
        super().pre_validate(form)


class ScopedAjaxLoader(QueryAjaxModelLoader):
    """An ajax look-up that lists and accepts only rows inside the user's scope."""

    def get_query(self):
        return super().get_query().filter(scope.predicate(principal(), self.model))

    def get_one(self, pk):
        column = getattr(self.model, self.pk)
        try:  # posted ids are text; PostgreSQL will not compare an integer column with VARCHAR
            pk = column.type.python_type(pk)
        except (TypeError, ValueError):
            return None
        return self.get_query().filter(column == pk).one_or_none()


class RoleGate:
    """Who may open a view: the permission table (rules/permissions.py) by the view's endpoint.
    Anonymous users go to the login page; other roles get 404."""

    @property
    def roles(self) -> frozenset:
        return permissions.roles(self.endpoint, "view")

    def is_accessible(self) -> bool:
        return permissions.allowed(principal(), self.endpoint, "view")

    def may(self, operation: str, row=None) -> bool:
        return permissions.allowed(principal(), self.endpoint, operation)

    def inaccessible_callback(self, name, **kwargs):
        if not (current_user and current_user.is_authenticated):
            return redirect(url_for("auth.login", next=request.full_path))
        abort(404)


class LabeledConverter(AdminModelConverter):
    """Form fields of enum columns offer the Chinese labels; Flask-Admin's show the stored codes."""

    @converts("Enum")
    def convert_enum(self, column, field_args, **extra):
        field = super().convert_enum(column, field_args, **extra)
        enum_class = getattr(column.type, "enum_class", None)
        if enum_class is not None and issubclass(enum_class, LabeledEnum):
            by_code = {m.value: m.label for m in enum_class}
            field.kwargs["choices"] = [(code, by_code.get(code, code)) for code, _ in field.kwargs["choices"]]
        return field


def _datetime_label(view, value, name=None):
    return value.strftime("%Y-%m-%d %H:%M:%S")


def _bool_label(view, value, name=None):
    """是/否 as text: Flask-Admin's icons carry an English tooltip (`in_gaoxin: true`)."""
    if value is None:
        return ""
    return "是" if value else "否"


def _guard_filter(flt) -> None:
    """A filter value that cannot be what the filter compares with is refused (Flask-Admin then
    drops the filter with a notice) instead of reaching the database: codes outside the options,
    numbers that overflow a BIGINT, NUL bytes, pages of text."""
    if getattr(flt, "_guarded", False):
        return
    original = flt.validate
    column_type = getattr(getattr(flt, "column", None), "type", None)
    try:
        numeric = column_type is not None and column_type.python_type is int
    except NotImplementedError:
        numeric = False
    if isinstance(flt.options, (list, tuple)) and flt.options:
        numeric = False  # a filter with fixed options (申报类型 over call_id) is checked by its options
    boolean = isinstance(column_type, Boolean)
    limit = BIGINT_MAX if isinstance(column_type, BigInteger) else INT_MAX  # PostgreSQL binds the column's own type

    def validate(value) -> bool:
        if clean_text(value) is None:
            return False
        many = "InList" in type(flt).__name__
        parts = [v.strip() for v in value.split(",")] if many else [value]
        if numeric and any(parse_int(v, -limit - 1, limit) is None for v in parts):
            return False
        if boolean and any(v not in ("0", "1") for v in parts):
            return False
        options = flt.options  # a fixed list; per-request option lists are checked by their column type
        if isinstance(options, (list, tuple)) and options and not isinstance(flt, DecidedByMe):
            codes = {str(code) for code, _label in options}
            if any(v not in codes for v in parts):
                return False
        try:
            cleaned = flt.clean(value)
        except (ValueError, LookupError, TypeError, ArithmeticError):
            return False
        for item in cleaned if isinstance(cleaned, list) else [cleaned]:
            if isinstance(item, int) and not isinstance(item, bool) and abs(item) > limit:
                return False
        return original(value)

    if numeric:  # a text filter over an integer column (单位 by id): compare as a number on PostgreSQL too
        text_clean = flt.clean

        def clean(value):
            cleaned = text_clean(value)
            if isinstance(cleaned, list):
                return [parse_int(v) if isinstance(v, str) else v for v in cleaned]
            return parse_int(cleaned) if isinstance(cleaned, str) else cleaned

        flt.clean = clean
    if boolean:  # 用户状态 1/0 against a BOOLEAN column: PostgreSQL does not compare it with text
        flt.clean = lambda value: [v.strip() == "1" for v in value.split(",")] if "InList" in type(flt).__name__ else value == "1"
    if isinstance(flt, (FilterLike, FilterNotLike)):  # 包含/不包含: % and _ as typed, as in the search box
        negate = isinstance(flt, FilterNotLike)

        def apply(query, value, alias=None):
            match = flt.get_column(alias).ilike(like_pattern(value), escape="\\")
            return query.filter(~match if negate else match)

        flt.apply = apply
    flt.validate = validate
    flt._guarded = True


class ScopedModelView(RoleGate, ModelChecks, ListUI, ModelView):
    """Base of every model view: role gate, data scope, Chinese labels and our own export.

    Who may open, create, edit, delete and act comes from rules/permissions.py by endpoint; the
    records a view moves (its `machine`) bring their transitions, which become the list's bulk
    actions, the details page's buttons and their reason prompts. One question answers them all:
    `may(action, row)`."""

    form_base_class = AdminForm
    page_size = 20
    can_set_page_size = True
    page_size_options = (10, 20, 50, 100)
    can_view_details = True
    can_export = True
    export_types = ["xlsx"]
    details_modal = False
    edit_modal = False
    create_modal = False
    column_display_pk = False
    create_label = "新增"  # the manuals' wording for the create tab
    details_template = "admin/scoped_details.html"
    create_template = "admin/scoped_create.html"
    edit_template = "admin/scoped_edit.html"
    neighbor_scan_limit = 200_000
    model_form_converter = LabeledConverter
    column_type_formatters = {
        **ModelView.column_type_formatters,  # type: ignore[dict-item]
        enum.Enum: _enum_label,  # replaces Flask-Admin's, which shows the code
        bool: _bool_label,
        datetime: _datetime_label,  # to the second, not Python's microseconds
    }
    column_type_formatters_detail = column_type_formatters

    # -- the one question: may the current user take `action` (on `row`) now? ----------------
    @property
    def grant(self) -> Optional[permissions.Grant]:
        return permissions.grant(self.endpoint)

    @property
    def machine(self) -> Optional[transitions.Machine]:
        g = self.grant
        return g.machine if g else None

    def may(self, action: str, row=None) -> bool:
        return self.refusal(action, row) is None

    def refusal(self, action: str, row=None) -> Optional[str]:
        """Why not (a Chinese sentence), or None. Transitions are answered by their table (state,
        who and level; guards are checked when acting), everything else by the permission table
        and, for a row, `row_refusal`."""
        p = principal()
        m = self.machine
        if m is not None and action in m.by_action:
            if not permissions.allowed(p, self.endpoint, action if m.by_action[action].bulk else "view"):
                return "您无权执行此操作"
            return None if row is None else transitions.refusal(self.session, p, m, action, row)
        if not permissions.allowed(p, self.endpoint, action):
            return "您无权执行此操作"
        return None if row is None else self.row_refusal(action, row)

    def row_refusal(self, action: str, row) -> Optional[str]:
        """A row's own rule for edit and delete: a record under review changes only through a
        transition (the machine's `editable` states)."""
        m = self.machine
        if m is not None and action in ("edit", "delete") and not m.can_edit(principal(), row):
            return f"当前状态为“{m.label_of(row)}”，不能{'修改' if action == 'edit' else '删除'}"
        return None

    def transitions_for(self, row) -> list:
        """The transitions the user may take on `row` now: the details page's buttons."""
        m = self.machine
        if m is None:
            return []
        memo = g.setdefault("transitions_for", {})  # the list asks per row for 操作 and the toolbar
        key = (self.endpoint, id(row), getattr(row, m.column, None))
        if key not in memo:
            memo[key] = (row, [t for t in m.actions() if self._may_take(t, row)])
        return memo[key][1]

    def prefetch_acting(self, rows) -> str:
        """For a list page: who decides each row, as one query per reviewer rule (`Who.where`, the
        same SQL its row check runs) instead of one per row. Returns "" (called from the template)."""
        m, p = self.machine, principal()
        if m is None or p is None or not rows:
            return ""
        ids = {r.id for r in rows}
        store = g.setdefault("acting_where", {})
        by_rule: dict[int, set] = {}
        for t in m.actions():
            if t.who.where is None or p.role not in t.who.roles_at(t.sources):
                continue
            if id(t.who) not in by_rule:
                found = self.session.scalars(select(m.model.id).where(m.model.id.in_(ids), t.who.where(p)))
                by_rule[id(t.who)] = set(found)
            store[(self.endpoint, t.action)] = (ids, by_rule[id(t.who)])
        return ""

    def _may_take(self, t, row) -> bool:
        """`may(t.action, row)`, answered from the page's prefetched reviewer rule when there is one."""
        fetched = g.get("acting_where", {}).get((self.endpoint, t.action))
        if fetched is None or row.id not in fetched[0]:
            return self.may(t.action, row)
        p = principal()
        return (self.refusal(t.action) is None and self.machine.state_of(row) in t.sources
                and p is not None and p.role in t.who.roles_at(t.sources) and row.id in fetched[1])

    def review_log(self, row) -> Optional[list]:
        """审批意见 of a record whose machine keeps them in review_log (None: the page shows its own)."""
        m = self.machine
        target = getattr(m.record, "review_log_target", None) if m is not None else None
        if target is None:
            return None
        entries = self.session.scalars(
            select(ReviewLog).where(ReviewLog.target == target, ReviewLog.target_id == row.id,
                                    scope.predicate(principal(), ReviewLog)).order_by(ReviewLog.id)
        ).all()
        states = m.status_column.type.enum_class
        from rules.display import actor_labels, login_shown

        actors = actor_labels(self.session, [e.user_id for e in entries])  # 姓名（单位/二级单位）, one query
        return [{"at": e.at, "username": e.username, "actor": actors.get(e.user_id) or login_shown(e.username),
                 "role": Role(e.role).label if e.role in Role._value2member_map_ else "",
                 "action": m.by_action[e.action].label if e.action in m.by_action else e.action,
                 "change": f"{states(e.from_status).label} → {states(e.to_status).label}", "opinion": e.opinion or ""}
                for e in entries]

    def allowed(self, row) -> list[str]:
        return [t.action for t in self.transitions_for(row)]

    def row_editable(self, row) -> bool:
        """Whether the list shows the row's edit button (the edit view refuses on its own too)."""
        return self.may("edit", row)

    def row_deletable(self, row) -> bool:
        return self.may("delete", row)

    def row_actions_for(self, row, actions):
        """The list's row buttons for one row: edit and delete only where they would be accepted."""
        shown = []
        for act in actions:
            if isinstance(act, (EditRowAction, EditPopupRowAction)) and not self.row_editable(row):
                continue
            if isinstance(act, DeleteRowAction) and not self.row_deletable(row):
                continue
            shown.append(act)
        return shown

    def __init__(self, model, session=None, *args, **kwargs):
        self.column_labels = {**self.model_labels(model), **(self.column_labels or {})}
        self.inline_models = self._labelled_inlines(self.inline_models)
        super().__init__(model, session or db.session, *args, **kwargs)

    @classmethod
    def _labelled_inlines(cls, inlines):
        """Inline forms (项目成员, 经费预算) labelled from their model's columns, as the main form is."""
        if not inlines:
            return inlines
        out = []
        for entry in inlines:
            if isinstance(entry, tuple) and len(entry) == 2 and isinstance(entry[1], dict):
                inline_model, options = entry
                options = {**options, "column_labels": {**cls.model_labels(inline_model), **options.get("column_labels", {})}}
                entry = (inline_model, options)
            out.append(entry)
        return tuple(out)

    # -- labels -----------------------------------------------------------------------------
    @staticmethod
    def model_labels(model) -> dict[str, str]:
        mapper = sa_inspect(model)
        labels = {}
        for attr in mapper.column_attrs:
            text = attr.columns[0].info.get("label")
            if text:
                labels[attr.key] = text
        for rel in mapper.relationships:
            text = rel.info.get("label")
            if text:
                labels[rel.key] = text
            for attr in rel.mapper.column_attrs:  # `enterprise.name` in a search box or column list
                text = attr.columns[0].info.get("label")
                if text:
                    labels[f"{rel.key}.{attr.key}"] = text
        return labels

    # -- role gate: see RoleGate; rights from the permission table ---------------------------
    @property
    def can_create(self) -> bool:  # type: ignore[override]
        return self.may("create")

    @property
    def can_edit(self) -> bool:  # type: ignore[override]
        return self.may("edit")

    @property
    def can_delete(self) -> bool:  # type: ignore[override]
        return self.may("delete")

    def is_action_allowed(self, name: str) -> bool:
        if name == "delete":
            return self.can_delete
        if name == "export_selected":
            return self.can_export
        return self.may(name)

    @property
    def reason_actions(self) -> dict[str, tuple[str, bool]]:
        """Actions that take a reason or opinion (form field `reason`): name → (label, required).
        Without a `reason` field in the post, such an action first shows a confirmation page."""
        m = self.machine
        return {t.action: (t.reason.label, t.reason.required) for t in m.actions() if t.reason} if m else {}

    def init_actions(self) -> None:
        """Flask-Admin's @actions, with the machine's transitions first (label and confirmation
        from the transition table)."""
        super().init_actions()
        m = self.machine
        if m is None:
            return
        own = [(n, t) for n, t in self._actions if n not in m.by_action]
        self._actions = [(t.action, t.label) for t in m.actions()] + own
        for t in m.actions():
            self._actions_data[t.action] = (lambda ids, a=t.action: self.run_transition(a, ids), t.label, t.confirm)

    def run_transition(self, action: str, ids) -> None:
        """Take a transition on the ticked rows (each in its own savepoint) and say what happened."""
        t = self.machine.by_action[action]
        try:
            reason = self.action_reason() if t.reason else ""  # checked by `reason_error` where it is asked
            data, _errors = self.asked(action)  # refused ones were shown again by handle_action
            outcome = transitions.apply(self.session, principal(), self.machine, ids, action, reason, data=data)
            self.session.commit()
        except Exception:
            self.session.rollback()
            current_app.logger.exception("%s 的“%s”操作失败", self.endpoint, t.label)
            flash("操作失败，请稍后重试；数据未作任何修改", "error")
            return
        return self.after_transition(t, outcome)

    def after_transition(self, t, outcome):
        """What the user sees once a transition ran: its summary ("已审核通过 n 条，跳过 m 条：…"),
        back where they were (None). A view may answer otherwise (申报书: 提交成功 and the list)."""
        flash(outcome.message(t.done_verb), outcome.category)
        return None

    # -- the scope --------------------------------------------------------------------------
    def scope_clause(self, model=None):
        return scope.predicate(principal(), model or self.model)

    def base_filter(self):
        """A fixed filter of this view on top of the scope (e.g. 登录日志 only login rows)."""
        return None

    def _restrict(self, query):
        query = query.filter(self.scope_clause())
        extra = self.base_filter()
        return query if extra is None else query.filter(extra)

    def get_query(self):
        return self._restrict(super().get_query())

    def get_count_query(self):
        query = self._restrict(super().get_count_query())
        estimate = self._unfiltered_estimate()
        return query if estimate is None else _KnownCount(estimate)

    def estimated_count(self) -> Optional[int]:
        """Hook: a cheap estimate of the rows this user sees, used for the pager instead of
        COUNT(*) when the list has neither search nor filter (None: count exactly)."""
        return None

    def _unfiltered_estimate(self) -> Optional[int]:
        if not has_request_context() or request.endpoint != f"{self.endpoint}.index_view":
            return None
        args = self._get_list_extra_args()
        return None if args.search or args.filters else self.estimated_count()

    def _pk_column(self):
        return sa_inspect(self.model).primary_key[0]

    def _coerce_pk(self, value):
        column = self._pk_column()
        python_type = column.type.python_type
        if python_type is int:  # within the column's own type: PostgreSQL refuses to compare past it
            return parse_int(value, lo=1, hi=BIGINT_MAX if isinstance(column.type, BigInteger) else INT_MAX)
        try:
            return python_type(value) if clean_text(value) is not None else None
        except (TypeError, ValueError):
            return None

    def get_one(self, id):
        """A row inside the scope, or 404: never a 403 that confirms the row exists."""
        pk = self._coerce_pk(id)
        obj = None
        if pk is not None:
            with self.session.no_autoflush:
                obj = self.get_query().filter(self._pk_column() == pk).one_or_none()
        if obj is None:
            abort(404)
        return obj

    def scoped_ids(self, ids: Iterable[str]) -> list:
        """Re-select posted row ids through the scoped query; any id outside it answers 404."""
        wanted = {self._coerce_pk(i) for i in ids}
        if None in wanted:
            abort(404)
        if not wanted:
            return []
        found = {
            row[0]
            for row in self._restrict(self.session.query(self._pk_column())).filter(self._pk_column().in_(wanted))
        }
        if found != wanted:
            abort(404)
        return sorted(found)

    def scoped_rows(self, ids: Iterable) -> list:
        ids = list(ids)
        if not ids:
            return []
        return self.get_query().filter(self._pk_column().in_(ids)).order_by(self._pk_column()).all()

    # -- actions ----------------------------------------------------------------------------
    def handle_action(self, return_view=None):
        form = self.action_form()
        expired = bool(g.get("csrf_expired"))  # errors.py has said 页面已过期 and calls the view again
        if expired or not self.validate_form(form):
            typed = self._stale_confirmation(form.action.data)
            if typed is not None:
                return typed
            if not expired:
                flash("操作失败：页面已过期或缺少安全令牌，请刷新后重试", "error")
            return redirect(get_redirect_target() or self.get_url(".index_view"))
        name = form.action.data
        handler = self._actions_data.get(name)
        if not handler or not self.is_action_allowed(name):
            abort(404)
        posted = request.form.getlist("rowid")
        is_transition = self.machine is not None and name in self.machine.by_action
        # a transition reports a foreign or malformed id as skipped; other actions refuse it
        ids = posted if is_transition else self.scoped_ids(posted)
        if not ids:
            flash("请先选择要操作的记录", "warning")
            return redirect(get_redirect_target() or self.get_url(".index_view"))
        if name in self.reason_actions and (not is_transition or self._any_in_scope(ids)):
            label, required = self.reason_actions[name]
            if "reason" not in request.form:
                return self.render_action_confirm(name, handler[1], ids, label, required)
            if required and not self.action_reason():
                return self.render_action_confirm(name, handler[1], ids, label, required, error=f"请填写{label}")
            if problem := self.reason_error(label):
                return self.render_action_confirm(name, handler[1], ids, label, required, error=problem)
        asks = self.machine.by_action[name].asks if is_transition else ()
        if any(a.required and a.name not in request.form for a in asks) and self._any_in_scope(ids):
            # 下达文号/下达日期 and the like asked on the confirmation page when the post did not carry them
            return self.render_action_confirm(name, handler[1], ids, *(self.reason_actions.get(name) or ("", False)))
        if is_transition and (ask_errors := self.asked(name)[1]) and self._any_in_scope(ids):
            # 补正期限 and the like: refused at its field, what was typed kept
            return self.render_action_confirm(name, handler[1], ids, *(self.reason_actions.get(name) or ("", False)),
                                              error=None, ask_errors=ask_errors)
        response = handler[0]([str(i) for i in ids])
        if response is not None:
            return response
        return redirect(get_redirect_target() or self.get_url(".index_view"))

    def _stale_confirmation(self, name):
        """An expired page (stale CSRF token) of a transition that asked something: the confirmation
        page again with what was typed and a fresh token, nothing done; None for other posts."""
        m = self.machine
        t = m.by_action.get(name) if m is not None and isinstance(name, str) else None
        ids = request.form.getlist("rowid")
        if t is None or not (t.reason or t.asks) or not ids or not self.is_action_allowed(name) or not self._any_in_scope(ids):
            return None
        label, required = self.reason_actions.get(name) or ("", False)
        page, _status = self.render_action_confirm(name, t.label, ids, label, required)  # the flash says 页面已过期
        return page, 400

    def _valid_pks(self, ids) -> list:
        return [self._coerce_pk(i) for i in ids if str(i).isascii() and str(i).isdigit() and len(str(i)) <= 18]

    def _any_in_scope(self, ids) -> bool:
        """Whether a confirmation page would list anything (else the transition reports the skips)."""
        good = self._valid_pks(ids)
        return bool(good) and bool(self.scoped_rows(good))

    reason_max = 2000  # 审核意见, 退回原因: what the confirmation page accepts

    def action_reason(self) -> str:
        """The reason or opinion posted with an action (field `reason`), trimmed; `reason_error`
        refuses one that is too long before any transition runs (never cut silently)."""
        return (request.form.get("reason") or "").strip()

    def reason_error(self, label: str) -> Optional[str]:
        reason = self.action_reason()
        if len(reason) > self.reason_max:
            return f"{label}最多 {self.reason_max} 个字（现为 {len(reason)} 字）"
        if has_control_chars(reason):
            return f"{label}{CONTROL_CHARS}"
        return None

    def asked(self, action: str) -> tuple[dict, dict]:
        """The inputs the transition asks besides the reason (`Transition.asks`, e.g. 补正期限) as
        posted: (values for `transitions.apply(data=...)`, Chinese errors by field name)."""
        t = self.machine.by_action[action] if self.machine is not None else None
        if t is None or not t.asks:
            return {}, {}
        memo = g.setdefault("asked", {})
        if action not in memo:
            memo[action] = transitions.read_asks(t, request.form)
        return memo[action]

    def render_action_confirm(self, name, text, ids, label, required, error=None, ask_errors=None):
        rows = self.scoped_rows(self._valid_pks(ids))
        t = self.machine.by_action.get(name) if self.machine is not None else None
        return self.render(
            "admin/action_confirm.html",
            action_name=name,
            action_text=str(text),
            rows=rows,
            reason_label=label,
            reason_required=required,
            reason_max=self.reason_max,
            reason=request.form.get("reason", ""),
            error=error,
            asks=t.asks if t is not None else (),
            ask_values=request.form,
            ask_errors=ask_errors or {},
            return_url=get_redirect_target() or self.get_url(".index_view"),
        ), (400 if error or ask_errors else 200)

    # -- edit and delete ask `may` too: a record under review changes only through a transition
    @expose("/edit/", methods=("GET", "POST"))
    def edit_view(self):
        if self.can_edit and request.args.get("id") is not None:
            row = self.get_one(request.args.get("id"))
            problem = self.refusal("edit", row)
            if problem:
                flash(problem, "warning")
                return redirect(self.get_url(".details_view", id=self.get_pk_value(row), url=get_redirect_target()))
        return super().edit_view()

    def update_model(self, form, model) -> bool:
        problem = self.refusal("edit", model)
        if problem:
            flash(problem, "error")
            return False
        return super().update_model(form, model)

    def delete_model(self, model) -> bool:
        problem = self.refusal("delete", model)
        if problem:
            flash(problem, "error")
            return False
        return super().delete_model(model)

    @expose("/ajax/update/", methods=("POST",))
    def ajax_update(self):
        if not self.can_edit:
            abort(404)
        return super().ajax_update()

    # -- forms: scope every select of related rows, inline forms included ------------------
    def _create_ajax_loader(self, name, options):
        loader = super()._create_ajax_loader(name, options)
        loader.__class__ = ScopedAjaxLoader
        return loader

    def scope_form(self, form, model=None):
        model = model or self.model
        p = principal()
        for field in form:
            if getattr(field, "allow_blank", False):
                field.blank_text = "请选择"
            if isinstance(field, (QuerySelectField, QuerySelectMultipleField)):
                query = field.query if field.query is not None else field.query_factory()
                remote = query.column_descriptions[0]["entity"]
                query = query.filter(scope.predicate(p, remote))
                if remote is DictItem:
                    category = self._dictionary_of_model(model, field.name.split("-")[-1])
                    if category:
                        query = query.filter(DictItem.category == category, DictItem.active.is_(True)).order_by(DictItem.sort, DictItem.id)
                field.query = query
            elif isinstance(field, AjaxSelectMultipleField) and not isinstance(field, ScopedAjaxSelectMultipleField):
                field.__class__ = ScopedAjaxSelectMultipleField
            elif isinstance(field, AjaxSelectField) and not isinstance(field, ScopedAjaxSelectField):
                field.__class__ = ScopedAjaxSelectField
            elif isinstance(field, FormField):
                self.scope_form(field.form, getattr(field.form, "_model", None) or model)
            elif isinstance(field, FieldList):
                inline_model = self._inline_model(field) or model
                template = getattr(field, "template", None)  # the blank row the page clones for 添加
                for entry in [*field.entries, *([template] if isinstance(template, FormField) else [])]:
                    if isinstance(entry, FormField):
                        self.scope_form(entry.form, inline_model)
        return form

    @staticmethod
    def _dictionary_of_model(model, field_name: str) -> Optional[str]:
        rel = sa_inspect(model).relationships.get(field_name)
        if rel is None:
            return None
        for column in rel.local_columns:
            if column.info.get("dict"):
                return column.info["dict"]
        return None

    @staticmethod
    def _inline_model(field):
        return getattr(field, "model", None)

    def create_form(self, obj=None):
        return self.scope_form(super().create_form(obj))

    def edit_form(self, obj=None):
        return self.scope_form(super().edit_form(obj))

    def list_form(self, obj=None):
        return self.scope_form(super().list_form(obj))

    def get_filters(self):
        filters = super().get_filters()
        for flt in filters or ():
            _guard_filter(flt)
        return filters

    def get_invalid_value_msg(self, value, filter):
        return f"筛选条件“{filter.name}”的值无效，已忽略"

    def _get_list_extra_args(self):
        """Page, page size, sort and search as typed in the URL, within sense: a page past the end
        is an empty page, an unknown page size the default, never an overflow or a NUL in SQL."""
        args = super()._get_list_extra_args()
        args.page = parse_int(request.args.get("page"), lo=0, hi=10**7) or 0
        size = parse_int(request.args.get("page_size"), lo=1)
        args.page_size = size if size in self.page_size_options else 0
        args.sort = parse_int(request.args.get("sort"), lo=0, hi=10**4)
        args.sort_desc = bool(parse_int(request.args.get("desc")))
        search = clean_text(request.args.get("search")) if request.args.get("search") else None
        if request.args.get("search") and search is None and not g.get("search_refused"):
            g.search_refused = True  # Flask-Admin reads the arguments twice: say it once
            flash("查询内容过长或含有不可见字符，已忽略", "warning")
        args.search = search
        return args

    def scaffold_filters(self, name):
        """Enum filters offer the Chinese labels, not the stored codes."""
        filters = super().scaffold_filters(name)
        for flt in filters or ():
            enum_class = getattr(getattr(getattr(flt, "column", None), "type", None), "enum_class", None)
            if enum_class is not None and hasattr(enum_class, "choices"):
                flt.options = enum_class.choices()
        return filters

    # -- list URLs with filters named by their label, not by their position ------------------
    def filter_url(self, **by_name) -> str:
        """The list's URL with filters given by name, e.g. `filter_url(项目状态="returned")`: the
        position in `column_filters` may change, the link still filters the same column."""
        args = {}
        for position, (name, value) in enumerate(by_name.items()):
            index = next((i for i, flt in enumerate(self._filters or ()) if str(flt.name) == name), None)
            if index is None:
                raise KeyError(f"{self.endpoint} 没有名为“{name}”的筛选条件")
            args[f"flt{position}_{self.get_filter_arg(index, self._filters[index])}"] = value
        return url_for(f"{self.endpoint}.index_view", **args)

    # -- filter option lists: rebuilt per request, never the start-up snapshot -------------
    def _get_filter_groups(self):
        if not self._filters:
            return None
        groups: OrderedDict[str, list] = OrderedDict()
        for index, flt in enumerate(self._filters):
            options = flt.get_options(self)  # callable options run now, inside this request's scope
            groups.setdefault(str(flt.name), []).append(
                {
                    "index": index,
                    "arg": self.get_filter_arg(index, flt),
                    "operation": str(flt.operation()),
                    "options": [(k, str(v)) for k, v in options] if options else None,
                    "type": flt.data_type,
                }
            )
        return groups

    # -- 上一条 / 下一条 on the details page, following the list's filter, search and sort ----
    def neighbors(self, obj, return_url: str) -> tuple[Optional[Any], Optional[Any]]:
        from urllib.parse import parse_qsl, urlsplit

        from werkzeug.datastructures import MultiDict

        list_args = MultiDict(parse_qsl(urlsplit(return_url or "").query))
        saved = request.__dict__.get("args")
        request.__dict__["args"] = list_args  # the list's own arguments, read by Flask-Admin's parser
        try:
            args = self._get_list_extra_args()
            sort = self._get_column_by_idx(args.sort)
            _, query = self.get_list(
                0, sort[0] if sort else None, args.sort_desc, args.search, args.filters, execute=False, page_size=0
            )
        finally:
            if saved is None:
                request.__dict__.pop("args", None)
            else:
                request.__dict__["args"] = saved
        current = str(self.get_pk_value(obj))  # Flask-Admin's pk value is text; the query's is the column's type
        previous = None
        ids = query.with_entities(self._pk_column()).limit(self.neighbor_scan_limit)
        found = False
        for (pk,) in ids.yield_per(5000):
            if found:
                return previous, pk
            if str(pk) == current:
                found = True
                continue
            previous = pk
        return (previous, None) if found else (None, None)

    # -- export: our own streaming writer (see admin_views/export.py) ----------------------
    # The list template adds 导出Excel and the 选择导出字段 dialog; `column_formatters_export`
    # (name → fn(view, context, model, name)) gives a column its own typed export value.

    def export_column_choices(self) -> list[tuple[str, str, bool]]:
        """(name, label, checked) offered by the 选择导出字段 dialog."""
        from .export import column_choices

        return column_choices(self)

    @action("export_selected", "导出Excel（选中记录）")
    def action_export_selected(self, ids):
        """Every list gets row checkboxes and this action; the rowids were re-selected through the scope."""
        from .export import export_response

        return export_response(self)

    @expose("/export/<export_type>/", methods=("GET", "POST"))
    def export(self, export_type):
        from .export import export_response

        if export_type != "xlsx" or not self.can_export:
            abort(404)
        return export_response(self)


class _KnownCount:
    """Stands in for the count query when the count is already known (see `estimated_count`)."""

    def __init__(self, value: int) -> None:
        self.value = value

    def scalar(self) -> int:
        return self.value


def table_row_estimate(session, table_name: str, at_least: int = 50_000) -> Optional[int]:
    """The planner's row count of a table (PostgreSQL pg_class.reltuples, SQLite sqlite_stat1
    after ANALYZE), or None when unknown or small enough that COUNT(*) is cheap anyway."""
    from sqlalchemy import text

    try:
        if session.get_bind().dialect.name == "postgresql":
            value = session.execute(text("SELECT reltuples::bigint FROM pg_class WHERE oid = to_regclass(:t)"), {"t": table_name}).scalar()
        else:
            stat = session.execute(text("SELECT stat FROM sqlite_stat1 WHERE tbl = :t LIMIT 1"), {"t": table_name}).scalar()
            value = int(stat.split()[0]) if stat else None
    except Exception:  # no statistics table yet
        session.rollback()
        return None
    return int(value) if value is not None and value >= at_least else None


class Outcome(transitions.Outcome):
    """A bulk action that is not a transition (启用, 禁用, 重置密码) reports like one."""

    def ok(self, label: str) -> None:
        self.done.append((None, label))

    def skip(self, label: str, reason: str) -> None:
        self.skipped.append((label, reason))

    def flash(self, verb: str) -> None:
        flash(self.message(verb), self.category)
