"""Data scope (数据权限): which rows of a model a user may see, as one SQL predicate.

Every read and write path of the admin goes through `predicate(principal, model)`. A model with
no rule here is invisible to every role except 全部 (bureau, sysadmin): deny by default.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional

from sqlalchemy import ColumnElement, and_, false, or_, select, true

from models import (
    AnnualReport,
    Attachment,
    AuditLog,
    BudgetItem,
    Call,
    CreditRating,
    Declaration,
    DictItem,
    Enterprise,
    EnterpriseReview,
    ExportJob,
    InnovationVoucher,
    LibraryParam,
    Member,
    Person,
    ProgressReport,
    Region,
    ReviewRecord,
    Role,
    SecondaryUnit,
    Status,
    Unit,
    UnitRegistration,
    UnitRevenue,
    User,
)

EVERYTHING = frozenset({Role.bureau, Role.sysadmin})  # 全部


@dataclass(frozen=True)
class Principal:
    """The facts of a user that scope depends on, detached from any session."""

    user_id: int
    role: Role
    unit_id: Optional[int] = None
    secondary_unit_id: Optional[int] = None
    region_id: Optional[int] = None

    @classmethod
    def of(cls, user) -> "Principal":
        return cls(
            user_id=user.id,
            role=user.role,
            unit_id=user.unit_id,
            secondary_unit_id=user.secondary_unit_id,
            region_id=user.region_id,
        )


Rule = Callable[[Principal], ColumnElement[bool]]
_RULES: dict[type, Rule] = {}


def rule(*models: type) -> Callable[[Rule], Rule]:
    """Register the scope rule of one or more models."""

    def register(fn: Rule) -> Rule:
        for model in models:
            _RULES[model] = fn
        return fn

    return register


def predicate(principal: Optional[Principal], model: type) -> ColumnElement[bool]:
    """The rows of `model` that `principal` may see (and act on) as a WHERE clause."""
    if principal is None:
        return false()
    if principal.role in EVERYTHING:
        return true()
    fn = _RULES.get(model)
    return fn(principal) if fn else false()


def is_scoped(model: type) -> bool:
    return model in _RULES


def equals(column, value) -> ColumnElement[bool]:
    """`column = value`, but never `column IS NULL` when the user lacks the attribute."""
    return false() if value is None else column == value


def authority_units(p: Principal):
    """Ids of units under an authority: registered in its district or under it as competent department."""
    conditions = []
    if p.region_id is not None:
        conditions.append(Unit.region_id == p.region_id)
    if p.unit_id is not None:
        conditions.append(or_(Unit.competent_unit_id == p.unit_id, Unit.id == p.unit_id))
    if not conditions:
        return select(Unit.id).where(false())
    return select(Unit.id).where(or_(*conditions))


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
    own = Person.user_id == p.user_id
    if p.role == Role.applicant:
        return own
    return or_(own, in_unit_area(p, Person.unit_id, Person.secondary_unit_id))


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
    return false()


# -- units, people and accounts (issue 3) ---------------------------------------------------
@rule(UnitRegistration)
def _unit_registration(p: Principal) -> ColumnElement[bool]:
    """The registrant sees their own; the reviewer its routed ones; a unit admin its unit's."""
    from rules.registration import reviewer_predicate

    own = UnitRegistration.registrant_id == p.user_id
    if p.role == Role.authority:
        return or_(own, reviewer_predicate(p))
    if p.role == Role.unit_admin:
        return or_(own, equals(UnitRegistration.unit_id, p.unit_id))
    return own


# -- declarations and calls (issue 4) ------------------------------------------------------
@rule(Call)
def _call(p: Principal) -> ColumnElement[bool]:
    return true()  # calls are public notices


@rule(Declaration)
def _declaration(p: Principal) -> ColumnElement[bool]:
    """申报人: own; reviewers: submitted rows of their area (drafts stay private)."""
    if p.role == Role.applicant:
        return Declaration.applicant_id == p.user_id
    area = in_unit_area(p, Declaration.unit_id, Declaration.secondary_unit_id)
    return and_(area, Declaration.status != Status.draft)


def _of_declaration(column) -> Rule:
    return lambda p: column.in_(select(Declaration.id).where(_declaration(p)))


for _child, _col in (
    (ReviewRecord, ReviewRecord.declaration_id),
    (Member, Member.declaration_id),
    (BudgetItem, BudgetItem.declaration_id),
    (Attachment, Attachment.declaration_id),
    (ProgressReport, ProgressReport.declaration_id),
):
    rule(_child)(_of_declaration(_col))


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
