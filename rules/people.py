"""个人信息 and 个人信息审核 (seed 000 §2.4–2.5): which changes wait for review, and the review as
a transition table of the one engine (who reviews whom is `rules.scope.person_reviewer`).
"""
from __future__ import annotations

from datetime import date, datetime
from typing import Any, Optional

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session

from models import REVIEWED_FIELDS, DictItem, Person, ReviewStatus, Role, Unit, User
from rules import audit
from rules.notify import notify
from rules.scope import Principal, person_reviewer
from rules.transitions import Context, Effect, Machine, Reason, Transition, Who, apply, apply_one, review_log, reviewer
from rules.validators import id_card_birth, id_card_error

ID_CARD = "中华人民共和国居民身份证"
FIELD_LABELS = {f: Person.__table__.c[f].info["label"] for f in REVIEWED_FIELDS}


def is_id_card(session: Session, id_type_id: Optional[int]) -> bool:
    return id_type_id is not None and session.get(DictItem, id_type_id) is not None and session.get(DictItem, id_type_id).name == ID_CARD


def id_no_error(session: Session, id_type_id: Optional[int], id_no: str) -> Optional[str]:
    """证件号码: GB 11643 checks only when the type is 居民身份证; other documents just need a value."""
    if not (id_no or "").strip():
        return "请填写证件号码"
    return id_card_error(id_no) if is_id_card(session, id_type_id) else None


def birth_from(session: Session, id_type_id: Optional[int], id_no: Optional[str]) -> Optional[date]:
    """出生日期 derived from a 居民身份证号码 (None for other documents)."""
    if id_no and is_id_card(session, id_type_id) and not id_card_error(id_no):
        return id_card_birth(id_no.upper())
    return None


def approved_values(person: Person) -> dict[str, Any]:
    return {f: getattr(person, f) for f in REVIEWED_FIELDS}


def shown_values(person: Person) -> dict[str, Any]:
    """What the person's form shows: the approved values, overlaid with changes still under review."""
    return {**approved_values(person), **(person.pending_changes or {})}


def save(session: Session, p: Principal, person: Person, values: dict[str, Any], now: Optional[datetime] = None) -> bool:
    """Save an edit of a person: other fields at once, reviewed fields as 待审核 changes (the
    提交审核 transition), or 撤回修改 when the person went back to the approved values.

    Returns True when something now waits for review. The approved values stay in force meanwhile."""
    for key, value in values.items():
        if key not in REVIEWED_FIELDS:
            setattr(person, key, value)
    birth = birth_from(session, person.id_type_id, person.id_no)
    if birth:
        person.birth_date = birth
    session.flush()
    current = approved_values(person)
    changes = {f: values[f] for f in REVIEWED_FIELDS if f in values and values[f] != current[f]}
    if changes:
        apply_one(session, p, PERSON, person.id, "submit", now=now, data={"changes": changes})
    elif person.review_status != ReviewStatus.approved:
        apply_one(session, p, PERSON, person.id, "withdraw", now=now)
    return bool(changes)


# -- the review (个人信息审核) as a transition table -------------------------------------------------
P = ReviewStatus


def _self_or_admin(c: Context) -> Optional[str]:
    if c.row.user_id == c.principal.user_id or c.principal.role == Role.sysadmin:
        return None
    return "只能修改本人的个人信息"


def reviewer_of(session: Session, person: Person) -> str:
    """Who decides this person's changes, in words (for a refusal that names the right reviewer)."""
    destination = session.get(Unit, person.pending_unit_id) if person.pending_unit_id else None
    prefix = f"调入单位（{destination.name}）的" if destination else ""
    for role, text in ((Role.dept_admin, "二级单位管理员"), (Role.unit_admin, "单位管理员"), (Role.authority, "主管部门（区县科技局）")):
        candidates = session.scalars(select(User).where(User.role == role, User.active.is_(True), *_area(role, person))).all()
        for user in candidates:
            if session.scalar(select(Person.id).where(Person.id == person.id, person_reviewer(Principal.of(user)))):
                return f"{prefix}{text}{'（法人单位授权人）' if user.unit_authorized else ''}"
    return ""


def _area(role: Role, person: Person) -> tuple:
    if role == Role.dept_admin:
        return (User.secondary_unit_id == person.secondary_unit_id,) if person.secondary_unit_id else (User.id.is_(None),)
    if role == Role.unit_admin:
        return (User.unit_id == (person.pending_unit_id or person.unit_id),)
    return ()


def _not_mine(c: Context) -> str:
    who = reviewer_of(c.session, c.row)
    return f"应由{who}审核" if who else "不由您审核"


def _id_no_free(c: Context) -> Optional[str]:
    changes = c.row.pending_changes or {}
    if "id_no" in changes and c.session.scalar(select(Person.id).where(
            Person.id != c.row.id, Person.id_type_id == c.row.id_type_id, Person.id_no == changes["id_no"])):
        return "证件号码已被他人使用"
    return None


def _approved_values(c: Context) -> dict:
    """The waiting changes become the person's values."""
    row = c.row
    changes = dict(row.pending_changes or {})
    out: dict[str, Any] = {**changes, "pending_changes": None, "pending_unit_id": None, "review_reason": None}
    if "id_no" in changes:
        birth = birth_from(c.session, row.id_type_id, changes["id_no"])
        if birth:
            out["birth_date"] = birth
    if "unit_id" in changes and changes["unit_id"] != row.unit_id:
        out["secondary_unit_id"] = None  # a new 工作单位: the old unit's secondary unit no longer applies
    c.data["approved"] = changes
    return out


