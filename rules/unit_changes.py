"""单位信息变更 (issue #12): a unit admin's change of 所在区县, 主管部门, 单位性质 or 统一社会信用代码 waits
for the authority that would own the unit afterwards; the old values stay in force until it approves.

The request is created pending by `request_change` (one per unit: a second one is refused while
the first waits); its review is a transition table of the one engine. Routing follows seed 002
§6 1.5 with the unit's new values: 市级主管部门、留创园 → 市局; a unit with a 主管部门 → that
department; else the district of its (new) 所在区县.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any, Optional

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, object_session

from models import ChangeStatus, DictItem, Region, RegistrationRoute, ReviewLog, Role, Unit, UnitChange
from rules import audit, display
from rules.registration import route_for
from rules.scope import Principal, predicate, unit_change_reviewer
from rules.transitions import Context, Effect, Machine, Reason, Refused, Transition, Who, review_log, reviewer
from rules.validators import uscc_error

# The fields whose change moves the unit to another authority's care.
REVIEWED = ("region_id", "competent_unit_id", "nature_id", "uscc")
LABELS = {f: Unit.__table__.c[f].info["label"] for f in REVIEWED}
CITY = "市局"
SUBMIT_LABEL = "提交变更"


def current_values(unit: Unit) -> dict[str, Any]:
    return {f: getattr(unit, f) for f in REVIEWED}


def _clean(field: str, value):
    if value in ("", None):
        return None
    if field == "uscc":
        return str(value).strip().upper()
    return int(value)


def pending_of(session: Session, unit_id: int, p: Optional[Principal] = None) -> Optional[UnitChange]:
    """The change waiting for the unit (inside `p`'s scope when given)."""
    query = select(UnitChange).where(UnitChange.unit_id == unit_id, UnitChange.status == ChangeStatus.pending)
    if p is not None:
        query = query.where(predicate(p, UnitChange))
    return session.scalars(query).first()


# -- routing: the receiving authority decides ---------------------------------------------------
def routing(session: Session, unit: Unit, changes: dict) -> tuple[Optional[int], Optional[int]]:
    """(reviewer_unit_id, reviewer_region_id) of the authority that would own the unit after the
    change; both None: the city bureau."""
    new = {**current_values(unit), **changes}
    nature = session.get(DictItem, new["nature_id"]) if new["nature_id"] else None
    if route_for(nature.name if nature is not None else None) == RegistrationRoute.city:
        return None, None
    if new["competent_unit_id"]:
        return new["competent_unit_id"], None
    return None, new["region_id"]


def reviewer_name(session: Session, change: UnitChange) -> str:
    """审核单位 in words: the competent department, the district, or 市局."""
    if change.reviewer_unit_id is not None:
        unit = session.get(Unit, change.reviewer_unit_id)
        return unit.name if unit else ""
    if change.reviewer_region_id is not None:
        region = session.get(Region, change.reviewer_region_id)
        return region.name if region else ""
    return CITY


def shown(session: Session, field: str, value) -> str:
    """A value as users read it: names, never ids."""
    if value in (None, ""):
        return "（空）"
    model = {"region_id": Region, "nature_id": DictItem, "competent_unit_id": Unit}.get(field)
    if model is None:
        return str(value)
    row = session.get(model, value)
    return row.name if row is not None else "（已删除）"


def describe(session: Session, change: UnitChange) -> list[tuple[str, str, str]]:
    """(字段, 原值, 新值) of a change, in the order of the form."""
    old = change.old_values or {}
    return [(LABELS[f], shown(session, f, old.get(f)), shown(session, f, change.changes[f])) for f in REVIEWED if f in (change.changes or {})]


def summary(session: Session, change: UnitChange, sep: str = "；") -> str:
    """e.g. 单位所在区县：渝北区 → 江北区"""
    return sep.join(f"{label}：{old} → {new}" for label, old, new in describe(session, change))


def notice(session: Session, change: UnitChange) -> str:
    """The unit's details page: 有待审核的单位信息变更：单位所在区县 渝北区 → 江北区（待江北区审核）"""
    parts = "；".join(f"{label} {old} → {new}" for label, old, new in describe(session, change))
    return f"有待审核的单位信息变更：{parts}（待{reviewer_name(session, change)}审核）"


@display.reads(UnitChange, "changes")
def _changes_read(change: UnitChange) -> str:
    return summary(object_session(change), change)


@display.reads(UnitChange, "reviewer")
def _reviewer_read(change: UnitChange) -> str:
    return reviewer_name(object_session(change), change)


@display.reads(UnitChange, "requested_by")
def _requester_read(change: UnitChange) -> str:
    return display.actor_label(change.requested_by)  # 姓名（单位/二级单位）, not the login


# -- asking for a change ---------------------------------------------------------------------------
def request_change(session: Session, p: Principal, unit: Unit, values: dict[str, Any],
                   now: Optional[datetime] = None) -> Optional[UnitChange]:
    """A unit admin's save: the reviewed fields that differ from the unit's become one pending
    change (recorded as 提交变更 in review_log; the audit listener writes its create row). Returns
    None when no reviewed field changed, the waiting change when the same one is saved again;
    another change while one waits is refused."""
    now = now or datetime.now()
    current = current_values(unit)
    changes = {f: _clean(f, values[f]) for f in REVIEWED if f in values and _clean(f, values[f]) != current[f]}
    if not changes:
        return None
    waiting = pending_of(session, unit.id)
    if waiting is not None:
        if waiting.changes == changes:
            return waiting
        raise Refused(f"已有待审核的单位信息变更（{summary(session, waiting)}），请等待审核结果或先撤回后再提交",
                      field=next(iter(changes)))
    if "uscc" in changes:
        problem = uscc_error(changes["uscc"]) if changes["uscc"] else "请填写统一社会信用代码"
        problem = problem or _uscc_taken(session, unit.id, changes["uscc"])
        if problem:
            raise Refused(problem, field="uscc")
    reviewer_unit_id, reviewer_region_id = routing(session, unit, changes)
    change = UnitChange(unit_id=unit.id, requested_by_id=p.user_id, changes=changes,
                        old_values={f: current[f] for f in changes}, reviewer_unit_id=reviewer_unit_id,
                        reviewer_region_id=reviewer_region_id, status=ChangeStatus.pending, submitted_at=now)
    try:
        with session.begin_nested():
            session.add(change)
            session.flush()
    except IntegrityError:  # another change of the unit saved at the same moment (uq_unit_change_pending)
        raise Refused("已有待审核的单位信息变更，请刷新后查看", field=next(iter(changes))) from None
    session.add(ReviewLog(target="unit_change", target_id=change.id, action="submit", from_status="",
                          to_status=ChangeStatus.pending.value, user_id=p.user_id,
                          username=audit.current_actor().username, role=p.role.value, at=now))
    session.flush()
    return change


def _uscc_taken(session: Session, unit_id: int, uscc: Optional[str]) -> Optional[str]:
    if uscc and session.scalar(select(Unit.id).where(Unit.uscc == uscc, Unit.id != unit_id)):
        return "该统一社会信用代码已被其他单位使用"
    return None


# -- the review as a transition table ------------------------------------------------------------
S = ChangeStatus


def _not_mine(c: Context) -> str:
    return f"应由{reviewer_name(c.session, c.row)}审核"


def _own_unit(c: Context) -> Optional[str]:
    return None if c.row.unit_id == c.principal.unit_id else "只能撤回本单位的变更申请"


def _uscc_free(c: Context) -> Optional[str]:
    """Re-checked at approval: the code may have been taken since the request."""
    if "uscc" not in (c.row.changes or {}):
        return None
    problem = _uscc_taken(c.session, c.row.unit_id, c.row.changes["uscc"])
    return f"{problem}，不能审核通过" if problem else None


def _eq(column, value):
    return column.is_(None) if value is None else column == value


def _apply_to_unit(c: Context) -> None:
    """The changes become the unit's, compare-and-set on the values they replace: a unit changed
    meanwhile (e.g. by the system administrator) is not overwritten blind."""
    changes, old = dict(c.row.changes), dict(c.row.old_values or {})
    table = Unit.__table__
    stmt = (update(table).where(table.c.id == c.row.unit_id, *(_eq(table.c[f], old.get(f)) for f in changes))
            .values(**changes, updated_at=c.now))
    try:
        with c.session.begin_nested():
            done = c.session.connection().execute(stmt).rowcount
    except IntegrityError:  # the 统一社会信用代码 taken at the same moment
        raise Refused("该统一社会信用代码已被其他单位使用，不能审核通过") from None
    if done != 1:
        raise Refused("单位信息在提交变更后已被修改，请撤回后重新提交")
    name = c.session.scalar(select(Unit.name).where(Unit.id == c.row.unit_id))
    c.audits.append(audit.entry("update", "unit", c.row.unit_id, {f: old.get(f) for f in changes}, changes,
                                f"单位信息变更审核通过：{name}（{summary(c.session, c.row)}）", at=c.now))


REQUESTER = Who(frozenset({Role.unit_admin}), _own_unit, "本单位管理员")
REVIEWER = reviewer(frozenset({Role.authority, Role.bureau, Role.sysadmin}), unit_change_reviewer, _not_mine,
                    "接收单位的审核单位：变更后的主管部门、所在区县，或市局（市级主管部门、留创园）")
REVIEWED_BY = Effect("记审核人与审核时间", set=lambda c: {"reviewed_at": c.now, "reviewed_by_id": c.principal.user_id})

# fmt: off
UNIT_CHANGES = Machine("unit_change", UnitChange, "status", (
    #          action      label         from                   who        → to          guards          effects
    Transition("approve",  "审核通过",   frozenset({S.pending}), REVIEWER,  S.approved,  (_uscc_free,),
               (REVIEWED_BY, Effect("变更写入单位（按提交时的原值比对），单位改由新的审核单位管理", after=_apply_to_unit)),
               None, confirm="确定审核通过所选单位信息变更？通过后单位按新信息管理。"),
    Transition("reject",   "审核不通过", frozenset({S.pending}), REVIEWER,  S.rejected,  (),
               (REVIEWED_BY, Effect("记不通过原因；单位信息不变", set=lambda c: {"reason": c.reason})),
               Reason("审核意见（不通过原因）", True)),
    Transition("withdraw", "撤回",       frozenset({S.pending}), REQUESTER, S.withdrawn, (),
               (Effect("记撤回时间；单位信息不变", set=lambda c: {"reviewed_at": c.now, "reviewed_by_id": c.principal.user_id}),),
               None, confirm="确定撤回所选单位信息变更申请？", verb="撤回"),
), record=review_log("unit_change"), row_label=lambda ch: ch.unit.name if ch.unit else f"#{ch.id}",
   audit_before=lambda c: {"changes": audit.jsonable(c.row.changes)})
# fmt: on
