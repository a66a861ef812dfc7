"""老项目认领 (seed 003): the enterprise claims projects of earlier years carrying its 统一社会信用代码,
its district confirms or rejects the claim; the city bureau imports them (数据导入 → 老项目导入)."""
from __future__ import annotations

from flask_admin.contrib.sqla.filters import FilterEqual

from extensions import db
from models import ClaimStatus, LegacyProject
from rules import legacy as rules
from rules import scope

from .base import ScopedModelView, current_role, principal
from .enterprises import IntEqual, year_options
from .export import display_formatters

MENU_ORDER = 51  # after 企业信息's own pages (admin_views/enterprises.py)


def batch_options():
    p = principal()
    if p is None:
        return []
    batches = db.session.scalars(
        db.select(LegacyProject.batch).where(scope.predicate(p, LegacyProject), LegacyProject.batch.is_not(None))
        .group_by(LegacyProject.batch).order_by(LegacyProject.batch).limit(200))
    return [(b, b) for b in batches]


class LegacyProjectView(ScopedModelView):
    """The seed's 项目基本信息 columns and 认领状态; 认领/撤回认领/确认认领/驳回 from the transition table."""

    can_export = True
    column_list = ("number", "year", "batch", "enterprise_name", "name", "tech_level", "industry_category",
                   "original_status", "claim_status")
    column_details_list = ("number", "year", "batch", "enterprise_name", "uscc", "name", "tech_level", "industry_category",
                           "original_status", "claim_status", "enterprise", "claimed_by", "claimed_at", "review_opinion",
                           "reviewed_by", "reviewed_at")
    column_export_list = ("number", "year", "batch", "enterprise_name", "uscc", "name", "tech_level", "industry_category",
                          "original_status", "claim_status", "enterprise", "claimed_at", "review_opinion", "reviewed_at")
    column_labels = {"original_status": "项目状态（原系统）"}
    column_formatters = display_formatters(LegacyProject, "claimed_by", "reviewed_by")
    column_searchable_list = ("name", "number", "enterprise_name")
    column_sortable_list = ("number", "year", "batch", "enterprise_name", "name", "claim_status")
    column_default_sort = [("year", True), ("number", False)]
    column_filters = (
        IntEqual(LegacyProject.year, "项目年度", options=year_options(LegacyProject)),
        FilterEqual(LegacyProject.batch, "项目批次", options=batch_options),
        FilterEqual(LegacyProject.claim_status, "认领状态", options=ClaimStatus.choices()),
    )

    def is_visible(self) -> bool:
        """An enterprise account sees the entry only when its unit is an enterprise."""
        p = principal()
        if current_role() in rules.FILLERS:
            return rules.enterprise_of(self.session, p) is not None
        return True


def register(admin, session):
    admin.add_view(LegacyProjectView(LegacyProject, session, name="老项目认领", category="企业信息", endpoint="legacy_project"))
