"""单位注册 and its review (seed 002 §4.1, §5.1, §6 1.5; seed 004): routing by 单位性质, duplicate
统一社会信用代码, and compare-and-set approve / reject.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Optional

from sqlalchemy import ColumnElement, and_, false, or_, select, update
from sqlalchemy.orm import Session

from models import DictItem, RegistrationRoute, ReviewStatus, Role, Unit, UnitRegistration, UnitStatus, User
from rules import audit
from rules.enterprise_review import link_units
from rules.scope import EVERYTHING, Principal, equals
from rules.validators import email_error, mobile_error, uscc_error

# seed 002 §6 1.5: 事业（机关）单位、国有企业 → 上级主管部门; 非公有制经济、社会组织 → 参保地区县;
# 市级主管部门、留创园 → 市局. 高等院校 and 科研院所 are 事业单位 under a competent department.
ROUTES: dict[str, RegistrationRoute] = {
    "事业单位": RegistrationRoute.competent,
    "机关": RegistrationRoute.competent,
    "国有企业": RegistrationRoute.competent,
    "高等院校": RegistrationRoute.competent,
    "科研院所": RegistrationRoute.competent,
    "非公有制经济": RegistrationRoute.district,
    "社会组织": RegistrationRoute.district,
    "市级主管部门": RegistrationRoute.city,
    "留创园": RegistrationRoute.city,
}
COMPETENT_NATURES = ("机关", "市级主管部门")  # units that can be someone's 上级主管部门

# Unit columns a registration fills in, with the form's Chinese messages for the required ones.
UNIT_FIELDS = ("name", "uscc", "nature_id", "region_id", "address", "legal_rep", "contact_name", "contact_mobile", "email")
REQUIRED = {
    "name": "请填写单位名称",
    "uscc": "请填写统一社会信用代码",
    "nature_id": "请选择单位性质",
    "region_id": "请选择单位所在区县",
    "legal_rep": "请填写法定代表人",
    "contact_name": "请填写联系人姓名",
    "contact_mobile": "请填写联系人手机",
    "email": "请填写电子邮箱",
}


class RegistrationError(ValueError):
    def __init__(self, errors: dict[str, str]):
        super().__init__("；".join(errors.values()))
        self.errors = errors


@dataclass(frozen=True)
class Routing:
    route: RegistrationRoute
    reviewer_unit_id: Optional[int] = None
    reviewer_region_id: Optional[int] = None


def route_for(nature_name: Optional[str]) -> Optional[RegistrationRoute]:
    return ROUTES.get(nature_name or "")


def reviewer_predicate(p: Principal) -> ColumnElement[bool]:
    """The registrations this principal decides: the competent department's or district's authority,
    or the city bureau for 市级主管部门 and 留创园."""
    if p.role == Role.authority:
        return or_(
            and_(UnitRegistration.route == RegistrationRoute.competent, equals(UnitRegistration.reviewer_unit_id, p.unit_id)),
            and_(UnitRegistration.route == RegistrationRoute.district, equals(UnitRegistration.reviewer_region_id, p.region_id)),
        )
    if p.role in EVERYTHING:
        return UnitRegistration.route == RegistrationRoute.city
    return false()


def uscc_taken(session: Session, uscc: str, registrant_id: Optional[int] = None) -> Optional[str]:
    """Why this 统一社会信用代码 cannot be registered again: it names the existing unit and its status.

    A registrant's own rejected registration is not in the way: registering again resubmits it."""
    unit = session.scalars(select(Unit).where(Unit.uscc == uscc.strip().upper())).first()
    if unit is None or _own_rejected(session, unit, registrant_id):
        return None
    return f"该统一社会信用代码已注册：{unit.name}（状态：{unit.status.label}）"


def _own_rejected(session: Session, unit: Unit, registrant_id: Optional[int]) -> Optional[UnitRegistration]:
    if unit.status != UnitStatus.rejected or registrant_id is None:
        return None
    return session.scalars(
        select(UnitRegistration).where(UnitRegistration.unit_id == unit.id, UnitRegistration.registrant_id == registrant_id)
    ).first()


def validate(session: Session, registrant: User, data: dict[str, Any]) -> Routing:
    """Field errors of a registration (raised together), or where it is routed."""
    errors = {k: msg for k, msg in REQUIRED.items() if not (str(data.get(k) or "")).strip()}
    if registrant.role != Role.applicant:
        errors["name"] = "您的账号已是管理账号，请使用个人账号注册单位管理员"
    elif session.scalar(select(UnitRegistration.id).where(UnitRegistration.registrant_id == registrant.id, UnitRegistration.status == ReviewStatus.pending)):
        errors["name"] = "您已有待审核的单位注册申请，请等待审核结果"
    if data.get("uscc") and "uscc" not in errors:
        if m := uscc_error(data["uscc"]) or uscc_taken(session, data["uscc"], registrant.id):
            errors["uscc"] = m
    if data.get("name") and "name" not in errors:
        same = session.scalars(select(Unit).where(Unit.name == data["name"].strip())).first()
        if same is not None and not _own_rejected(session, same, registrant.id) and same.uscc != (data.get("uscc") or "").strip().upper():
            errors["name"] = f"该单位名称已注册（状态：{same.status.label}）"
    if data.get("contact_mobile") and (m := mobile_error(data["contact_mobile"])):
        errors["contact_mobile"] = m
    if data.get("email") and (m := email_error(data["email"])):
        errors["email"] = m
    routing = None
    if data.get("nature_id"):
        nature = session.get(DictItem, int(data["nature_id"]))
        route = route_for(nature.name if nature and nature.category == "unit_nature" else None)
        if route is None:
            errors["nature_id"] = "请选择单位性质"
        elif route == RegistrationRoute.competent:
            competent = _competent(session, data.get("reviewer_unit_id"))
            if competent is None:
                errors["reviewer_unit_id"] = "事业单位、机关、国有企业须选择上级主管部门"
            routing = Routing(route, reviewer_unit_id=competent)
        elif route == RegistrationRoute.district:
            if not data.get("reviewer_region_id"):
                errors["reviewer_region_id"] = "非公有制经济、社会组织须选择参保地所在区县"
            routing = Routing(route, reviewer_region_id=int(data["reviewer_region_id"]) if data.get("reviewer_region_id") else None)
        else:
            routing = Routing(route)
    if errors:
        raise RegistrationError(errors)
    assert routing is not None
    return routing


