"""单位注册 and its review (seed 002 §4.1, §5.1, §6 1.5; seed 004): routing by 单位性质, duplicate
统一社会信用代码, and compare-and-set approve / reject.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Optional

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from models import AccountStatus, DictItem, RegistrationRoute, ReviewStatus, Role, Unit, UnitRegistration, UnitStatus, User
from rules import audit
from rules.enterprise_review import link_units
from rules.notify import notify
from rules.scope import Principal, registration_reviewer
from rules.transitions import Context, Effect, Machine, Reason, Refused, Transition, Who, apply, apply_one, review_log, reviewer
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
EXTRA_FIELDS = ("registered_address", "located_address", "registration_type_id")  # 单位管理用户注册 (seed 004)
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


@dataclass(frozen=True)
class Routing:
    route: RegistrationRoute
    reviewer_unit_id: Optional[int] = None
    reviewer_region_id: Optional[int] = None


def route_for(nature_name: Optional[str]) -> Optional[RegistrationRoute]:
    return ROUTES.get(nature_name or "")


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


def validate(session: Session, registrant: Optional[User], data: dict[str, Any]) -> Routing:
    """Field errors of a registration (raised together), or where it is routed. `registrant` is
    None for 单位管理用户注册, where the account is created with the registration."""
    errors = {k: msg for k, msg in REQUIRED.items() if not (str(data.get(k) or "")).strip()}
    if registrant is None:
        pass
    elif registrant.role != Role.applicant:
        errors["name"] = "您的账号已是管理账号，请使用个人账号注册单位管理员"
    elif session.scalar(select(UnitRegistration.id).where(UnitRegistration.registrant_id == registrant.id, UnitRegistration.status == ReviewStatus.pending)):
        errors["name"] = "您已有待审核的单位注册申请，请等待审核结果"
    registrant_id = registrant.id if registrant is not None else None
    for key, message in (("nature_id", "请选择单位性质"), ("region_id", "请选择单位所在区县"),
                         ("reviewer_unit_id", "请选择上级主管部门"), ("reviewer_region_id", "请选择参保地所在区县")):
        if key not in errors and not _is_id(data.get(key)):
            errors[key] = message  # an id is digits, or nothing at all
    if data.get("uscc") and "uscc" not in errors:
        if m := uscc_error(data["uscc"]) or uscc_taken(session, data["uscc"], registrant_id):
            errors["uscc"] = m
    if data.get("name") and "name" not in errors:
        same = session.scalars(select(Unit).where(Unit.name == data["name"].strip())).first()
        if same is not None and not _own_rejected(session, same, registrant_id) and same.uscc != (data.get("uscc") or "").strip().upper():
            errors["name"] = f"该单位名称已注册（状态：{same.status.label}）"
    if data.get("contact_mobile") and (m := mobile_error(data["contact_mobile"])):
        errors["contact_mobile"] = m
    if data.get("email") and (m := email_error(data["email"])):
        errors["email"] = m
    routing = None
    if data.get("nature_id"):
        nature = session.get(DictItem, int(data["nature_id"])) if str(data["nature_id"]).isdigit() and len(str(data["nature_id"])) < 19 else None
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
            raw = data.get("reviewer_region_id")
            routing = Routing(route, reviewer_region_id=int(raw) if raw and _is_id(raw) else None)
        else:
            routing = Routing(route)
    if errors:
        raise Refused(errors=errors)
    assert routing is not None
    return routing


def _is_id(value) -> bool:
    raw = str(value or "")
    return raw == "" or (raw.isascii() and raw.isdigit() and len(raw) < 19)


def _competent(session: Session, unit_id) -> Optional[int]:
    if not unit_id or not _is_id(unit_id):
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


def register_new_unit(session: Session, account: dict[str, Any], data: dict[str, Any], now: Optional[datetime] = None) -> UnitRegistration:
    """单位管理用户注册 (seed 004): the unit (pending), its registration routed to its reviewer, and
    the registrant's account, which may sign in only to follow the registration until it is approved."""
    from models import AccountStatus
    from rules.accounts import number_conflicts
    from rules.passwords import hash_password

    routing = validate(session, None, data)
    now = now or datetime.now()
    unit = Unit(**_unit_values(data), status=UnitStatus.pending, competent_unit_id=routing.reviewer_unit_id)
    session.add(unit)
    session.flush()
    kept, notes = number_conflicts(session, (account.get("mobile") or "").strip(), "")
    user = User(username=account["username"].strip(), name=account["name"].strip(), email=account.get("email") or None,
                password_hash=hash_password(account["password"]), role=Role.applicant, unit_id=unit.id, active=True,
                status=AccountStatus.pending, modules=[], security_questions=account.get("security_questions"),
                registration_note="；".join(notes) or None, mobile=kept["mobile"])
    session.add(user)
    session.flush()
    registration = UnitRegistration(unit_id=unit.id, registrant_id=user.id, status=ReviewStatus.pending, submitted_at=now,
                                    route=routing.route, reviewer_unit_id=routing.reviewer_unit_id, reviewer_region_id=routing.reviewer_region_id)
    session.add(registration)
    session.flush()
    return registration


