"""The list page as the manuals show it (seed 000 §2.4, 001): a 查询/重置 form generated from the
view's declared filters, a toolbar of bulk actions, an 操作 column of text links chosen per row by
`may(action, row)`, and column classes (numbers right, dates unbroken). Mixed into ScopedModelView.

The form speaks Flask-Admin's own filter arguments (`flt<n>_<arg>=value`), so links built by
`filter_url`, the pager and the export keep working; empty fields are ignored, and a date range
posts its two ends under one name, read back as Flask-Admin's "起 to 止"."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Optional

from flask import flash, g, jsonify, request
from flask_admin import expose
from flask_admin.babel import gettext as admin_gettext
from flask_admin.model.template import DeleteRowAction, EditPopupRowAction, EditRowAction, ViewRowAction
from sqlalchemy import inspect as sa_inspect

from rules.params import clean_text

REMOTE_AT = 30  # a filter with more options than this is searched remotely, not listed in a select
REVIEW_ACTIONS = ("approve", "return", "reject")  # taken together in the review dialog (with an opinion)
_FLT = re.compile(r"^flt(\d{1,3})_(.+)$")
_RANGE_TYPES = ("daterangepicker", "datetimerangepicker")
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@dataclass
class QueryField:
    """One field of the 查询 form."""

    label: str
    kind: str  # text | select | remote | range | search
    name: str  # the request argument
    value: Any = ""
    options: list = field(default_factory=list)
    placeholder: str = ""
    text: str = ""  # the chosen option's label (remote)
    index: Optional[int] = None  # the filter's index in the view's filters


def _operation(flt) -> str:
    return str(flt.operation())


def _choose(filters: list) -> Optional[tuple[int, Any, str]]:
    """The one filter of a column the 查询 form offers: a date range, else a choice among the
    options, else 包含, else 等于 typed in."""
    between, equals = str(admin_gettext("between")), (str(admin_gettext("equals")), "为")
    contains = str(admin_gettext("contains"))
    ranked = []
    for index, flt in filters:
        op = _operation(flt)
        if flt.data_type in _RANGE_TYPES and op == between:
            ranked.append((0, index, flt, "range"))
        elif op in equals and flt.options:
            ranked.append((1, index, flt, "select"))
        elif op == contains:
            ranked.append((2, index, flt, "text"))
        elif op in equals and flt.data_type is None:
            ranked.append((3, index, flt, "text"))
    if not ranked:
        return None
    _, index, flt, kind = min(ranked, key=lambda r: r[0])
    return index, flt, kind


class ListUI:
    """Mixed into ScopedModelView (which supplies `may`, `transitions_for`, the filters)."""

    handle_label = "处理"  # the 操作 link where the user can act now (seed 000 §3); 审核 for review lists
    list_template = "admin/scoped_list.html"

    # -- reading the filters of a request --------------------------------------------------
    def _get_list_filter_args(self):
        """Flask-Admin's filter arguments, read once per request (it reads them twice and would say
        twice that one is invalid), empty values ignored, a date range's two ends joined."""
        cache = g.setdefault("list_filter_args", {})
        key = (self.endpoint, tuple(request.args.items(multi=True)))  # 上一条/下一条 read the list's own
        if key in cache:
            return cache[key]
        result = None
        if self._filters:
            found = []
            for arg in request.args:
                match = _FLT.match(arg)
                if not match or match.group(2) not in self._filter_args:
                    continue
                index, flt = self._filter_args[match.group(2)]
                value = self._filter_value(flt, request.args.getlist(arg))
                if value is None:
                    continue
                if flt.validate(value):
                    found.append((int(match.group(1)), (index, str(flt.name), value)))
                else:
                    flash(self.get_invalid_value_msg(value, flt), "error")
            result = [item for _, item in sorted(found, key=lambda n: n[0])]
        cache[key] = result
        return result

    @staticmethod
    def _filter_value(flt, values: list[str]) -> Optional[str]:
        values = [v.strip() for v in values]
        if flt.data_type in _RANGE_TYPES and len(values) == 2:
            start, end = values
            if not start and not end:
                return None
            if flt.data_type == "datetimerangepicker":
                start = f"{start} 00:00:00" if _DAY.match(start) else (start or "1900-01-01 00:00:00")
                end = f"{end} 23:59:59" if _DAY.match(end) else (end or "2999-12-31 23:59:59")
            else:
                start, end = start or "1900-01-01", end or "2999-12-31"
            return f"{start} to {end}"
        value = values[0] if values else ""
        return value or None

    def _apply_sorting(self, query, joins, sort_column, sort_desc):
        """A chosen sort ends with the key, so that rows with the same value keep one order: the
        pages do not repeat or skip rows, and 上一条/下一条 follow the list exactly."""
        query, joins = super()._apply_sorting(query, joins, sort_column, sort_desc)
        if sort_column is not None:
            key = sa_inspect(self.model).primary_key[0]
            query = query.order_by(key.desc() if sort_desc else key)
        return query, joins

    # -- the 查询 form --------------------------------------------------------------------
    def query_fields(self) -> list[QueryField]:
        """The 查询 form: the search box (when the view searches), then one field per declared filter
        (built once per request: the form and 其他条件 both ask)."""
        memo = g.setdefault("query_fields", {})
        key = (self.endpoint, tuple(request.args.items(multi=True)))
        if key not in memo:
            memo[key] = self._query_fields()
        return memo[key]

    def _query_fields(self) -> list[QueryField]:
        fields: list[QueryField] = []
        if self._search_supported:
            search = self._get_list_extra_args().search or ""
            fields.append(QueryField("关键字", "search", "search", search, placeholder=self._search_hint()))
        if not self._filters:
            return fields
        active = {index: value for index, _, value in (self._get_list_filter_args() or [])}
        groups: dict[str, list] = {}
        for index, flt in enumerate(self._filters):
            groups.setdefault(str(flt.name), []).append((index, flt))
        for position, (label, filters) in enumerate(groups.items()):
            chosen = _choose(filters)
            if chosen is None:
                continue
            index, flt, kind = chosen
            name = f"flt{position}_{self.get_filter_arg(index, flt)}"
            value = active.get(index, "")
            qf = QueryField(label, kind, name, value, index=index)
            if kind == "range":
                start, _, end = str(value).partition(" to ")
                qf.value = (start[:10], end[:10])
            elif kind == "select":
                options = [(str(k), str(v)) for k, v in (flt.get_options(self) or ())]
                if len(options) > REMOTE_AT:
                    qf.kind = "remote"
                    qf.text = next((v for k, v in options if k == str(value)), "")
                else:
                    qf.options = options
            fields.append(qf)
        return fields

    def _search_hint(self) -> str:
        names = [str(self.column_labels.get(c, c)) for c in (self.column_searchable_list or ())]
        return "、".join(dict.fromkeys(names))

    def other_filters(self) -> list[tuple[str, str, str]]:
        """Active filters the 查询 form does not show (a link's 不等于): (name, operation, value)."""
        shown = {qf.index for qf in self.query_fields() if qf.index is not None}
        return [(name, _operation(self._filters[index]), value)
                for index, name, value in (self._get_list_filter_args() or []) if index not in shown]

    @expose("/filter-options/")
    def filter_options_view(self):
        """The options of one filter matching `q` (the 查询 form's remote search, e.g. 申报单位)."""
        arg = request.args.get("f", "")
        q = clean_text(request.args.get("q") or "") or ""
        hit = self._filter_args.get(arg) if self._filters and len(arg) <= 60 else None
        if hit is None or len(q) > 100:
            return jsonify(results=[])
        options = hit[1].get_options(self) or ()
        results = [{"id": str(k), "text": str(v)} for k, v in options if q in str(v)]
        return jsonify(results=results[:30], more=len(results) > 30)

    # -- the table --------------------------------------------------------------------------
    def column_class(self, name: str) -> str:
        """cell-num for numbers (right-aligned), cell-date for dates and times (never wrapped)."""
        cache = self.__dict__.setdefault("_column_classes", {})
        if name not in cache:
            cache[name] = self._column_kind(name)
        return cache[name]

    def _column_kind(self, name: str) -> str:
        attr = sa_inspect(self.model).attrs.get(name)
        columns = getattr(attr, "columns", None)
        if not columns:
            return ""
        try:
            python_type = columns[0].type.python_type
        except NotImplementedError:
            return ""
        if python_type in (int, float, Decimal) and not columns[0].foreign_keys:
            return "cell-num"
        if python_type in (date, datetime):
            return "cell-date"
        return ""

    def list_ops(self, row, return_url: str, row_actions: list) -> list[dict]:
        """The 操作 links of one row: 处理 where the user can act now, else 查看; 修改 and 删除 where
        they would be accepted; then the view's own row actions."""
        pk = self.get_pk_value(row)
        ops = []
        if self.can_view_details:
            acting = bool(self.transitions_for(row))
            ops.append({"kind": "handle" if acting else "view", "label": self.handle_label if acting else "查看",
                        "url": self.get_url(".details_view", id=pk, url=return_url)})
        if self.can_edit and self.row_editable(row):
            ops.append({"kind": "edit", "label": "修改", "url": self.get_url(".edit_view", id=pk, url=return_url)})
        if self.can_delete and self.row_deletable(row):
            ops.append({"kind": "delete", "label": "删除", "url": self.get_url(".delete_view"), "id": pk})
        standard = (ViewRowAction, EditRowAction, EditPopupRowAction, DeleteRowAction)
        extra = [a for a in row_actions if not isinstance(a, standard)]
        return ops + [{"kind": "extra", "action": a} for a in extra]

    def page_size_link(self, size: int) -> str:
        """The list with `size` rows a page, from its first page (the current page may not exist
        at the new size), filters, search and sort kept."""
        args = {k: v for k, v in request.args.lists() if k not in ("page", "page_size")}
        return self.get_url(".index_view", page_size=size, **args)

    # -- the toolbar -------------------------------------------------------------------------
    def toolbar(self, actions: list, rows=()) -> dict:
        """The bulk actions as the toolbar shows them: the review transitions together in one
        dialog (审核通过/退回/不予立项 with the opinion), the others as buttons of their own. A
        review button names the next stage when every row of the page the user may take it on
        goes to the same one (提交至科技局), else it keeps the table's label."""
        m = self.machine
        review, buttons = [], []
        for name, text in actions:
            if name == "export_selected":
                continue
            t = m.by_action.get(name) if m is not None else None
            if t is not None and name in REVIEW_ACTIONS:
                labels = {self.action_label(name, text, row) for row in rows
                          if any(x.action == name for x in self.transitions_for(row))}
                label = labels.pop() if len(labels) == 1 else str(text)
                review.append({"name": name, "label": label, "reason": t.reason, "asks": t.asks})
            else:
                reason = self.reason_actions.get(name)
                buttons.append({"name": name, "label": self.bulk_label(name, text, rows),
                                "reason": reason, "confirm": t.confirm if t is not None else None})
        return {"buttons": buttons, "review": review, "review_label": self.review_button_label}

    review_button_label = "批量审核"

    def bulk_label(self, name: str, text: str, rows=()) -> str:
        """A toolbar button's label: the words of the page's rows when they all agree (a call
        type's 上报至县区, `Transition.bulk_label_for`), else the table's bulk wording (批量提交)."""
        m = self.machine
        t = m.by_action.get(name) if m is not None else None
        if t is None:
            return str(text)
        if t.bulk_label_for is not None and rows:
            labels = {t.bulk_label_for(row) for row in rows}
            if len(labels) == 1:
                return labels.pop()
        return t.bulk_label or str(text)

    def action_label(self, name: str, text: str, row=None) -> str:
        """A review button's label for this user (and row): the transition table's, which may name
        the next stage (提交至科技局, 项目申报审核（单位）)."""
        m = self.machine
        t = m.by_action.get(name) if m is not None else None
        label_for = getattr(t, "label_for", None) if t is not None else None
        if label_for is not None:
            from .base import principal

            return label_for(principal(), row)
        return str(text)
