"""Data scope (数据权限): which rows of a model a user may see, as one SQL predicate.

Every read and write path of the admin goes through `predicate(principal, model)`. A model with
no rule here is invisible to every role except 全部 (bureau, sysadmin): deny by default.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional

from sqlalchemy import ColumnElement, and_, false, func, not_, or_, select, true

from models import (
    LOGIN_ACTIONS,
    AnnualReport,
    Attachment,
    AuditLog,
    AuthorityRoute,
    BudgetItem,
    Call,
    CreditRating,
    Declaration,
    DictItem,
    Enterprise,
    EnterpriseName,
    EnterpriseRename,
    EnterpriseReview,
    ExportJob,
    InnovationVoucher,
    LegacyProject,
    LibraryParam,
    Member,
    Person,
    ProgressReport,
    ProgressStatus,
    Region,
    RegistrationRoute,
    RenameFile,
    ReviewLog,
    ReviewRecord,
    Role,
    SecondaryUnit,
    Status,
    Unit,
    UnitChange,
    UnitRegistration,
    UnitRevenue,
    User,
)

EVERYTHING = frozenset({Role.bureau, Role.sysadmin})  # 全部
FILLERS = frozenset({Role.unit_admin, Role.applicant})  # who fills in for a unit (企业的单位管理员、填报用户)


@dataclass(frozen=True)
class Principal:
    """The facts of a user that scope depends on, detached from any session."""

    user_id: int
    role: Role
    unit_id: Optional[int] = None
    secondary_unit_id: Optional[int] = None
    region_id: Optional[int] = None
    authorized: bool = False  # 法人单位授权人 (a unit admin granted by the legal unit)
    modules: frozenset = frozenset()  # 模块配置 of a 填报用户: the call types they may declare in
    authorised: bool = True  # 授权状态: a pending or refused account sees no data at all

    @classmethod
    def of(cls, user) -> "Principal":
        return cls(
            user_id=user.id,
            role=user.role,
            unit_id=user.unit_id,
            secondary_unit_id=user.secondary_unit_id,
            region_id=user.region_id,
            authorized=bool(getattr(user, "unit_authorized", False)),
            modules=frozenset(getattr(user, "modules", None) or ()),
            authorised=_authorised(user),
        )


def _authorised(user) -> bool:
    status = getattr(user, "status", None)
    return status is None or getattr(status, "value", status) == "active"


Rule = Callable[[Principal], ColumnElement[bool]]
_RULES: dict[type, Rule] = {}
_PRIVATE: dict[type, Rule] = {}  # rows private to their owner even for 全部 (drafts)


def _registrar(table: dict[type, Rule], *models: type) -> Callable[[Rule], Rule]:
    def register(fn: Rule) -> Rule:
        for model in models:
            table[model] = fn
        return fn

    return register


def rule(*models: type) -> Callable[[Rule], Rule]:
    """Register the scope rule of one or more models."""
    return _registrar(_RULES, *models)


def private(*models: type) -> Callable[[Rule], Rule]:
    """Register which rows of a model stay with their owner for every role, 全部 included."""
    return _registrar(_PRIVATE, *models)


def predicate(principal: Optional[Principal], model: type) -> ColumnElement[bool]:
    """The rows of `model` that `principal` may see (and act on) as a WHERE clause."""
    if principal is None:
        return false()
    if not principal.authorised:  # a pending account: only its own unit registration (to resubmit it)
        return UnitRegistration.registrant_id == principal.user_id if model is UnitRegistration else false()
    if principal.role in EVERYTHING:
        fn = _PRIVATE.get(model)
        return fn(principal) if fn else true()
    fn = _RULES.get(model)
    return fn(principal) if fn else false()


def is_scoped(model: type) -> bool:
    return model in _RULES


def equals(column, value) -> ColumnElement[bool]:
    """`column = value`, but never `column IS NULL` when the user lacks the attribute."""
    return false() if value is None else column == value


def routed_units(p: Principal, route: AuthorityRoute = AuthorityRoute.competent):
    """Ids of the units this authority decides at the authority level, one authority per unit:
    - competent (default): the units under it as competent department (主管部门), and the units of
      its district that have no competent department;
    - district: every unit of its district."""
    if route == AuthorityRoute.district:
        return select(Unit.id).where(equals(Unit.region_id, p.region_id))
    return select(Unit.id).where(or_(
        equals(Unit.competent_unit_id, p.unit_id),
        and_(Unit.competent_unit_id.is_(None), equals(Unit.region_id, p.region_id)),
    ))


def authority_units(p: Principal):
    """Ids of units under an authority (units, people, secondary units, revenue): those it decides
    by default (`routed_units`), and its own unit ("既是单位又是主管部门")."""
    return select(Unit.id).where(or_(Unit.id.in_(routed_units(p)), equals(Unit.id, p.unit_id)))


def declaration_authority(p: Principal) -> ColumnElement[bool]:
    """The declarations this authority decides at the authority level: the call's `authority_route`
    says whether a unit with a competent department goes to it or to the unit's district."""
    if p.role != Role.authority:
        return false()
    return or_(*(
        and_(Declaration.call_id.in_(select(Call.id).where(Call.authority_route == route)),
             Declaration.unit_id.in_(routed_units(p, route)))
        for route in AuthorityRoute
    ))


