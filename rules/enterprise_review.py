"""Review of enterprise basic info (district) and of annual reports (district, then city) as
transition tables of the one engine (rules/transitions.py), and the enterprise–unit link.
"""
from __future__ import annotations

from typing import Optional

from sqlalchemy import select, update
from sqlalchemy.orm import Session, aliased

from models import AnnualReport, Enterprise, EnterpriseReview, EnterpriseStatus, ReportStatus, Role, StorageStatus, Unit, UnitStatus

from . import audit, scope
from .transitions import Context, Effect, Machine, Reason, Transition, Who

FILLERS = scope.FILLERS


def link_units(session: Session) -> int:
    """An enterprise and an approved unit with the same 统一社会信用代码 are one legal person: the
    enterprise's 对应单位 is set, so the unit's own accounts see it and fill its 年报. Only
    enterprises without a unit, and units no enterprise has yet, are linked; returns how many."""
    other = aliased(Enterprise)
    taken = select(other.unit_id).where(other.unit_id.is_not(None))
    match = (select(Unit.id).where(Unit.uscc == Enterprise.uscc, Unit.status == UnitStatus.approved, Unit.id.not_in(taken))
             .scalar_subquery())
    linked = session.execute(
        update(Enterprise).where(Enterprise.unit_id.is_(None), match.is_not(None)).values(unit_id=match)
        .returning(Enterprise.id, Enterprise.unit_id).execution_options(synchronize_session=False)
    ).all()
    if linked:
        audit.record_all(session, [audit.entry("update", "enterprise", eid, {"unit_id": None}, {"unit_id": uid}, "按统一社会信用代码关联单位")
                                   for eid, uid in linked])
    return len(linked)


E, R = EnterpriseStatus, ReportStatus
ADMINS = frozenset({Role.sysadmin})


def _review_record(target: str):
    def record(c: Context):
        actor = audit.current_actor()
        enterprise_id = c.row.id if target == "enterprise" else c.row.enterprise_id
        return EnterpriseReview, {
            "target": target, "target_id": c.row.id, "enterprise_id": enterprise_id, "level": _level_of(c),
            "action": c.transition.action, "from_status": c.before.value, "to_status": c.after.value,
            "opinion": c.reason or None, "user_id": c.principal.user_id, "username": actor.username, "at": c.now,
        }

    return record


def _level_of(c: Context) -> str:
    if c.transition.action == "submit":
        return "企业提交"
    return REPORT_LEVELS[c.before][1] if c.before in REPORT_LEVELS else "区县审核"


# -- 企业基本信息审核 (§2.1): the district reviews once ---------------------------------------------
DISTRICT = Who(frozenset({Role.authority}), None, "所属区县科技局")
ENTERPRISE_FILLER = Who(FILLERS, None, "企业（单位管理员、填报用户）")


def _first_storage(c: Context) -> dict:
    """审核通过 puts the enterprise into the library (入库) on that day, once."""
    return {"storage_status": StorageStatus.stored, **({"stored_on": c.now.date()} if c.row.stored_on is None else {})}


# fmt: off
ENTERPRISE = Machine("enterprise", Enterprise, "review_status", (
    #          action     label         from                     who                → to          guards  effects
    Transition("approve", "审核通过",   frozenset({E.pending}),  DISTRICT,          E.approved,   (),
               (Effect("记审核意见", set=lambda c: {"review_opinion": c.reason or None}), Effect("入库（首次记入库日期）", set=_first_storage)),
               Reason("审核意见"), confirm="确定审核通过所选企业的基本信息？"),
    Transition("reject",  "审核不通过", frozenset({E.pending}),  DISTRICT,          E.rejected,   (),
               (Effect("记审核意见", set=lambda c: {"review_opinion": c.reason}),), Reason("审核意见（不通过原因）", True)),
    Transition("submit",  "提交审核",   frozenset({E.rejected}), ENTERPRISE_FILLER, E.pending,    (),
               (Effect("记提交时间", set=lambda c: {"submitted_at": c.now}),), None, confirm="确定重新提交所选企业的基本信息？"),
), editable={FILLERS: frozenset({E.rejected}), ADMINS: frozenset({E.approved, E.rejected})},
   record=_review_record("enterprise"), row_label=lambda e: e.name)
# fmt: on


# -- 科技信息年报 (§3): the enterprise submits; the district reviews, then the city ------------------
REPORT_LEVELS = {  # state under review → (who reviews, level, approved to, rejected to, opinion column)
    R.district_review: (Role.authority, "区县审核", R.city_review, R.district_rejected, "district_opinion"),
    R.city_review: (Role.bureau, "市局审核", R.approved, R.city_rejected, "city_opinion"),
}
EDITABLE_REPORT = frozenset({R.draft, R.district_rejected, R.city_rejected})


def _at_report_level(c: Context) -> Optional[str]:
    level = REPORT_LEVELS.get(c.row.status)
    if level is None or level[0] != c.principal.role:
        return f"当前为“{c.row.status.label}”，不在您的审核环节"
    return None


def report_complete(c: Context) -> Optional[str]:
    missing = report_missing_fields(c.row)
    return "请先填写：" + "、".join(missing) if missing else None


REPORT_REVIEWER = Who(frozenset({Role.authority, Role.bureau}), _at_report_level, "区县科技局（区县审核）、市科技局（市局审核）",
                      by_state={state: level[0] for state, level in REPORT_LEVELS.items()})
OPINION = Effect("记本级审核意见", set=lambda c: {REPORT_LEVELS[c.before][4]: c.reason or None})

# fmt: off
ANNUAL_REPORT = Machine("annual_report", AnnualReport, "status", (
    #          action     label         from                       who                → to                                         guards              effects
    Transition("submit",  "提交",       EDITABLE_REPORT,           ENTERPRISE_FILLER, R.district_review,                           (report_complete,),
               (Effect("记提交时间", set=lambda c: {"submitted_at": c.now}),), None, confirm="提交后将由所属区县审核，确定提交？"),
    Transition("approve", "审核通过",   frozenset(REPORT_LEVELS),  REPORT_REVIEWER,   lambda c: REPORT_LEVELS[c.row.status][2],    (), (OPINION,),
               Reason("审核意见"), confirm="确定审核通过所选年报？"),
    Transition("reject",  "审核不通过", frozenset(REPORT_LEVELS),  REPORT_REVIEWER,   lambda c: REPORT_LEVELS[c.row.status][3],    (), (OPINION,),
               Reason("审核意见（不通过原因）", True)),
), editable={FILLERS: EDITABLE_REPORT, ADMINS: EDITABLE_REPORT | {R.approved}}, record=_review_record("annual_report"))
# fmt: on


REQUIRED_REPORT_FIELDS = ("revenue", "staff", "tech_staff", "rd_expense")


def report_missing_fields(report: Optional[AnnualReport]) -> list[str]:
    if report is None:
        return []
    columns = AnnualReport.__table__.c
    return [columns[name].info["label"] for name in REQUIRED_REPORT_FIELDS if getattr(report, name) is None]


def reviews_of(session: Session, target: str, target_id: int) -> list[EnterpriseReview]:
    return list(session.scalars(
        select(EnterpriseReview).where(EnterpriseReview.target == target, EnterpriseReview.target_id == target_id)
        .order_by(EnterpriseReview.at, EnterpriseReview.id)
    ))
