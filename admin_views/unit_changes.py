"""单位信息变更 (issue #12): the receiving authority's review of a unit's 所在区县/主管部门/单位性质/统一社会信用代码."""
from __future__ import annotations

from flask_admin.contrib.sqla.filters import FilterEqual
from sqlalchemy import select

from models import ChangeStatus, ReviewLog, Role, UnitChange
from rules import scope
from rules import unit_changes as rules

from .base import DecidedByMe, ScopedModelView, principal
from .export import display_formatters

MENU_ORDER = 16


class UnitChangeView(ScopedModelView):
    handle_label = "审核"  # the 操作 link where the user may decide now
    can_export = True
    details_template = "admin/unit_change_details.html"
    column_list = ("unit", "changes", "reviewer", "requested_by", "submitted_at", "status", "reason")
    column_details_list = ("unit", "changes", "reviewer", "requested_by", "submitted_at", "status", "reason", "reviewed_by", "reviewed_at")
    column_labels = {"unit": "单位名称", "changes": "变更内容", "reviewer": "审核单位", "reason": "审核意见"}
    column_formatters = display_formatters(UnitChange, "changes", "reviewer", "requested_by")
    column_sortable_list = ("submitted_at", "status", ("unit", "unit.name"))
    column_searchable_list = ("unit.name",)
    column_default_sort = ("submitted_at", True)
    column_filters = (
        FilterEqual(UnitChange.status, "审核状态", options=ChangeStatus.choices()),
        DecidedByMe(UnitChange.id, "审核归属", rules.REVIEWER),
    )

    def review_log(self, row):
        """审批意见 from review_log rows of changes inside the user's scope (rules/scope.py's review_log
        rule does not list 单位信息变更)."""
        entries = self.session.scalars(
            select(ReviewLog).where(ReviewLog.target == "unit_change", ReviewLog.target_id == row.id,
                                    ReviewLog.target_id.in_(select(UnitChange.id).where(scope.predicate(principal(), UnitChange))))
            .order_by(ReviewLog.id)
        ).all()
        machine = rules.UNIT_CHANGES
        out = []
        for e in entries:
            action = rules.SUBMIT_LABEL if e.action == "submit" else (machine.by_action[e.action].label if e.action in machine.by_action else "")
            before = ChangeStatus(e.from_status).label if e.from_status in ChangeStatus._value2member_map_ else "—"
            after = ChangeStatus(e.to_status).label if e.to_status in ChangeStatus._value2member_map_ else "—"
            out.append({"at": e.at, "username": e.username, "action": action, "change": f"{before} → {after}", "opinion": e.opinion or "",
                        "role": Role(e.role).label if e.role in Role._value2member_map_ else ""})
        return out

    def change_rows(self, row) -> list[tuple[str, str, str]]:
        return rules.describe(self.session, row)


def register(admin, session):
    admin.add_view(UnitChangeView(UnitChange, session, name="单位信息变更", category="用户中心", endpoint="unit_change"))