def in_unit_area(p: Principal, unit_column, secondary_column=None) -> ColumnElement[bool]:
    """The common ladder for rows that belong to a unit (and maybe a secondary unit)."""
    match p.role:
        case Role.unit_admin:
            return equals(unit_column, p.unit_id)
        case Role.dept_admin if secondary_column is not None:
            return equals(secondary_column, p.secondary_unit_id)
        case Role.authority:
            return unit_column.in_(authority_units(p))
    return false()


@rule(Region, DictItem)
def _reference(p: Principal) -> ColumnElement[bool]:
    return true()


@rule(Unit)
def _unit(p: Principal) -> ColumnElement[bool]:
    if p.role in (Role.applicant, Role.dept_admin):
        return equals(Unit.id, p.unit_id)
    return in_unit_area(p, Unit.id)


@rule(SecondaryUnit)
def _secondary_unit(p: Principal) -> ColumnElement[bool]:
    if p.role == Role.applicant:
        return equals(SecondaryUnit.id, p.secondary_unit_id)
    if p.role == Role.dept_admin:
        return equals(SecondaryUnit.id, p.secondary_unit_id)
    return in_unit_area(p, SecondaryUnit.unit_id)


@rule(Person)
def _person(p: Principal) -> ColumnElement[bool]:
    """Own record; the people of one's area; and a person asking to move into one's unit (工作单位
    变更): the destination's admins see that 个人信息 row until the change is decided (nothing else
    of the person: declarations and accounts stay with the old unit)."""
    own = Person.user_id == p.user_id
    if p.role == Role.applicant:
        return own
    visible = [own, in_unit_area(p, Person.unit_id, Person.secondary_unit_id)]
    if p.role == Role.unit_admin:
        visible.append(equals(Person.pending_unit_id, p.unit_id))
    if p.role == Role.authority:
        visible.append(person_reviewer(p))  # a move into a unit with no admin of its own
    return or_(*visible)


@rule(User)
def _user(p: Principal) -> ColumnElement[bool]:
    own = User.id == p.user_id
    if p.role == Role.unit_admin:
        return or_(own, equals(User.unit_id, p.unit_id))
    if p.role == Role.dept_admin:
        return or_(own, equals(User.secondary_unit_id, p.secondary_unit_id))
    return own


@rule(AuditLog)
def _audit(p: Principal) -> ColumnElement[bool]:
    """The logs are 全部's (操作日志, 登录日志); anyone else sees only their own sign-ins (个人中心)."""
    return own_logins(p)


def own_logins(p: Optional[Principal]) -> ColumnElement[bool]:
    """The user's own rows of the 登录日志, whatever the role: for 全部 too, the 个人中心 filters on it."""
    return false() if p is None else and_(AuditLog.user_id == p.user_id, AuditLog.action.in_(LOGIN_ACTIONS))


