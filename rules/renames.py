"""企业更名管理 (seed 003, issue #14): an enterprise asks to change its name with proof, its district
decides; approval writes the new name on the enterprise and its unit and keeps the old one as a
period of the name history, so that lists show each record under the name valid at its date.

变更日期 is the day the new name took effect at the registration authority (营业执照的变更日期): it
may not be in the future — the proof of an approved change is what the district checks — and must
fall after the start of the enterprise's current name.
"""
from __future__ import annotations

from datetime import date, timedelta
from typing import Any, Callable, Iterable, Optional

from sqlalchemy import func, insert, or_, select, true, update
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, object_session

from models import (
    AnnualReport, CreditRating, Declaration, Enterprise, EnterpriseName, EnterpriseRename, EnterpriseReview, RenameStatus, Role, Unit,
)

from . import audit, display, scope
from .transitions import Context, Effect, Machine, Reason, Refused, Transition, Who, lock
from .validators import YEAR_MAX, YEAR_MIN, has_control_chars

S = RenameStatus
FILLERS = scope.FILLERS
OPEN = frozenset({S.draft, S.pending, S.returned})
EDITABLE = frozenset({S.draft, S.returned})
NAME_MAX = EnterpriseRename.__table__.c.new_name.type.length


# -- the name valid at a date ---------------------------------------------------------------------
def _pick(periods: list, current: Optional[str], on: Optional[date]) -> Optional[str]:
    """The period covering `on` (latest start first); the current name when none does."""
    if on is None:
        return current
    for start, end, name in sorted(periods, key=lambda p: p[0] or date.min, reverse=True):
        if (start is None or start <= on) and (end is None or end >= on):
            return name
    return current


def names_at(session: Session, wanted: Iterable[tuple[int, Optional[date]]]) -> dict[tuple[int, Optional[date]], str]:
    """(enterprise id, date) → the enterprise's name on that date, for a page of rows in two queries."""
    wanted = {w for w in wanted if w[0] is not None}
    ids = {eid for eid, _ in wanted}
    if not ids:
        return {}
    current = dict(session.execute(select(Enterprise.id, Enterprise.name).where(Enterprise.id.in_(ids))).all())
    periods: dict[int, list] = {}
    rows = session.execute(select(EnterpriseName.enterprise_id, EnterpriseName.valid_from, EnterpriseName.valid_to, EnterpriseName.name)
                           .where(EnterpriseName.enterprise_id.in_(ids)))
    for eid, start, end, name in rows:
        periods.setdefault(eid, []).append((start, end, name))
    return {(eid, on): _pick(periods.get(eid, []), current.get(eid), on) for eid, on in wanted}


def name_at(session: Session, enterprise_id: int, on: Optional[date]) -> Optional[str]:
    """The enterprise's name on `on` (its current name where the history does not reach)."""
    return names_at(session, [(enterprise_id, on)]).get((enterprise_id, on))


def former_names(session: Session, enterprise_id: int) -> list[EnterpriseName]:
    """曾用名: the closed periods, latest first."""
    return list(session.scalars(select(EnterpriseName).where(EnterpriseName.enterprise_id == enterprise_id,
                                                             EnterpriseName.valid_to.is_not(None))
                                .order_by(EnterpriseName.valid_to.desc(), EnterpriseName.id.desc())))


def period_text(start: Optional[date], end: Optional[date]) -> str:
    return f"{start.isoformat() if start else '成立'} 至 {end.isoformat() if end else '今'}"


def name_on_sql(enterprise_id, fallback, on: date):
    """`name_at` as a SQL expression, for lists computed in SQL (the libraries): the period covering
    `on`, else `fallback` (the enterprise's current name)."""
    n = EnterpriseName
    found = (select(n.name).where(n.enterprise_id == enterprise_id, or_(n.valid_from.is_(None), n.valid_from <= on),
                                  or_(n.valid_to.is_(None), n.valid_to >= on))
             .order_by(n.valid_from.desc().nulls_last(), n.id.desc()).limit(1).scalar_subquery())
    return func.coalesce(found, fallback)


def former_name_match(pattern: str):
    """Enterprises that once carried a name matching the LIKE `pattern` (ESCAPE '\\'): the list's search."""
    return Enterprise.id.in_(select(EnterpriseName.enterprise_id).where(EnterpriseName.name.ilike(pattern, escape="\\")))


_NAMES = "names_at"  # session.info key: (transaction, model, {(enterprise id, date): name})


