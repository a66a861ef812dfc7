"""个人信息 and 个人信息审核 (seed 000 §2.4–2.5): which changes wait for review, who reviews them,
and the compare-and-set review itself.
"""
from __future__ import annotations

from datetime import date, datetime
from typing import Any, Optional

from sqlalchemy import ColumnElement, and_, false, not_, or_, select, update
from sqlalchemy.orm import Session

from models import REVIEWED_FIELDS, DictItem, Person, ReviewStatus, Role, User
from rules import audit
from rules.scope import Principal, equals
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


def submit(session: Session, person: Person, values: dict[str, Any], now: Optional[datetime] = None) -> bool:
    """Save a person's own edit: other fields at once, reviewed fields as 待审核 changes.

    Returns True when something now waits for review. The approved values stay in force meanwhile.
    """
    for key, value in values.items():
        if key not in REVIEWED_FIELDS:
            setattr(person, key, value)
    current = approved_values(person)
    changes = {f: values[f] for f in REVIEWED_FIELDS if f in values and values[f] != current[f]}
    if changes:
        person.pending_changes = changes
        person.review_status = ReviewStatus.pending
        person.review_reason = None
        person.submitted_at = now or datetime.now()
    elif person.review_status != ReviewStatus.approved:
        person.pending_changes = None  # the person went back to the approved values: nothing to review
        person.review_status = ReviewStatus.approved
        person.review_reason = None
    birth = birth_from(session, person.id_type_id, person.id_no)
    if birth:
        person.birth_date = birth
    return bool(changes)


def _is_dept_manager():
    """The person is the manager of their own secondary unit (their review goes to the legal unit)."""
    return Person.user_id.in_(
        select(User.id).where(User.role == Role.dept_admin, User.secondary_unit_id == Person.secondary_unit_id)
    )


def not_self(p: Principal) -> ColumnElement[bool]:
    return or_(Person.user_id.is_(None), Person.user_id != p.user_id)


def reviewed_by(p: Principal) -> ColumnElement[bool]:
    """The people whose changes this reviewer decides (seed 000 §2.4 note): the secondary unit's manager
    when the person belongs to one, otherwise the legal unit, which then does not receive it. Never oneself."""
    if p.role == Role.dept_admin:
        return and_(equals(Person.secondary_unit_id, p.secondary_unit_id), not_(_is_dept_manager()), not_self(p))
    if p.role == Role.unit_admin:
        routed_to_unit = or_(Person.secondary_unit_id.is_(None), _is_dept_manager())
        return and_(equals(Person.unit_id, p.unit_id), routed_to_unit, not_self(p))
    return false()


def _decide(session: Session, p: Principal, person_id: int, values: dict, summary: str) -> Optional[str]:
    """One compare-and-set review step; returns why it was skipped, or None when done."""
    person = session.execute(
        select(Person.review_status, Person.submitted_at, Person.pending_changes, Person.id_type_id, Person.id_no, Person.unit_id).where(Person.id == person_id)
    ).one_or_none()
    if person is None or person.review_status != ReviewStatus.pending:
        return "不是待审核状态"
    if not session.scalar(select(Person.id).where(Person.id == person_id, reviewed_by(p))):
        return "不由您审核" if p.role != Role.unit_admin else "由二级单位审核"
    if callable(values):
        values = values(person)
        if isinstance(values, str):
            return values
    before = {k: audit.jsonable(v) for k, v in zip(("review_status", "pending_changes"), (person.review_status, person.pending_changes))}
    result = session.execute(
        update(Person)
        .where(Person.id == person_id, Person.review_status == ReviewStatus.pending, Person.submitted_at == person.submitted_at)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        return "已被他人处理"
    after = {k: audit.jsonable(v) for k, v in values.items()}
    audit.record(session, "update", "person", person_id, before, after, summary)
    return None


def approve(session: Session, p: Principal, person_id: int) -> Optional[str]:
    """审核通过: the waiting changes become the person's values."""

    def values(row):
        changes = dict(row.pending_changes or {})
        out: dict[str, Any] = {**changes, "review_status": ReviewStatus.approved, "pending_changes": None, "review_reason": None}
        if "id_no" in changes:
            clash = session.scalar(
                select(Person.id).where(Person.id != person_id, Person.id_type_id == row.id_type_id, Person.id_no == changes["id_no"])
            )
            if clash:
                return "证件号码已被他人使用"
            birth = birth_from(session, row.id_type_id, changes["id_no"])
            if birth:
                out["birth_date"] = birth
        if "unit_id" in changes and changes["unit_id"] != row.unit_id:
            out["secondary_unit_id"] = None  # a new 工作单位: the old unit's secondary unit no longer applies
        return out

    pending = session.scalar(select(Person.pending_changes).where(Person.id == person_id)) or {}
    problem = _decide(session, p, person_id, values, "个人信息审核通过")
    if problem is None:
        _follow_account(session, person_id, pending)
    return problem


def _follow_account(session: Session, person_id: int, changes: dict) -> None:
    """The person's login account follows an approved 证件号码 or 工作单位 (a 申报人's only)."""
    user_id = session.scalar(select(Person.user_id).where(Person.id == person_id))
    user = session.get(User, user_id) if user_id else None
    if user is None:
        return
    if "id_no" in changes and not session.scalar(select(User.id).where(User.id_no == changes["id_no"], User.id != user.id)):
        user.id_no = changes["id_no"]
    if "unit_id" in changes and user.role == Role.applicant and changes["unit_id"] != user.unit_id:
        user.unit_id, user.secondary_unit_id = changes["unit_id"], None
    session.flush()


def reject(session: Session, p: Principal, person_id: int, reason: str) -> Optional[str]:
    """审核不通过 with the reason shown to the person; the changes stay for them to correct."""
    if not reason.strip():
        return "请填写驳回原因"
    return _decide(
        session, p, person_id, {"review_status": ReviewStatus.rejected, "review_reason": reason.strip()}, f"个人信息审核不通过：{reason.strip()}"
    )