def _unit_values(data: dict[str, Any]) -> dict[str, Any]:
    """The unit's columns from a registration form (the public form has 注册/坐落地址 and 法人类型 too)."""
    values = {k: (data.get(k) or None) for k in (*UNIT_FIELDS, *(k for k in EXTRA_FIELDS if k in data))}
    values["uscc"] = values["uscc"].strip().upper()
    values["nature_id"] = int(values["nature_id"])
    values["region_id"] = int(values["region_id"])
    if "registration_type_id" in values:
        raw = str(values["registration_type_id"] or "")
        values["registration_type_id"] = int(raw) if raw.isdigit() and len(raw) < 19 else None
    return values


def register(session: Session, registrant: User, data: dict[str, Any], now: Optional[datetime] = None) -> UnitRegistration:
    """注册管理员: a pending unit and its registration, routed to its reviewer (or a rejected one
    submitted again through the 重新提交 transition)."""
    routing = validate(session, registrant, data)
    now = now or datetime.now()
    values = _unit_values(data)
    existing = session.scalars(select(Unit).where(Unit.uscc == values["uscc"])).first()
    registration = _own_rejected(session, existing, registrant.id) if existing is not None else None
    route = {"route": routing.route, "reviewer_unit_id": routing.reviewer_unit_id, "reviewer_region_id": routing.reviewer_region_id}
    if registration is None:
        unit = Unit(**values, status=UnitStatus.pending, competent_unit_id=routing.reviewer_unit_id)
        session.add(unit)
        session.flush()
        registration = UnitRegistration(unit_id=unit.id, registrant_id=registrant.id, status=ReviewStatus.pending, submitted_at=now, **route)
        session.add(registration)
        session.flush()
        return registration
    unit = registration.unit
    for key, value in values.items():
        setattr(unit, key, value)
    unit.competent_unit_id = routing.reviewer_unit_id
    session.flush()
    apply_one(session, Principal.of(registrant), REGISTRATION, registration.id, "submit", now=now, data={"route": route})
    return session.get(UnitRegistration, registration.id)


# -- 单位注册审核 as a transition table ------------------------------------------------------------
G = ReviewStatus


def _own_registration(c: Context) -> Optional[str]:
    return None if c.row.registrant_id == c.principal.user_id else "只能提交本人的单位注册"


def _not_mine(c: Context) -> str:
    return f"应由{c.row.route.label.removesuffix('审核')}审核"


def _unit_becomes(status: UnitStatus):
    def after(c: Context) -> None:
        old = c.session.scalar(select(Unit.status).where(Unit.id == c.row.unit_id))
        c.session.execute(update(Unit).where(Unit.id == c.row.unit_id).values(status=status).execution_options(synchronize_session=False))
        c.audits.append(audit.entry("update", "unit", c.row.unit_id, {"status": old.value}, {"status": status.value},
                                    f"单位注册{c.transition.label}：{c.row.unit.name}", at=c.now))

    return after