def name_reader(model: type, day_of: Callable[[Any], Optional[date]]) -> Callable[[Any], Optional[str]]:
    """A rules.display reader: the row's enterprise under the name valid on `day_of(row)`. The first
    row of a list page or an export chunk reads the names of every `model` row the session holds
    (two queries), the others find theirs there."""

    def read(row) -> Optional[str]:
        session = object_session(row)
        key = (row.enterprise_id, day_of(row))
        if session is None:
            return row.enterprise.name if row.enterprise is not None else None
        txn = session.get_transaction()
        kept = session.info.get(_NAMES)
        if kept is None or kept[0] is not txn:
            kept = session.info[_NAMES] = (txn, {})
        names = kept[1]
        if key not in names:
            held = [o for o in list(session.identity_map.values()) if isinstance(o, model)]
            wanted = {(sa_inspect(o).dict.get("enterprise_id"), day_of(o)) for o in held} | {key}
            with session.no_autoflush:
                names.update(names_at(session, wanted - names.keys()))
        return names.get(key)

    return read


def _year_end(row) -> Optional[date]:
    """A yearly record (年报, 信用评级) reads under the name the enterprise had at the end of that year."""
    return date(row.year, 12, 31) if row.year and YEAR_MIN <= row.year <= YEAR_MAX else None


display.reads(AnnualReport, "enterprise")(name_reader(AnnualReport, _year_end))
display.reads(CreditRating, "enterprise")(name_reader(CreditRating, _year_end))


_FORMER = "former_names"  # session.info key: (transaction, {enterprise id: text})


_UNITS = "unit_names_at"  # session.info key: (transaction, {(unit id, date): name})


def _declared_on(d: Declaration) -> Optional[date]:
    at = d.submitted_at or d.created_at
    return at.date() if at else None


@display.reads(Declaration, "unit")
def _declaring_unit_read(d: Declaration) -> Optional[str]:
    """申报单位 under the name it had when the declaration was submitted (created, for a draft): a unit
    that is an enterprise takes the enterprise's name history (renamed together); any other unit
    reads its name. The first row of a page reads those of every declaration the session holds."""
    session = object_session(d)
    if session is None or d.unit_id is None:
        return d.unit.name if d.unit is not None else None
    txn = session.get_transaction()
    kept = session.info.get(_UNITS)
    if kept is None or kept[0] is not txn:
        kept = session.info[_UNITS] = (txn, {})
    names = kept[1]
    key = (d.unit_id, _declared_on(d))
    if key not in names:
        held = {(sa_inspect(o).dict.get("unit_id"), _declared_on(o)) for o in list(session.identity_map.values())
                if isinstance(o, Declaration)} - names.keys() | {key}
        units = {u for u, _ in held if u is not None}
        with session.no_autoflush:
            unit_names = dict(session.execute(select(Unit.id, Unit.name).where(Unit.id.in_(units))).all())
            enterprise_of = dict(session.execute(select(Enterprise.unit_id, Enterprise.id).where(Enterprise.unit_id.in_(units))).all())
            found = names_at(session, {(enterprise_of[u], on) for u, on in held if u in enterprise_of})
        names.update({(u, on): found.get((enterprise_of[u], on)) if u in enterprise_of else unit_names.get(u) for u, on in held})
    return names.get(key)


@display.reads(Enterprise, "former_names")
def _former_names_read(e: Enterprise) -> str:
    """曾用名 with their periods, e.g. 重庆渝北智联信息技术有限公司（2015-03-01 至 2021-06-30）; an
    export reads those of every enterprise its chunk holds at once."""
    session = object_session(e)
    if session is None:
        return ""
    txn = session.get_transaction()
    kept = session.info.get(_FORMER)
    if kept is None or kept[0] is not txn:
        kept = session.info[_FORMER] = (txn, {})
    texts = kept[1]
    if e.id not in texts:
        held = {o.id for o in list(session.identity_map.values()) if isinstance(o, Enterprise)} - texts.keys() | {e.id}
        found: dict[int, list] = {}
        with session.no_autoflush:
            for n in session.scalars(select(EnterpriseName).where(EnterpriseName.enterprise_id.in_(held), EnterpriseName.valid_to.is_not(None))
                                     .order_by(EnterpriseName.valid_to.desc(), EnterpriseName.id.desc())):
                found.setdefault(n.enterprise_id, []).append(f"{n.name}（{period_text(n.valid_from, n.valid_to)}）")
        texts.update({i: "；".join(found.get(i, [])) or "无" for i in held})
    return texts[e.id]


@display.reads(EnterpriseRename, "requested_by")
def _requester_read(r: EnterpriseRename) -> str:
    return display.actor_label(r.requested_by)


@display.reads(EnterpriseRename, "requested_at")
def _requested_at_read(r: EnterpriseRename) -> str:
    return r.requested_at.strftime("%Y-%m-%d %H:%M") if r.requested_at else ""