# -- units, people and accounts (issue 3) ---------------------------------------------------
@rule(UnitRegistration)
def _unit_registration(p: Principal) -> ColumnElement[bool]:
    """The registrant sees their own; the reviewer its routed ones; a unit admin its unit's."""
    own = UnitRegistration.registrant_id == p.user_id
    if p.role == Role.authority:
        return or_(own, registration_reviewer(p))
    if p.role == Role.unit_admin:
        return or_(own, equals(UnitRegistration.unit_id, p.unit_id))
    return own


@rule(ReviewLog)
def _review_log(p: Principal) -> ColumnElement[bool]:
    """审批意见 of a person, a registration or a progress report: visible with the record itself."""
    return or_(*(
        and_(ReviewLog.target == target, ReviewLog.target_id.in_(select(model.id).where(predicate(p, model))))
        for target, model in (("person", Person), ("unit_registration", UnitRegistration), ("progress_report", ProgressReport),
                              ("unit_change", UnitChange), ("app_user", User), ("legacy_project", LegacyProject))
    ))


@rule(UnitChange)
def _unit_change(p: Principal) -> ColumnElement[bool]:
    """单位信息变更: the unit's admins see their unit's requests; the receiving authority decides them."""
    if p.role == Role.unit_admin:
        return equals(UnitChange.unit_id, p.unit_id)
    if p.role == Role.authority:
        return or_(unit_change_reviewer(p), equals(UnitChange.unit_id, p.unit_id))
    return false()


# -- declarations and calls (issue 4) ------------------------------------------------------
@rule(Call)
def _call(p: Principal) -> ColumnElement[bool]:
    return true()  # calls are public notices


@private(Declaration)
def not_a_draft_of_others(p: Principal) -> ColumnElement[bool]:
    """A 未提交 declaration is its applicant's alone, whatever the other's role."""
    return or_(Declaration.status != Status.draft, Declaration.applicant_id == p.user_id)


@rule(Declaration)
def _declaration(p: Principal) -> ColumnElement[bool]:
    """申报人: own; reviewers: submitted rows of their area (drafts stay private); an authority: the
    rows it decides (`declaration_authority`), so one authority per unit and call."""
    if p.role == Role.applicant:
        return Declaration.applicant_id == p.user_id
    if p.role == Role.authority:
        area = declaration_authority(p)  # one authority per unit and call (Call.authority_route)
    else:
        area = in_unit_area(p, Declaration.unit_id, Declaration.secondary_unit_id)
    return and_(area, not_a_draft_of_others(p))


def _of_declaration(column) -> Rule:
    return lambda p: column.in_(select(Declaration.id).where(predicate(p, Declaration)))


for _child, _col in (
    (ReviewRecord, ReviewRecord.declaration_id),
    (Member, Member.declaration_id),
    (BudgetItem, BudgetItem.declaration_id),
    (Attachment, Attachment.declaration_id),
    (ProgressReport, ProgressReport.declaration_id),
):
    rule(_child)(_of_declaration(_col))
    private(_child)(_of_declaration(_col))


@private(ProgressReport)
def _progress_report_private(p: Principal) -> ColumnElement[bool]:
    """An 未上报 调度填报 is its applicant's alone, like a draft declaration."""
    own = ProgressReport.declaration_id.in_(select(Declaration.id).where(Declaration.applicant_id == p.user_id))
    visible = ProgressReport.declaration_id.in_(select(Declaration.id).where(predicate(p, Declaration)))
    return and_(visible, or_(ProgressReport.status != ProgressStatus.draft, own))


rule(ProgressReport)(_progress_report_private)


@rule(UnitRevenue)
def _unit_revenue(p: Principal) -> ColumnElement[bool]:
    return in_unit_area(p, UnitRevenue.unit_id)


# -- enterprises, annual reports and libraries (issue 5) -----------------------------------
@rule(Enterprise)
def _enterprise(p: Principal) -> ColumnElement[bool]:
    if p.role == Role.authority:
        return equals(Enterprise.region_id, p.region_id)
    if p.role in (Role.unit_admin, Role.applicant):
        return equals(Enterprise.unit_id, p.unit_id)
    return false()


