"""账号授权, 二级单位管理人员 and 用户管理 (seed 000 §2.2–2.3, seed 004) as plain session logic.

A person is named by 姓名, 手机号码 and 证件号码; an existing account with that phone or number is
linked, otherwise a new one is created with a one-time password that must be changed at first login.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from models import Person, Role, SecondaryUnit, Unit, User
from rules.params import like_literal
from rules.passwords import hash_password, policy_errors, temporary_password
from rules.refusal import Refused
from rules.validators import id_card_error, mobile_error

SAME_PERSON = "法人单位授权人不可与二级单位管理人员是同一个人"
OTHER_UNIT = "该人员已是其他单位的账号，不能在本单位授权"
STAFF = "该账号是管理部门账号，不能授权"


class AccountError(Refused):
    """A refused account change, with the form field it belongs to."""

    def __init__(self, field: str, message: str):
        super().__init__(message, field=field)


@dataclass
class Granted:
    user: User
    created: bool
    temporary_password: Optional[str] = None


def person_errors(name: str, mobile: str, id_no: str) -> dict[str, str]:
    """Field errors of the 姓名 / 手机号码 / 证件号码 triple used by 账号授权 and 二级单位."""
    errors = {}
    if not (name or "").strip():
        errors["name"] = "请填写姓名"
    if problem := mobile_error(mobile):
        errors["mobile"] = problem
    if problem := id_card_error(id_no):
        errors["id_no"] = problem
    return errors


def _check(name: str, mobile: str, id_no: str) -> None:
    for field, message in person_errors(name, mobile, id_no).items():
        raise AccountError(field, message)


def find_account(session: Session, mobile: str, id_no: str) -> Optional[User]:
    """The account with this 证件号码 or 手机号码; refuses when they name two different accounts."""
    found = session.scalars(
        select(User).where(or_(User.id_no == id_no.strip().upper(), User.mobile == mobile.strip(), User.username == mobile.strip()))
    ).all()
    if len({u.id for u in found}) > 1:
        raise AccountError("mobile", "手机号码与证件号码分属不同账号，请核对")
    return found[0] if found else None


def _new_account(session: Session, name: str, mobile: str, id_no: str, **facts) -> Granted:
    password = temporary_password()
    user = User(
        username=mobile.strip(),
        name=name.strip(),
        mobile=mobile.strip(),
        id_no=id_no.strip().upper(),
        password_hash=hash_password(password),
        must_change_password=True,
        active=True,
        **facts,
    )
    session.add(user)
    session.flush()
    return Granted(user, True, password)


def authorized_user(session: Session, unit_id: int) -> Optional[User]:
    return session.scalars(select(User).where(User.unit_id == unit_id, User.unit_authorized.is_(True))).first()


def _is_manager(session: Session, user: Optional[User], id_no: str, except_dept: Optional[int] = None) -> bool:
    """Whether this person manages a secondary unit (by account or by the manager's 身份证 on record)."""
    if user is not None and user.role == Role.dept_admin and user.secondary_unit_id != except_dept:
        return True
    query = select(SecondaryUnit.id).where(SecondaryUnit.manager_id_no == id_no.strip().upper())
    if except_dept is not None:
        query = query.where(SecondaryUnit.id != except_dept)
    return session.execute(query.limit(1)).first() is not None


def authorize(session: Session, unit: Unit, name: str, mobile: str, id_no: str) -> Granted:
    """新增授权 / 更改: make this person the unit's only 法人单位授权人; the previous one loses the role."""
    _check(name, mobile, id_no)
    user = find_account(session, mobile, id_no)
    if user is not None:
        if user.role in (Role.authority, Role.bureau, Role.sysadmin):
            raise AccountError("id_no", STAFF)
        if user.unit_id not in (None, unit.id):
            raise AccountError("id_no", OTHER_UNIT)
        if user.role == Role.unit_admin and not user.unit_authorized:
            raise AccountError("id_no", "该人员已是本单位管理员账号，无需授权")
    if _is_manager(session, user, id_no):
        raise AccountError("id_no", SAME_PERSON)
    previous = authorized_user(session, unit.id)
    if previous is not None and user is not None and previous.id == user.id:
        raise AccountError("id_no", "该人员已是本单位授权人")
    if previous is not None:
        previous.role, previous.unit_authorized = Role.applicant, False
        session.flush()  # free the one-授权人-per-unit index before the new one takes it
    if user is None:
        return _new_account(session, name, mobile, id_no, role=Role.unit_admin, unit_id=unit.id, unit_authorized=True)
    user.role, user.unit_id, user.secondary_unit_id, user.unit_authorized = Role.unit_admin, unit.id, None, True
    session.flush()
    return Granted(user, False)


def set_manager(session: Session, dept: SecondaryUnit, name: str, mobile: str, id_no: str) -> Granted:
    """Make this person the one manager (dept_admin) of a secondary unit, creating or linking the account."""
    _check(name, mobile, id_no)
    user = find_account(session, mobile, id_no)
    if user is not None:
        if user.role in (Role.authority, Role.bureau, Role.sysadmin):
            raise AccountError("manager_id_no", STAFF)
        if user.unit_id not in (None, dept.unit_id):
            raise AccountError("manager_id_no", "该人员已是其他单位的账号，不能设为本单位二级单位管理人员")
        if user.role == Role.unit_admin:
            raise AccountError("manager_id_no", SAME_PERSON if user.unit_authorized else "单位管理员账号不能设为二级单位管理人员")
        if user.role == Role.dept_admin and user.secondary_unit_id != dept.id:
            raise AccountError("manager_id_no", "该人员已是其他二级单位的管理人员，一人只能管理一个二级单位")
    if _is_manager(session, None, id_no, except_dept=dept.id):
        raise AccountError("manager_id_no", "该人员已是其他二级单位的管理人员，一人只能管理一个二级单位")
    for old in session.scalars(select(User).where(User.role == Role.dept_admin, User.secondary_unit_id == dept.id)):
        if user is None or old.id != user.id:
            old.role = Role.applicant  # one manager per secondary unit: the previous one is a member again
    dept.manager_name, dept.manager_mobile, dept.manager_id_no = name.strip(), mobile.strip(), id_no.strip().upper()
    if user is None:
        return _new_account(session, name, mobile, id_no, role=Role.dept_admin, unit_id=dept.unit_id, secondary_unit_id=dept.id)
    user.role, user.unit_id, user.secondary_unit_id = Role.dept_admin, dept.unit_id, dept.id
    session.flush()
    return Granted(user, False)


def members(session: Session, dept_id: int) -> int:
    """People who belong to a secondary unit, its own manager's record aside."""
    managers = select(User.id).where(User.role == Role.dept_admin, User.secondary_unit_id == dept_id)
    return session.execute(
        select(func.count()).select_from(Person).where(
            Person.secondary_unit_id == dept_id, or_(Person.user_id.is_(None), Person.user_id.not_in(managers))
        )
    ).scalar_one()


def delete_blocker(session: Session, dept_id: int) -> Optional[str]:
    n = members(session, dept_id)
    return f"该二级单位下有 {n} 名人员，不能删除" if n else None


def retire_managers(session: Session, dept_id: int) -> list[User]:
    """Deleting a secondary unit ends its manager account (seed 000 §2.3): demoted and disabled, kept for the log."""
    retired = list(session.scalars(select(User).where(User.secondary_unit_id == dept_id)))
    for user in retired:
        if user.role == Role.dept_admin:
            user.role, user.active = Role.applicant, False
        user.secondary_unit_id = None
    for person in session.scalars(select(Person).where(Person.secondary_unit_id == dept_id)):
        person.secondary_unit_id = None  # only the manager's own record can be left here (others block deletion)
    session.flush()
    return retired


def reset_password(user: User) -> str:
    """A one-time password the user must change at the next login (seed 004 密码重置)."""
    password = temporary_password()
    user.password_hash = hash_password(password)
    user.must_change_password = True
    return password


UNAVAILABLE = "该用户名不可用"


def username_error(session: Session, username: str) -> Optional[str]:
    """A new login name: long enough and nobody's user name or phone. Says only "不可用", so the
    form cannot be used to find out who has an account."""
    if len(username) < 3:
        return "用户名至少 3 个字符"
    if session.scalar(select(User.id).where(or_(User.username == username, User.mobile == username, User.id_no == username.upper())).limit(1)):
        return UNAVAILABLE
    return None


def number_conflicts(session: Session, mobile: str, id_no: str) -> tuple[dict, list[str]]:
    """手机号码/证件号码 already used by another account: kept off the new account and told to its
    reviewer (registration_note), never to the registrant."""
    kept, notes = {"mobile": mobile or None, "id_no": id_no or None}, []
    if mobile and session.scalar(select(User.id).where(or_(User.mobile == mobile, User.username == mobile)).limit(1)):
        kept["mobile"] = None
        notes.append(f"填写的手机号码 {mobile} 已被其他账号使用")
    if id_no and session.scalar(select(User.id).where(User.id_no == id_no).limit(1)):
        kept["id_no"] = None
        notes.append(f"填写的证件号码 {id_no} 已被其他账号使用")
    return kept, notes


def registration_errors(session: Session, data: dict) -> dict[str, str]:
    """Field errors of a 填报用户注册 (seed 004): the unit picked by its full name, a usable user
    name, formats and the password policy. A phone or 证件号码 used elsewhere is not an error here."""
    errors: dict[str, str] = {}
    username = (data.get("username") or "").strip()
    mobile = (data.get("mobile") or "").strip()
    id_no = (data.get("id_no") or "").strip().upper()
    if problem := username_error(session, username):
        errors["username"] = problem
    if not (data.get("name") or "").strip():
        errors["name"] = "请填写姓名"
    if problem := mobile_error(mobile):
        errors["mobile"] = problem
    if problem := id_card_error(id_no):
        errors["id_no"] = problem
    if chosen_unit(session, data) is None:
        errors["unit_name"] = "未找到该单位，请输入已注册单位的全称并选择" if (data.get("unit_name") or "").strip() else "请选择管理单位"
    if problems := policy_errors(data.get("password") or "", username, mobile):
        errors["password"] = "；".join(problems)
    return errors


def chosen_unit(session: Session, data: dict) -> Optional[Unit]:
    """The unit a 填报用户 picked (单位选择: searched, then ticked), or typed by its exact full name."""
    from models import UnitStatus

    raw = str(data.get("unit_id") or "").strip()
    if raw.isascii() and raw.isdigit() and len(raw) < 19:
        unit = session.get(Unit, int(raw))
        return unit if unit is not None and unit.status == UnitStatus.approved else None
    return approved_unit(session, data.get("unit_name") or "")


def sign_up(session: Session, data: dict) -> User:
    """填报用户注册: a pending account of the chosen unit, granting nothing until its admin 授权s it."""
    from models import AccountStatus

    unit = chosen_unit(session, data)
    mobile, id_no = (data.get("mobile") or "").strip(), (data.get("id_no") or "").strip().upper()
    kept, notes = number_conflicts(session, mobile, id_no)
    user = User(
        username=data["username"].strip(), name=data["name"].strip(), email=(data.get("email") or "").strip() or None,
        password_hash=hash_password(data["password"]), role=Role.applicant, unit_id=unit.id, active=True,
        status=AccountStatus.pending, modules=[], registration_note="；".join(notes) or None, **kept,
    )
    session.add(user)
    session.flush()
    return user


def unit_choices(session: Session, query: str, limit: int = 20) -> list[Unit]:
    """单位选择: approved units whose full name contains the query (at least two characters)."""
    from models import UnitStatus

    query = (query or "").strip()
    if len(query) < 2:
        return []
    pattern = f"%{like_literal(query)}%"
    return list(session.scalars(select(Unit).where(Unit.status == UnitStatus.approved, Unit.name.like(pattern, escape="\\"))
                                .order_by(Unit.name).limit(limit)))


def approved_unit(session: Session, full_name: str) -> Optional[Unit]:
    from models import UnitStatus

    return session.scalars(select(Unit).where(Unit.name == full_name.strip(), Unit.status == UnitStatus.approved)).first()


def manage_refusal(actor_id: int, actor_role: Role, target: User) -> Optional[str]:
    """Why a unit admin (or system administrator) may not enable, disable, reset or configure this account."""
    if target.id == actor_id:
        return "不能对本人账号执行此操作（请使用修改密码）"
    if actor_role == Role.sysadmin:
        return None
    if target.role not in (Role.applicant, Role.dept_admin):
        return "只能管理本单位的填报用户和二级单位管理人员"
    return None