# -- asking ---------------------------------------------------------------------------------------
def own_enterprise(session: Session, p) -> Optional[Enterprise]:
    """The enterprise of the user's unit (the enterprise side asks for its own name only)."""
    if p is None or p.role not in FILLERS or p.unit_id is None:
        return None
    return session.scalar(select(Enterprise).where(Enterprise.unit_id == p.unit_id))


def open_request(session: Session, enterprise_id: int, other_than: Optional[int] = None) -> Optional[EnterpriseRename]:
    query = select(EnterpriseRename).where(EnterpriseRename.enterprise_id == enterprise_id, EnterpriseRename.status.in_(OPEN))
    if other_than is not None:
        query = query.where(EnterpriseRename.id != other_than)
    return session.scalars(query.order_by(EnterpriseRename.id)).first()


def current_start(session: Session, enterprise_id: int) -> Optional[date]:
    """When the enterprise's current name started (None: since it was founded, or unknown)."""
    return session.scalar(select(func.max(EnterpriseName.valid_from)).where(EnterpriseName.enterprise_id == enterprise_id,
                                                                           EnterpriseName.valid_to.is_(None)))


def name_taken(session: Session, enterprise: Enterprise, new_name: str) -> Optional[str]:
    """The new name may be no other enterprise's nor any unit's but the enterprise's own."""
    if session.scalar(select(Enterprise.id).where(Enterprise.name == new_name, Enterprise.id != enterprise.id)):
        return f"企业名称“{new_name}”已被其他企业使用"
    others = Unit.id != enterprise.unit_id if enterprise.unit_id is not None else true()
    if session.scalar(select(Unit.id).where(Unit.name == new_name, others)):
        return f"单位名称“{new_name}”已被其他单位使用"
    return None


def request_problems(session: Session, enterprise: Enterprise, new_name: Optional[str], valid_from: Optional[date],
                     rename_id: Optional[int] = None, today: Optional[date] = None) -> dict[str, str]:
    """What is wrong with a request, by field (new_name, valid_from; "" for the request as a whole)."""
    problems: dict[str, str] = {}
    name = (new_name or "").strip()
    if not name:
        problems["new_name"] = "请填写新名称"
    elif len(name) > NAME_MAX or has_control_chars(name):
        problems["new_name"] = f"新名称最多 {NAME_MAX} 个字，且不能包含不可见的控制字符"
    elif name == enterprise.name:
        problems["new_name"] = "新名称与企业当前名称相同"
    elif taken := name_taken(session, enterprise, name):
        problems["new_name"] = taken
    if valid_from is None:
        problems["valid_from"] = "请填写变更日期"
    elif not YEAR_MIN <= valid_from.year <= YEAR_MAX:
        problems["valid_from"] = f"变更日期应在 {YEAR_MIN} 年至 {YEAR_MAX} 年之间"
    elif valid_from > (today or date.today()):
        problems["valid_from"] = "变更日期不能晚于今天（请在工商变更登记核准后申请）"
    elif (start := current_start(session, enterprise.id)) is not None and valid_from <= start:
        problems["valid_from"] = f"变更日期须晚于当前名称的启用日期 {start.isoformat()}"
    waiting = open_request(session, enterprise.id, other_than=rename_id)
    if waiting is not None:
        problems[""] = f"已有{waiting.status.label}的更名申请（{waiting.old_name} → {waiting.new_name}），请处理完后再申请"
    return problems


# -- the review as a transition table ------------------------------------------------------------
def _still_valid(c: Context) -> Optional[str]:
    """At 提交 and at 审核通过: the request still makes sense against the enterprise as it is now."""
    enterprise = c.session.get(Enterprise, c.row.enterprise_id)
    problems = request_problems(c.session, enterprise, c.row.new_name, c.row.valid_from, rename_id=c.row.id,
                                today=c.now.date())
    if c.transition.action == "approve" and enterprise.name != c.row.old_name:
        return f"企业名称已变为“{enterprise.name}”，与申请时的原名称不符，请退回重新提交"
    return next(iter(problems.values()), None)


def _has_proof(c: Context) -> Optional[str]:
    return None if c.row.files else "请先上传证明材料（如变更后的营业执照、核准变更登记通知书）"


def _submitted(c: Context) -> dict:
    """提交 copies the enterprise's name as 原名称 afresh and stamps 申请人/申请时间."""
    name = c.session.scalar(select(Enterprise.name).where(Enterprise.id == c.row.enterprise_id))
    return {"old_name": name, "requested_at": c.now, "requested_by_id": c.principal.user_id, "reason": None}