def _follow_account(c: Context) -> None:
    """The person's login account follows an approved 证件号码 or 工作单位 (a 申报人's only)."""
    session, changes = c.session, c.data.get("approved") or {}
    user = session.get(User, c.row.user_id) if c.row.user_id else None
    if user is None:
        return
    if "id_no" in changes and not session.scalar(select(User.id).where(User.id_no == changes["id_no"], User.id != user.id)):
        user.id_no = changes["id_no"]
    if "unit_id" in changes and user.role == Role.applicant and changes["unit_id"] != user.unit_id:
        user.unit_id, user.secondary_unit_id = changes["unit_id"], None
    session.flush()


# -- a change of 工作单位: decided by the destination unit; the old unit and the person are told --
def _note_move(c: Context) -> None:
    """Which move this transition is about (read before the UPDATE changes the row)."""
    row = c.row
    new_unit = (c.data.get("changes") or {}).get("unit_id") if c.transition.action == "submit" else row.pending_unit_id
    c.data["move"] = (row.unit_id, new_unit) if new_unit and new_unit != row.unit_id else None


def _tell_about_move(c: Context) -> None:
    """消息 to the old unit's admins (on submit and on the decision) and to the person (the outcome)."""
    if not c.data.get("move"):
        return
    session, row = c.session, c.row
    old_id, new_id = c.data["move"]
    old, new = session.get(Unit, old_id) if old_id else None, session.get(Unit, new_id)
    old_name, new_name = old.name if old else "（无）", new.name if new else "（已删除）"
    if c.transition.action == "submit":
        subject = f"工作单位变更申请：{row.name}"
        body = f"{row.name}申请将工作单位由“{old_name}”变更为“{new_name}”，由调入单位审核。"
    else:
        outcome = "审核通过" if c.transition.action == "approve" else "审核不通过"
        subject = f"工作单位变更{outcome}：{row.name}"
        body = f"{row.name}的工作单位由“{old_name}”变更为“{new_name}”的申请，调入单位{outcome}。"
        if c.reason:
            body += f"驳回原因：{c.reason}"
        person_user = session.get(User, row.user_id) if row.user_id else None
        if person_user is not None:
            notify(session, person_user, "person_unit_change", subject, body)
    if old_id:
        admins = session.scalars(select(User).where(User.role == Role.unit_admin, User.unit_id == old_id,
                                                    User.active.is_(True), User.id != (row.user_id or 0))).all()
        for admin in admins:
            notify(session, admin, "person_unit_change", subject, body)


OWNER = Who(frozenset(Role), _self_or_admin, "本人（系统管理员可代为维护）")
PERSON_REVIEWER = reviewer(frozenset({Role.dept_admin, Role.unit_admin, Role.authority}), person_reviewer, _not_mine,
                           "二级单位管理员；无二级单位者由单位管理员；单位管理员本人由法人单位授权人，无授权人时由主管部门；"
                           "变更工作单位的由调入单位的单位管理员")
SUBMITTED = Effect("待审核变更与提交时间；变更工作单位的记调入单位（由其审核）",
                   set=lambda c: {"pending_changes": c.data["changes"], "pending_unit_id": c.data["changes"].get("unit_id"),
                                  "review_reason": None, "submitted_at": c.now})
TOLD = Effect("变更工作单位的，消息通知原单位管理员（审核结果也通知本人）", before=_note_move, after=_tell_about_move)
APPROVED = Effect("变更生效（证件号码带出出生日期；新工作单位清除二级单位）", set=_approved_values)
ACCOUNT = Effect("登录账号随之更新证件号码、工作单位", after=_follow_account)

# fmt: off
PERSON = Machine("person", Person, "review_status", (
    #          action      label         from                                  who              → to         guards          effects        reason
    Transition("submit",   "提交审核",   frozenset({P.approved, P.pending, P.rejected}), OWNER, P.pending,   (),             (SUBMITTED, TOLD), None, bulk=False),
    Transition("withdraw", "撤回修改",   frozenset({P.pending, P.rejected}),   OWNER,           P.approved,  (),
               (Effect("清除待审核变更与调入单位", set=lambda c: {"pending_changes": None, "pending_unit_id": None, "review_reason": None}),), None, bulk=False),
    Transition("approve",  "审核通过",   frozenset({P.pending}),               PERSON_REVIEWER, P.approved,  (_id_no_free,), (APPROVED, ACCOUNT, TOLD), None,
               confirm="确定审核通过所选人员的个人信息？"),
    Transition("reject",   "审核不通过", frozenset({P.pending}),               PERSON_REVIEWER, P.rejected,  (),
               (Effect("记驳回原因，清除调入单位", set=lambda c: {"review_reason": c.reason, "pending_unit_id": None}), TOLD), Reason("驳回原因", True)),
), editable={frozenset(Role): frozenset(P)}, record=review_log("person"), row_label=lambda person: person.name,
   # a change submitted again meanwhile is not decided blind
   cas_where=lambda c: [Person.submitted_at == c.row.submitted_at] if c.transition.who is PERSON_REVIEWER else [],
   audit_before=lambda c: {"pending_changes": audit.jsonable(c.row.pending_changes)})
# fmt: on


def approve(session: Session, p: Principal, person_id: int) -> Optional[str]:
    """审核通过 of one person (None when done, else why not)."""
    outcome = apply(session, p, PERSON, [person_id], "approve")
    return outcome.skipped[0][1] if outcome.skipped else None


def reject(session: Session, p: Principal, person_id: int, reason: str) -> Optional[str]:
    outcome = apply(session, p, PERSON, [person_id], "reject", reason)
    return outcome.skipped[0][1] if outcome.skipped else None


def reviewed_by(p: Principal) -> ColumnElement[bool]:
    return person_reviewer(p)
