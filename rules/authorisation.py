"""填报用户授权 (seed 004 二(二)2): a 填报用户 who registered under a unit waits for that unit's
admin to 授权 or 拒绝 the account. Before that the account grants nothing (rules.scope: a pending
principal sees no rows). A person record with the same 证件号码 is linked only when the unit admin
confirms it (授权并关联人员), never by the number alone.
"""
from __future__ import annotations

from typing import Optional

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from models import AccountStatus, DictItem, Person, ReviewStatus, Role, UnitRegistration, User
from rules import audit
from rules.notify import notify
from rules.people import ID_CARD, birth_from
from rules.scope import account_reviewer
from rules.transitions import Context, Effect, Machine, Reason, Transition, review_log, reviewer

A = AccountStatus


def person_match(session: Session, user: User) -> Optional[Person]:
    """The unit's person record with this account's 证件号码 and no account yet: offered to the unit
    admin to confirm, never linked by the number alone."""
    if not user.id_no or user.unit_id is None:
        return None
    return session.scalars(
        select(Person).where(Person.unit_id == user.unit_id, Person.id_no == user.id_no, Person.user_id.is_(None)).limit(1)
    ).first()


def match_notice(session: Session, user: User) -> Optional[str]:
    person = person_match(session, user)
    if person is None or user.status != A.pending:
        return None
    return f"该证件号码与本单位人员 {person.name} 一致，是否关联"


def _not_mine(c: Context) -> str:
    return "只能授权本单位注册的填报用户"


def _not_a_unit_registrant(c: Context) -> Optional[str]:
    """A 单位管理用户 waiting for its unit's registration is decided by that review, not here."""
    waiting = c.session.scalar(select(UnitRegistration.id).where(
        UnitRegistration.registrant_id == c.row.id, UnitRegistration.status != ReviewStatus.approved).limit(1))
    return "该账号为单位注册申请人，单位注册审核通过后自动生效" if waiting else None


def _no_conflict(c: Context) -> Optional[str]:
    if c.row.registration_note:
        return f"请先核实：{c.row.registration_note}（可拒绝该注册，或请系统管理员处理）"
    return None


def _has_match(c: Context) -> Optional[str]:
    return None if person_match(c.session, c.row) else "本单位没有证件号码一致且未关联账号的人员"


def _no_match(c: Context) -> Optional[str]:
    """Same 证件号码 means the same person: the unit admin links the record or refuses the account."""
    person = person_match(c.session, c.row) if c.row.status == A.pending else None
    return f"本单位人员 {person.name} 的证件号码与该账号一致，请选择“授权并关联人员”或“拒绝”" if person else None


def _own_record(c: Context) -> None:
    """An authorised 填报用户 gets a 个人信息 record in the unit, unless that 证件号码 is on file
    anywhere already (then the unit links it, or the system administrator sorts it out)."""
    user = c.row
    if not user.id_no or c.session.scalar(select(Person.id).where(or_(Person.user_id == user.id, Person.id_no == user.id_no)).limit(1)):
        return
    id_type = c.session.scalar(select(DictItem.id).where(DictItem.category == "id_type", DictItem.name == ID_CARD))
    person = Person(user_id=user.id, name=user.name, id_type_id=id_type, id_no=user.id_no, mobile=user.mobile,
                    email=user.email, birth_date=birth_from(c.session, id_type, user.id_no), unit_id=user.unit_id,
                    review_status=ReviewStatus.approved)
    c.session.add(person)
    c.session.flush()


def _link_person(c: Context) -> None:
    person = person_match(c.session, c.row)
    c.session.execute(update(Person).where(Person.id == person.id, Person.user_id.is_(None))
                      .values(user_id=c.row.id).execution_options(synchronize_session=False))
    c.audits.append(audit.entry("update", "person", person.id, {"user_id": None}, {"user_id": c.row.id},
                                f"关联账号：{person.name} ↔ {c.row.username}", at=c.now))


def _tell(outcome: str):
    def after(c: Context) -> None:
        text = f"您在{c.row.unit.name if c.row.unit else '本单位'}注册的账号 {c.row.username} {outcome}。"
        if c.reason:
            text += f"原因：{c.reason}"
        notify(c.session, c.row, "account_authorisation", f"账号{outcome}", text)

    return after


UNIT_ADMIN = reviewer(frozenset({Role.unit_admin, Role.sysadmin}), account_reviewer, _not_mine, "本单位的单位管理员")
GUARDS = (_not_a_unit_registrant, _no_conflict)
AUTHORISED = Effect("记授权；通知本人", set=lambda c: {"refusal_reason": None}, after=_tell("已授权，可以登录使用"))

# fmt: off
ACCOUNT = Machine("app_user", User, "status", (
    #          action            label           from                               who         → to        guards                    effects
    Transition("authorize",      "授权",         frozenset({A.pending, A.refused}), UNIT_ADMIN, A.active,  (*GUARDS, _no_match),     (AUTHORISED, Effect("建立本人的个人信息", after=_own_record)),
               confirm="确定授权所选用户？授权后可登录使用本单位已配置的模块。"),
    Transition("authorize_link", "授权并关联人员", frozenset({A.pending}),          UNIT_ADMIN, A.active,  (*GUARDS, _has_match),    (AUTHORISED, Effect("关联证件号码一致的本单位人员", after=_link_person)),
               confirm="确定授权并关联证件号码一致的本单位人员？关联后该用户可查看和维护此人员信息。"),
    Transition("refuse",         "拒绝",         frozenset({A.pending}),            UNIT_ADMIN, A.refused, (_not_a_unit_registrant,), (Effect("记拒绝原因；通知本人", set=lambda c: {"refusal_reason": c.reason}, after=_tell("未获授权")),),
               Reason("拒绝原因", True)),
), editable={frozenset(Role): frozenset(A)}, record=review_log("app_user"), row_label=lambda user: f"{user.name}（{user.username}）")
# fmt: on