def _rename(c: Context) -> None:
    """The new name becomes the enterprise's and its unit's; the old one closes at 变更日期−1."""
    r, table = c.row, Enterprise.__table__
    lock(c.session, Enterprise, r.enterprise_id)
    enterprise = c.session.execute(select(table.c.unit_id, table.c.registered_on).where(table.c.id == r.enterprise_id)).one()
    closed = c.session.execute(
        update(EnterpriseName.__table__).where(EnterpriseName.__table__.c.enterprise_id == r.enterprise_id,
                                               EnterpriseName.__table__.c.valid_to.is_(None))
        .values(valid_to=r.valid_from - timedelta(days=1))).rowcount
    periods = [] if closed else [{"enterprise_id": r.enterprise_id, "name": r.old_name, "valid_to": r.valid_from - timedelta(days=1),
                                  "valid_from": enterprise.registered_on if enterprise.registered_on and enterprise.registered_on < r.valid_from else None}]
    periods.append({"enterprise_id": r.enterprise_id, "name": r.new_name, "valid_from": r.valid_from, "valid_to": None})
    c.session.execute(insert(EnterpriseName), periods)
    try:
        with c.session.begin_nested():
            done = c.session.execute(update(table).where(table.c.id == r.enterprise_id, table.c.name == r.old_name)
                                     .values(name=r.new_name, updated_at=c.now)).rowcount
            if enterprise.unit_id is not None:
                c.session.execute(update(Unit.__table__).where(Unit.__table__.c.id == enterprise.unit_id)
                                  .values(name=r.new_name, updated_at=c.now))
    except IntegrityError:  # the name taken at the same moment by another enterprise or unit
        raise Refused(f"名称“{r.new_name}”已被其他企业或单位使用，不能审核通过") from None
    if done != 1:
        raise Refused("企业名称在提交后已被修改，请退回重新提交")
    summary = f"企业更名审核通过：{r.old_name} → {r.new_name}（变更日期 {r.valid_from.isoformat()}）"
    c.audits.append(audit.entry("update", "enterprise", r.enterprise_id, {"name": r.old_name}, {"name": r.new_name}, summary, at=c.now))
    if enterprise.unit_id is not None:
        c.audits.append(audit.entry("update", "unit", enterprise.unit_id, {"name": r.old_name}, {"name": r.new_name}, summary, at=c.now))


def _review_record(c: Context):
    """审批意见 in enterprise_review (visible wherever the enterprise is)."""
    return EnterpriseReview, {
        "target": "enterprise_rename", "target_id": c.row.id, "enterprise_id": c.row.enterprise_id,
        "level": "企业提交" if c.transition.action == "submit" else "区县审核", "action": c.transition.action,
        "from_status": c.before.value, "to_status": c.after.value, "opinion": c.reason or None,
        "user_id": c.principal.user_id, "username": audit.current_actor().username, "at": c.now,
    }


ENTERPRISE_SIDE = Who(FILLERS, None, "企业（单位管理员、填报用户）")
DISTRICT = Who(frozenset({Role.authority}), None, "企业所属区县科技局")
REVIEWED_BY = Effect("记审核人与审核时间", set=lambda c: {"reviewed_at": c.now, "reviewed_by_id": c.principal.user_id})
REASON = Effect("记审核意见", set=lambda c: {"reason": c.reason or None})

# fmt: off
RENAMES = Machine("enterprise_rename", EnterpriseRename, "status", (
    #          action     label         from                        who             → to         guards                     effects
    Transition("submit",  "提交",       EDITABLE,                   ENTERPRISE_SIDE, S.pending,  (_has_proof, _still_valid),
               (Effect("记原名称、申请人与申请时间", set=_submitted),), None, confirm="提交后将由企业所属区县审核，确定提交？"),
    Transition("approve", "审核通过",   frozenset({S.pending}),     DISTRICT,        S.approved, (_still_valid,),
               (REVIEWED_BY, REASON, Effect("企业与对应单位改用新名称，原名称记为曾用名（至变更日期前一日）", after=_rename)),
               Reason("审核意见"), confirm="确定审核通过所选更名申请？通过后企业与单位即改用新名称。"),
    Transition("return",  "退回",       frozenset({S.pending}),     DISTRICT,        S.returned, (),
               (REVIEWED_BY, REASON), Reason("退回原因", True)),
    Transition("reject",  "审核不通过", frozenset({S.pending}),     DISTRICT,        S.rejected, (),
               (REVIEWED_BY, REASON), Reason("审核意见（不通过原因）", True)),
), editable={FILLERS: EDITABLE}, record=_review_record,
   row_label=lambda r: f"{r.old_name} → {r.new_name}")
# fmt: on


def reviews_of(session: Session, rename_id: int) -> list[EnterpriseReview]:
    return list(session.scalars(select(EnterpriseReview).where(EnterpriseReview.target == "enterprise_rename",
                                                               EnterpriseReview.target_id == rename_id)
                                .order_by(EnterpriseReview.at, EnterpriseReview.id)))