def _competent(session: Session, unit_id) -> Optional[int]:
    if not unit_id:
        return None
    found = session.scalar(
        select(Unit.id)
        .join(DictItem, DictItem.id == Unit.nature_id)
        .where(Unit.id == int(unit_id), Unit.status == UnitStatus.approved, DictItem.name.in_(COMPETENT_NATURES))
    )
    return found


def competent_units(session: Session) -> list[Unit]:
    return list(
        session.scalars(
            select(Unit).join(DictItem, DictItem.id == Unit.nature_id)
            .where(Unit.status == UnitStatus.approved, DictItem.name.in_(COMPETENT_NATURES))
            .order_by(Unit.name)
        )
    )


def register(session: Session, registrant: User, data: dict[str, Any], now: Optional[datetime] = None) -> UnitRegistration:
    """注册管理员: a pending unit and its registration, routed to its reviewer (or a rejected one resubmitted)."""
    routing = validate(session, registrant, data)
    values = {k: (data.get(k) or None) for k in UNIT_FIELDS}
    values["uscc"] = values["uscc"].strip().upper()
    values["nature_id"] = int(values["nature_id"])
    values["region_id"] = int(values["region_id"])
    existing = session.scalars(select(Unit).where(Unit.uscc == values["uscc"])).first()
    registration = _own_rejected(session, existing, registrant.id) if existing is not None else None
    unit = existing if registration is not None else Unit()
    for key, value in values.items():
        setattr(unit, key, value)
    unit.status = UnitStatus.pending
    unit.competent_unit_id = routing.reviewer_unit_id
    if registration is None:
        session.add(unit)
        session.flush()
        registration = UnitRegistration(unit_id=unit.id, registrant_id=registrant.id)
        session.add(registration)
    registration.route = routing.route
    registration.reviewer_unit_id = routing.reviewer_unit_id
    registration.reviewer_region_id = routing.reviewer_region_id
    registration.status = ReviewStatus.pending
    registration.reason = None
    registration.submitted_at = now or datetime.now()
    session.flush()
    return registration


def _cas(session: Session, p: Principal, reg_id: int, values: dict, summary: str) -> Optional[UnitRegistration]:
    result = session.execute(
        update(UnitRegistration)
        .where(UnitRegistration.id == reg_id, UnitRegistration.status == ReviewStatus.pending, reviewer_predicate(p))
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        return None
    audit.record(session, "update", "unit_registration", reg_id, {"status": "pending"}, {k: audit.jsonable(v) for k, v in values.items()}, summary)
    reg = session.get(UnitRegistration, reg_id)
    session.refresh(reg)
    return reg


def skip_reason(session: Session, p: Principal, reg_id: int) -> str:
    reg = session.get(UnitRegistration, reg_id)
    if reg is None or reg.status != ReviewStatus.pending:
        return "不是待审核状态"
    return f"应由{reg.route.label.removesuffix('审核')}审核"


def approve(session: Session, p: Principal, reg_id: int, now: Optional[datetime] = None) -> Optional[str]:
    """审核通过: the unit becomes active and the registrant its unit admin (seed 002 §5.1 step 5)."""
    now = now or datetime.now()
    reg = _cas(session, p, reg_id, {"status": ReviewStatus.approved, "reviewed_at": now, "reviewed_by_id": p.user_id}, "单位注册审核通过")
    if reg is None:
        return skip_reason(session, p, reg_id)
    reg.unit.status = UnitStatus.approved
    user = reg.registrant
    user.role, user.unit_id, user.secondary_unit_id, user.unit_authorized = Role.unit_admin, reg.unit_id, None, False
    session.flush()
    link_units(session)  # a 科技型企业 on file with the same credit code is this unit's
    return None


def reject(session: Session, p: Principal, reg_id: int, reason: str, now: Optional[datetime] = None) -> Optional[str]:
    """审核不通过 with a reason; the registrant may correct and register again."""
    if not reason.strip():
        return "请填写审核意见"
    values = {"status": ReviewStatus.rejected, "reason": reason.strip(), "reviewed_at": now or datetime.now(), "reviewed_by_id": p.user_id}
    reg = _cas(session, p, reg_id, values, f"单位注册审核不通过：{reason.strip()}")
    if reg is None:
        return skip_reason(session, p, reg_id)
    reg.unit.status = UnitStatus.rejected
    session.flush()
    return None
