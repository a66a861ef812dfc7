"""项目下达 (seed 003): the bureau ticks approved projects and 下达s them with one 下达文号 and 下达日期
(rules/release.py's DECLARATION_RELEASE table); 撤销下达 with a reason."""
from __future__ import annotations

from flask_admin.contrib.sqla.filters import IntEqualFilter

from models import Call, Declaration, ReleaseStatus, Status

from .base import ScopedModelView
from .declarations import EnumFilter, _name_options
from .export import display_formatters

MENU_ORDER = 31
CATEGORY = "项目管理"


class ProjectReleaseView(ScopedModelView):
    """已立项的申报书 and their 下达状态. 下达 asks 下达文号 and 下达日期 (the transition's `asks`): the
    confirmation page lists the ticked projects with the two fields, as every transition that asks."""

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

    def base_filter(self):
        return Declaration.status == Status.approved  # only 已立项 projects are 下达


def register(admin, session):
    admin.add_view(ProjectReleaseView(Declaration, session, name="项目下达", category=CATEGORY, endpoint="project_release"))
