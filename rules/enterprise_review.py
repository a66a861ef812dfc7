"""Review of enterprise basic info (district) and of annual reports (district, then city) as data.

Every transition is a compare-and-set UPDATE (`WHERE id = :id AND status = :expected`) plus one
review record (审批意见) and one audit row, in the caller's transaction.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Optional

from sqlalchemy import and_, insert, select, update
from sqlalchemy.orm import Session, aliased

from models import AnnualReport, Enterprise, EnterpriseReview, EnterpriseStatus, ReportStatus, Role, StorageStatus, Unit, UnitStatus

from . import audit
from .scope import Principal, predicate

FILLERS = frozenset({Role.unit_admin, Role.applicant})
DISTRICT = frozenset({Role.authority})
CITY = frozenset({Role.bureau})


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


@dataclass(frozen=True)
class Transition:
    source: object
    action: str
    roles: frozenset
    target: object
    level: str
    opinion_column: Optional[str] = None


E, R = EnterpriseStatus, ReportStatus

# 企业基本信息审核 (§2.1): the district reviews once.
ENTERPRISE_TRANSITIONS = [
    Transition(E.pending, "approve", DISTRICT, E.approved, "区县审核", "review_opinion"),
    Transition(E.pending, "reject", DISTRICT, E.rejected, "区县审核", "review_opinion"),
    Transition(E.rejected, "submit", FILLERS, E.pending, "企业提交"),
]

# 科技信息年报 (§3): the enterprise submits; the district reviews, then the city.
REPORT_TRANSITIONS = [
    Transition(R.draft, "submit", FILLERS, R.district_review, "企业提交"),
    Transition(R.district_rejected, "submit", FILLERS, R.district_review, "企业提交"),
    Transition(R.city_rejected, "submit", FILLERS, R.district_review, "企业提交"),
    Transition(R.district_review, "approve", DISTRICT, R.city_review, "区县审核", "district_opinion"),
    Transition(R.district_review, "reject", DISTRICT, R.district_rejected, "区县审核", "district_opinion"),
    Transition(R.city_review, "approve", CITY, R.approved, "市局审核", "city_opinion"),
    Transition(R.city_review, "reject", CITY, R.city_rejected, "市局审核", "city_opinion"),
]

EDITABLE_REPORT = frozenset({R.draft, R.district_rejected, R.city_rejected})


class Refused(Exception):
    """The transition is not allowed now; the message says why, in Chinese."""


def find(table: list[Transition], status, action: str, role: Role) -> Optional[Transition]:
    return next((t for t in table if t.source == status and t.action == action and role in t.roles), None)


def allowed_actions(table: list[Transition], status, role: Role) -> list[str]:
    return [t.action for t in table if t.source == status and role in t.roles]


def _apply(session: Session, model, table, status_column: str, row_id: int, action: str, p: Principal,
           opinion: str, extra: dict, target: str) -> object:
    row = session.execute(
        select(model).where(model.id == row_id, predicate(p, model)).execution_options(populate_existing=True)
    ).scalar_one_or_none()
    if row is None:
        raise Refused("记录不存在或不在您的数据范围内")
    current = getattr(row, status_column)
    step = find(table, current, action, p.role)
    if step is None:
        raise Refused(f"当前状态为“{current.label}”，不能执行此操作")
    values = {status_column: step.target, **extra}
    if step.opinion_column:
        values[step.opinion_column] = opinion or None
    column = getattr(model, status_column)
    result = session.execute(
        update(model).where(and_(model.id == row_id, column == current)).values(**values)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        raise Refused("该记录已被他人处理，请刷新后重试")
    enterprise_id = row.id if model is Enterprise else row.enterprise_id
    actor = audit.current_actor()
    session.execute(insert(EnterpriseReview), [{
        "target": target, "target_id": row_id, "enterprise_id": enterprise_id, "level": step.level,
        "action": action, "from_status": current.value, "to_status": step.target.value,
        "opinion": opinion or None, "user_id": p.user_id, "username": actor.username, "at": datetime.now(),
    }])
    audit.record(
        session, "update", model.__tablename__, row_id,
        {status_column: current.value}, {status_column: step.target.value, "opinion": opinion or None},
        summary=f"{step.level}：{current.label} → {step.target.label}", actor=actor,
    )
    session.expire(row)
    return step.target


def act_on_enterprise(session: Session, enterprise_id: int, action: str, p: Principal, opinion: str = "") -> EnterpriseStatus:
    """审核通过 also puts the enterprise into the library (入库) on that day, once."""
    extra: dict = {}
    if action == "approve":
        extra = {"storage_status": StorageStatus.stored}
        stored_on = session.scalar(select(Enterprise.stored_on).where(Enterprise.id == enterprise_id))
        if stored_on is None:
            extra["stored_on"] = datetime.now().date()
    if action == "submit":
        extra = {"submitted_at": datetime.now()}
    return _apply(session, Enterprise, ENTERPRISE_TRANSITIONS, "review_status", enterprise_id, action, p, opinion, extra, "enterprise")


def act_on_report(session: Session, report_id: int, action: str, p: Principal, opinion: str = "") -> ReportStatus:
    extra = {"submitted_at": datetime.now()} if action == "submit" else {}
    if action == "submit":
        missing = report_missing_fields(session.get(AnnualReport, report_id, populate_existing=True))
        if missing:
            raise Refused("请先填写：" + "、".join(missing))
    return _apply(session, AnnualReport, REPORT_TRANSITIONS, "status", report_id, action, p, opinion, extra, "annual_report")


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