def _owned_by_enterprise(model: type) -> None:
    """Rows that belong to an enterprise are visible exactly when the enterprise is."""

    @rule(model)
    def _owned(p: Principal) -> ColumnElement[bool]:
        return model.enterprise_id.in_(select(Enterprise.id).where(_enterprise(p)))


for _model in (AnnualReport, CreditRating, InnovationVoucher, EnterpriseReview):
    _owned_by_enterprise(_model)


@rule(LibraryParam)
def _library_param(p: Principal) -> ColumnElement[bool]:
    return true() if p.role == Role.authority else false()


# -- export jobs (issue 6) ------------------------------------------------------------------
@rule(ExportJob)
def _export_job(p: Principal) -> ColumnElement[bool]:
    """A download is personal. Bureau and sysadmin pass predicate() before rules apply, so the
    下载中心 also filters on the owner itself (owner_only below)."""
    return ExportJob.owner_id == p.user_id


def owner_only(p: Optional[Principal]) -> ColumnElement[bool]:
    """Export jobs of this user only, whatever the role."""
    return false() if p is None else ExportJob.owner_id == p.user_id


# -- reviewer routing: who decides a pending row (named predicates, used by the transitions) --
def registration_reviewer(p: Principal) -> ColumnElement[bool]:
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


def account_reviewer(p: Principal) -> ColumnElement[bool]:
    """The 填报用户 accounts this user authorises (seed 004): a unit admin those of their own unit
    (not themselves); the system administrator any."""
    if p.role == Role.unit_admin and p.unit_id is not None:
        return and_(User.unit_id == p.unit_id, User.role == Role.applicant, User.id != p.user_id)
    if p.role == Role.sysadmin:
        return User.role == Role.applicant
    return false()


def unit_change_reviewer(p: Principal) -> ColumnElement[bool]:
    """The 单位信息变更 this authority decides: routed to it as competent department or as district
    (a change routed to neither — e.g. to a 市级 unit — is the city bureau's)."""
    if p.role == Role.authority:
        return or_(equals(UnitChange.reviewer_unit_id, p.unit_id),
                   and_(UnitChange.reviewer_unit_id.is_(None), equals(UnitChange.reviewer_region_id, p.region_id)))
    if p.role in EVERYTHING:
        return and_(UnitChange.reviewer_unit_id.is_(None), UnitChange.reviewer_region_id.is_(None))
    return false()


def _person_account(*where) -> ColumnElement[bool]:
    return Person.user_id.in_(select(User.id).where(*where))


def _is_dept_manager() -> ColumnElement[bool]:
    """The person manages their own secondary unit (their review goes to the legal unit)."""
    return _person_account(User.role == Role.dept_admin, User.secondary_unit_id == Person.secondary_unit_id)


def _is_unit_admin() -> ColumnElement[bool]:
    return _person_account(User.role == Role.unit_admin, User.unit_id == Person.unit_id)


def _is_authorized_admin() -> ColumnElement[bool]:
    return _person_account(User.role == Role.unit_admin, User.unit_authorized.is_(True), User.unit_id == Person.unit_id)


def _unit_has_authorized_admin() -> ColumnElement[bool]:
    return Person.unit_id.in_(select(User.unit_id).where(User.role == Role.unit_admin, User.unit_authorized.is_(True)))


def not_self(p: Principal) -> ColumnElement[bool]:
    return or_(Person.user_id.is_(None), Person.user_id != p.user_id)


def _moving() -> ColumnElement[bool]:
    """The waiting change includes a new 工作单位: the destination unit decides it."""
    return Person.pending_unit_id.is_not(None)


def _destination_admins(*where) -> ColumnElement[bool]:
    """The destination unit has a unit admin (other than the moving person themself) matching `where`."""
    return select(User.id).where(
        User.role == Role.unit_admin, User.unit_id == Person.pending_unit_id,
        or_(Person.user_id.is_(None), User.id != Person.user_id), *where,
    ).exists()


