"""项目下达 (seed 003): the bureau ticks approved projects and 下达s them with one 下达文号 and 下达日期
(rules/release.py's DECLARATION_RELEASE table); 撤销下达 with a reason."""
from __future__ import annotations

from flask import current_app, flash, redirect, request
from flask_admin import expose
from flask_admin.contrib.sqla.filters import IntEqualFilter
from flask_admin.helpers import get_redirect_target
from flask_wtf.csrf import CSRFError

from extensions import csrf
from models import Call, Declaration, ReleaseStatus, Status
from rules import release, transitions

from .base import ScopedModelView, principal
from .declarations import EnumFilter, _name_options
from .export import display_formatters

MENU_ORDER = 31
CATEGORY = "项目管理"


class ProjectReleaseView(ScopedModelView):
    """已立项的申报书 and their 下达状态; 下达 asks 下达文号 and 下达日期 on its own small page."""

    column_list = ("number", "year", "batch", "unit", "region", "name", "release_status", "release_doc_no", "released_on")
    column_details_list = ("number", "year", "call", "unit", "region", "name", "leader", "tech_level", "industry_category",
                           "start_month", "end_month", "status", "release_status", "release_doc_no", "released_on")
    column_export_list = column_list
    column_labels = {"call": "项目批次", "batch": "项目批次", "unit": "申报单位", "region": "区县"}
    column_formatters = display_formatters(Declaration, "batch", "region", "status")
    column_sortable_list = ("number", "year", "name", "release_status", "released_on")
    column_default_sort = ("number", False)
    column_searchable_list = ("name", "number")
    column_filters = (
        IntEqualFilter(Declaration.year, "项目年度"),
        IntEqualFilter(Declaration.call_id, "项目批次", options=_name_options(Call)),
        EnumFilter(Declaration.release_status, "下达状态", ReleaseStatus),
    )
    release_template = "admin/release/form.html"

    def base_filter(self):
        return Declaration.status == Status.approved  # only 已立项 projects are 下达

    # -- 下达: a small form for the ticked rows, then the transition with its data ---------------
    def run_transition(self, action: str, ids):
        if action != "release":
            return super().run_transition(action, ids)
        return self.render_release(ids, {"doc_no": "", "released_on": ""}, {})

    def render_release(self, ids, typed: dict, errors: dict, notice: str = "", status: int = 200):
        wanted = self._valid_pks(ids)
        rows = self.scoped_rows(wanted)
        return self.render(self.release_template, rows=rows, ids=[str(i) for i in ids if str(i).strip()][:1000],
                           others=len(set(map(str, ids))) - len(rows), typed=typed, errors=errors, notice=notice,
                           doc_no_max=release.DOC_NO_MAX,
                           return_url=get_redirect_target() or self.get_url(".index_view")), status

    @expose("/release/", methods=("GET", "POST"))
    @csrf.exempt  # checked below, so that an expired page shows the form again with what was typed
    def release_view(self):
        back = get_redirect_target() or self.get_url(".index_view")
        ids = request.form.getlist("rowid")
        if request.method != "POST" or not self.may("release"):
            return redirect(back)
        typed = {name: (request.form.get(name) or "")[:200] for name in release.FIELDS}
        if not ids:
            flash("请先选择要下达的项目", "warning")
            return redirect(back)
        try:
            csrf.protect()
        except CSRFError:
            return self.render_release(ids, typed, {}, "页面已过期，请确认后重新提交", 400)
        values, errors = release.clean_release(typed)
        if errors:
            return self.render_release(ids, typed, errors, status=400)
        try:
            outcome = transitions.apply(self.session, principal(), self.machine, ids, "release", data=values)
            self.session.commit()
        except Exception:
            self.session.rollback()
            current_app.logger.exception("项目下达失败")
            flash("操作失败，请稍后重试；数据未作任何修改", "error")
            return redirect(back)
        flash(outcome.message("下达"), outcome.category)
        return redirect(back)


def register(admin, session):
    admin.add_view(ProjectReleaseView(Declaration, session, name="项目下达", category=CATEGORY, endpoint="project_release"))