def _registrant_becomes_admin(c: Context) -> None:
    """审核通过: the registrant becomes the unit's admin (seed 002 §5.1 step 5); a 科技型企业 on file
    with the same credit code becomes the unit's."""
    user = c.session.get(User, c.row.registrant_id)
    user.role, user.unit_id, user.secondary_unit_id, user.unit_authorized = Role.unit_admin, c.row.unit_id, None, False
    c.session.flush()
    if user.status != AccountStatus.active:  # a 单位管理用户 registered with the unit: its account takes effect now
        c.session.execute(update(User).where(User.id == user.id).values(status=AccountStatus.active).execution_options(synchronize_session=False))
        c.audits.append(audit.entry("update", "app_user", user.id, {"status": user.status.value}, {"status": AccountStatus.active.value},
                                    f"单位注册审核通过，单位管理用户生效：{user.username}", at=c.now))
        c.session.expire(user)
    notify(c.session, user, "unit_registration", "单位注册审核通过",
           f"{c.row.unit.name} 的单位注册已审核通过，您的账号 {user.username} 已成为该单位的单位管理员。")
    link_units(c.session)


def _tell_rejected(c: Context) -> None:
    user = c.session.get(User, c.row.registrant_id)
    notify(c.session, user, "unit_registration", "单位注册审核未通过",
           f"{c.row.unit.name} 的单位注册审核未通过。审核意见：{c.reason}。请登录后修改并重新提交。")


REGISTRANT = Who(frozenset({Role.applicant}), _own_registration, "注册人本人")
REVIEWER = reviewer(frozenset({Role.authority, Role.bureau, Role.sysadmin}), registration_reviewer, _not_mine,
                    "按单位性质：上级主管部门、参保地区县，或市局")
REVIEWED = Effect("记审核人与审核时间", set=lambda c: {"reviewed_at": c.now, "reviewed_by_id": c.principal.user_id})

# fmt: off
REGISTRATION = Machine("unit_registration", UnitRegistration, "status", (
    #          action     label         from                    who         → to          guards  effects
    Transition("submit",  "重新提交",   frozenset({G.rejected}), REGISTRANT, G.pending,   (),
               (Effect("按单位性质重新分派审核单位", set=lambda c: {**c.data["route"], "reason": None, "submitted_at": c.now}),
                Effect("单位改为待审核", after=_unit_becomes(UnitStatus.pending))), None, bulk=False),
    Transition("approve", "审核通过",   frozenset({G.pending}),  REVIEWER,   G.approved,  (),
               (REVIEWED, Effect("单位生效", after=_unit_becomes(UnitStatus.approved)),
                Effect("注册人成为单位管理员；同一统一社会信用代码的企业归属该单位", after=_registrant_becomes_admin)),
               None, confirm="确定审核通过所选单位注册？通过后注册人成为该单位的单位管理员。"),
    Transition("reject",  "审核不通过", frozenset({G.pending}),  REVIEWER,   G.rejected,  (),
               (REVIEWED, Effect("记不通过原因", set=lambda c: {"reason": c.reason}), Effect("单位改为未通过", after=_unit_becomes(UnitStatus.rejected)),
                Effect("通知注册人", after=_tell_rejected)),
               Reason("审核意见（不通过原因）", True)),
), record=review_log("unit_registration"), row_label=lambda reg: reg.unit.name)
# fmt: on


def approve(session: Session, p: Principal, reg_id: int, now: Optional[datetime] = None) -> Optional[str]:
    outcome = apply(session, p, REGISTRATION, [reg_id], "approve", now=now)
    return outcome.skipped[0][1] if outcome.skipped else None


def reject(session: Session, p: Principal, reg_id: int, reason: str, now: Optional[datetime] = None) -> Optional[str]:
    outcome = apply(session, p, REGISTRATION, [reg_id], "reject", reason, now=now)
    return outcome.skipped[0][1] if outcome.skipped else None