def person_reviewer(p: Principal) -> ColumnElement[bool]:
    """The people whose changes this reviewer decides (seed 000 §2.4 note), so that every change has
    exactly one reviewer and nobody reviews oneself:
    - in a secondary unit: its manager (二级单位管理员);
    - no secondary unit, or the secondary unit's own manager: the legal unit's admin;
    - a unit admin: the unit's 法人单位授权人, or the unit's authority (主管部门/区县) when the unit
      has none or the person is the 授权人 themself;
    - a change of 工作单位 (`pending_unit_id`): the DESTINATION unit's 单位管理员 (the legal unit's
      own account); its 法人单位授权人 only when it has no other admin; the destination's authority
      when it has no admin at all. The old unit's reviewers no longer decide it.
    An authority is the unit's one authority (`routed_units`: competent department, else district)."""
    staying = not_(_moving())
    admin_by_authority = and_(_is_unit_admin(), or_(not_(_unit_has_authorized_admin()), _is_authorized_admin()))
    if p.role == Role.dept_admin:
        return and_(staying, equals(Person.secondary_unit_id, p.secondary_unit_id), not_(_is_dept_manager()), not_(_is_unit_admin()), not_self(p))
    if p.role == Role.unit_admin:
        ordinary = and_(or_(Person.secondary_unit_id.is_(None), _is_dept_manager()), not_(_is_unit_admin()))
        other_admin = and_(_is_unit_admin(), not_(_is_authorized_admin())) if p.authorized else false()
        here = and_(staying, equals(Person.unit_id, p.unit_id), or_(ordinary, other_admin))
        arriving = and_(_moving(), equals(Person.pending_unit_id, p.unit_id))
        if p.authorized:
            arriving = and_(arriving, not_(_destination_admins(User.unit_authorized.is_not(True))))
        return and_(or_(here, arriving), not_self(p))
    if p.role == Role.authority:
        here = and_(staying, Person.unit_id.in_(routed_units(p)), admin_by_authority)
        arriving = and_(_moving(), Person.pending_unit_id.in_(routed_units(p)), not_(_destination_admins()))
        return and_(or_(here, arriving), not_self(p))
    return false()


# -- 老项目认领 (issue 14) ------------------------------------------------------------------------
def normal_uscc(column):
    """A stored 统一社会信用代码 compared as GB 32100 writes it: trimmed, upper-case."""
    return func.upper(func.trim(column))


def own_enterprises(p: Principal):
    """Ids of the enterprise linked to the user's unit (企业的单位管理员、填报用户)."""
    return select(Enterprise.id).where(equals(Enterprise.unit_id, p.unit_id))


def legacy_of_own_uscc(p: Principal) -> ColumnElement[bool]:
    """老项目 carrying the credit code of the user's enterprise: those it may claim or has claimed."""
    codes = select(normal_uscc(Enterprise.uscc)).where(equals(Enterprise.unit_id, p.unit_id))
    return and_(LegacyProject.uscc.in_(codes),
                or_(LegacyProject.enterprise_id.is_(None), LegacyProject.enterprise_id.in_(own_enterprises(p))))


def legacy_reviewer(p: Principal) -> ColumnElement[bool]:
    """The claims this district decides: those of an enterprise of its region (as 企业基本信息审核)."""
    if p.role != Role.authority:
        return false()
    return LegacyProject.enterprise_id.in_(select(Enterprise.id).where(equals(Enterprise.region_id, p.region_id)))


@rule(LegacyProject)
def _legacy_project(p: Principal) -> ColumnElement[bool]:
    if p.role == Role.authority:
        codes = select(normal_uscc(Enterprise.uscc)).where(equals(Enterprise.region_id, p.region_id))
        return or_(LegacyProject.uscc.in_(codes), legacy_reviewer(p))
    if p.role in (Role.unit_admin, Role.applicant):
        return legacy_of_own_uscc(p)
    return false()


# -- 企业更名管理 (issue 14) ------------------------------------------------------------------------
for _model in (EnterpriseRename, EnterpriseName):  # requests and name history: visible with the enterprise
    _owned_by_enterprise(_model)


@rule(RenameFile)
def _rename_file(p: Principal) -> ColumnElement[bool]:
    """证明材料 of an 更名申请: visible with the request."""
    return RenameFile.rename_id.in_(select(EnterpriseRename.id).where(predicate(p, EnterpriseRename)))
