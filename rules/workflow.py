"""The declaration workflow (申报书审核流程) as a table, and the one function that applies it.

Read TRANSITIONS: (from states, action, who) → guards → to state. The review chain is data on
the call (`Call.review_chain`, e.g. ["dept", "unit", "authority", "bureau"]); the dept level
applies only when the applicant belongs to a secondary unit, and a level missing from the
chain is skipped. Every transition is a compare-and-set UPDATE plus one ReviewRecord and one
audit row in the caller's transaction.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Callable, Optional, Sequence

from sqlalchemy import bindparam, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, joinedload, load_only

from models import Call, Declaration, Level, ProgressReport, ProgressStatus, ReviewRecord, Role, Status, Unit

from . import audit, quotas, scope
from .audit import current_actor

S = Status
REVIEWING = frozenset({S.dept_review, S.unit_review, S.authority_review, S.bureau_review})
LEVEL_STATE = {Level.dept: S.dept_review, Level.unit: S.unit_review, Level.authority: S.authority_review, Level.bureau: S.bureau_review}
STATE_LEVEL = {state: level for level, state in LEVEL_STATE.items()}
LEVEL_ROLE = {Level.dept: Role.dept_admin, Level.unit: Role.unit_admin, Level.authority: Role.authority, Level.bureau: Role.bureau}
APPLICANT, AT_LEVEL = "applicant", "reviewer at the row's level"


@dataclass
class Context:
    """What a guard may look at: the row (fresh), its call, who acts, when, with which reason."""

    session: Session
    principal: scope.Principal
    declaration: Declaration
    now: datetime
    reason: str = ""

    @property
    def call(self) -> Call:
        return self.declaration.call


Guard = Callable[[Context], Optional[str]]  # None when fine, else the Chinese refusal


# -- guards --------------------------------------------------------------------------------
def call_open(c: Context) -> Optional[str]:
    call = c.call
    if not (call.opens_at <= c.now <= call.closes_at):
        return f"不在申报期内（本批次申报时间 {call.opens_at:%Y-%m-%d %H:%M} 至 {call.closes_at:%Y-%m-%d %H:%M}）"
    return None


def complete(c: Context) -> Optional[str]:
    errors = content_errors(c.declaration, c.call.required_fields)
    return "申报书未填写完整：" + "；".join(errors) if errors else None


def within_quota(c: Context) -> Optional[str]:
    d, call = c.declaration, c.call
    if not call.quota_rule:
        return None
    # Lock the unit's row so that two submissions of one unit cannot both take the last place.
    c.session.execute(select(Unit.id).where(Unit.id == d.unit_id).with_for_update())
    already = c.session.scalar(
        select(func.count()).select_from(Declaration).where(
            Declaration.call_id == call.id, Declaration.unit_id == d.unit_id,
            Declaration.status != S.draft, Declaration.id != d.id,
        )
    )
    revenue = quotas.last_year_revenue(c.session, d.unit_id, call.year - 1)
    return quotas.refusal(call.quota_rule, revenue.amount, call.year - 1, already, revenue.source)


def first_reviewer_not_acted(c: Context) -> Optional[str]:
    if c.declaration.status != first_state(c.declaration):
        return "上级单位已审核，不能撤回"
    return None


def reason_given(c: Context) -> Optional[str]:
    return None if c.reason.strip() else "请填写原因"


# -- targets -------------------------------------------------------------------------------
def levels_of(d: Declaration) -> list[Level]:
    """The call's chain as it applies to this row: dept only for applicants in a secondary unit."""
    chain = [Level(code) for code in (d.call.review_chain or [])]
    return [lv for lv in chain if lv != Level.dept or d.secondary_unit_id is not None]


def first_state(d: Declaration) -> Status:
    levels = levels_of(d)
    return LEVEL_STATE[levels[0]] if levels else S.approved


def next_state(d: Declaration) -> Status:
    levels = levels_of(d)
    current = STATE_LEVEL[d.status]
    later = levels[levels.index(current) + 1 :] if current in levels else []
    return LEVEL_STATE[later[0]] if later else S.approved


def to(state: Status) -> Callable[[Declaration], Status]:
    return lambda d: state


@dataclass(frozen=True)
class Transition:
    action: str
    label: str
    sources: frozenset
    who: str
    target: Callable[[Declaration], Status]
    guards: tuple[Guard, ...] = ()
    reason: Optional[tuple[str, bool]] = None  # (field label, required)


# fmt: off
TRANSITIONS: tuple[Transition, ...] = (
    #          action      label       from                          who        → to                   guards                                  reason
    Transition("submit",   "提交",     frozenset({S.draft, S.returned}), APPLICANT, first_state,         (call_open, complete, within_quota),    ("提交说明", False)),
    Transition("withdraw", "撤回",     REVIEWING,                    APPLICANT, to(S.draft),           (first_reviewer_not_acted,)),
    Transition("approve",  "审核通过", REVIEWING,                    AT_LEVEL,  next_state,            (),                                     ("推荐意见", False)),
    Transition("return",   "退回",     REVIEWING,                    AT_LEVEL,  to(S.returned),        (reason_given,),                        ("退回原因", True)),
    Transition("reject",   "不予立项", frozenset({S.bureau_review}), AT_LEVEL,  to(S.rejected),        (reason_given,),                        ("不予立项原因", True)),
)
# fmt: on
BY_ACTION = {t.action: t for t in TRANSITIONS}
EDITABLE = frozenset({S.draft, S.returned})


def status_label(status: Status, call: Optional[Call] = None) -> str:
    if status == S.authority_review and call is not None and call.authority_label:
        return call.authority_label
    return status.label


def who_refusal(t: Transition, p: scope.Principal, d: Declaration) -> Optional[str]:
    """Why this principal may not take `t` on `d` (None when they may)."""
    if t.who == APPLICANT:
        if p.role != Role.applicant or d.applicant_id != p.user_id:
            return f"只有申报人本人可以{t.label}"
        return None
    level = STATE_LEVEL.get(d.status)
    if level is None or LEVEL_ROLE[level] != p.role:
        return f"当前为{status_label(d.status, d.call)}环节，不在您的审核环节"
    return None


def allowed_actions(p: scope.Principal, d: Declaration) -> list[Transition]:
    """The transitions whose source and actor fit (guards are checked when acting): for buttons."""
    return [t for t in TRANSITIONS if d.status in t.sources and who_refusal(t, p, d) is None]


def can_edit(p: scope.Principal, d: Declaration) -> bool:
    return p.role == Role.applicant and d.applicant_id == p.user_id and d.status in EDITABLE


# -- acting --------------------------------------------------------------------------------
@dataclass
class Result:
    done: list[tuple[int, str]] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)


def act(session: Session, p: scope.Principal, ids: Sequence[int], action: str, reason: str = "", now: Optional[datetime] = None) -> Result:
    """Apply `action` to each row in `ids` inside `p`'s scope; refusals are collected, never raised.

    The caller commits. Rows are taken in id order so concurrent bulk actions lock in one order.
    """
    t = BY_ACTION[action]
    now = now or datetime.now()
    reason = (reason or "").strip()
    result, records, audits = Result(), [], []
    rows = session.scalars(
        select(Declaration)
        .where(Declaration.id.in_(list(ids)), scope.predicate(p, Declaration))
        .options(joinedload(Declaration.call), *_columns_for(t))
        .order_by(Declaration.id)
        .execution_options(populate_existing=True)
    ).all()
    for missing in sorted(set(ids) - {d.id for d in rows}):
        result.skipped.append((f"#{missing}", "记录不存在或无权访问"))
    groups: dict[tuple, list[Declaration]] = {}
    for d in rows:
        refusal = _refusal(t, Context(session, p, d, now, reason))
        if refusal:
            result.skipped.append((str(d), refusal))
        elif _needs_number(d, t.target(d)):  # one at a time: each draws its own 项目编号
            values = _side_effects(t, d, t.target(d), reason, now)
            won = _compare_and_set(session, p, d, d.status, t.target(d), values, now)
            _settle(session, p, t, d, d.status, t.target(d), values, reason, now, won, result, records, audits)
        else:
            groups.setdefault((d.status, t.target(d)), []).append(d)
    for (before, after), group in groups.items():  # one compare-and-set UPDATE … RETURNING per group
        values = _side_effects(t, group[0], after, reason, now)
        won = _compare_and_set_many(session, p, [d.id for d in group], before, after, values, now)
        for d in group:
            _settle(session, p, t, d, before, after, values, reason, now, d.id in won, result, records, audits)
    if records:
        session.execute(insert(ReviewRecord), records)
        audit.record_all(session, audits)
    session.expire_all()
    return result


def _columns_for(t: Transition) -> tuple:
    """Reviewers' actions read only the workflow columns; submission also checks the content."""
    if t.action == "submit":
        return ()
    return (load_only(Declaration.id, Declaration.status, Declaration.call_id, Declaration.applicant_id, Declaration.unit_id,
                      Declaration.secondary_unit_id, Declaration.name, Declaration.number, Declaration.unit_rank,
                      Declaration.authority_rank),)


def _settle(session, p, t, d, before, after, values, reason, now, won, result, records, audits) -> None:
    if not won:
        result.skipped.append((str(d), "已被他人处理，请刷新后查看"))
        return
    if after == S.returned:
        _close_rank_gaps(session, d)
    result.done.append((d.id, str(d)))
    records.append(_record(p, d, t, before, after, reason, now))
    audits.append(_audit(d, t, before, after, values, reason, now))


def _needs_number(d: Declaration, after: Status) -> bool:
    return not d.number and d.status in EDITABLE and after not in (S.draft, S.returned)


def _compare_and_set_many(session, p, ids, before, after, values, now, chunk=500) -> set[int]:
    """UPDATE … WHERE id IN (:ids) AND status = :expected (inside the scope) RETURNING id:
    still a compare-and-set per row — only the rows still in `before` move, and we learn which."""
    t = Declaration.__table__
    won: set[int] = set()
    for start in range(0, len(ids), chunk):
        stmt = (
            t.update()
            .where(t.c.id.in_(ids[start : start + chunk]), t.c.status == before, scope.predicate(p, Declaration))
            .values(status=after, updated_at=now, **values)
            .returning(t.c.id)
        )
        won.update(session.connection().execute(stmt).scalars())
    return won


def _refusal(t: Transition, c: Context) -> Optional[str]:
    d = c.declaration
    if d.status not in t.sources:
        return f"当前状态为“{status_label(d.status, d.call)}”，不能{t.label}"
    problem = who_refusal(t, c.principal, d)
    for guard in t.guards:
        problem = problem or guard(c)
    return problem


def _side_effects(t: Transition, d: Declaration, after: Status, reason: str, now: datetime) -> dict:
    if t.action == "submit":
        return {"submitted_at": now, "return_reason": None}
    if t.action == "return":
        return {"return_reason": reason, "unit_rank": None, "authority_rank": None}
    return {}


def _compare_and_set(session, p, d, before, after, values, now) -> bool:
    """UPDATE … WHERE id = :id AND status = :expected (inside the scope); a 项目编号 is drawn at
    first submission. The statement is built once per (principal, columns) and only re-bound."""
    params = {"id_": d.id, "expected_": before, "to_": after, "now_": now, **{f"v_{k}": v for k, v in values.items()}}
    if d.number or after in (S.draft, S.returned) or d.status not in EDITABLE:
        return session.connection().execute(_cas(p, tuple(values)), params).rowcount == 1
    stmt = _cas(p, (*values, "number"))
    for _attempt in range(50):  # another submitter may take the same number first: draw again
        number = next_number(session, d)
        try:
            with session.begin_nested():  # the SAVEPOINT is emitted when the session hands out its connection
                ok = session.connection().execute(stmt, {**params, "v_number": number}).rowcount == 1
        except IntegrityError:
            continue
        if ok:
            values["number"] = number
        return ok
    raise RuntimeError("无法分配项目编号")


@lru_cache(maxsize=256)
def _cas(p: scope.Principal, keys: tuple[str, ...]):
    t = Declaration.__table__
    assignments = {"status": bindparam("to_", type_=t.c.status.type), "updated_at": bindparam("now_", type_=t.c.updated_at.type)}
    assignments.update({k: bindparam(f"v_{k}", type_=t.c[k].type) for k in keys})
    return (
        t.update()
        .where(t.c.id == bindparam("id_"), t.c.status == bindparam("expected_", type_=t.c.status.type), scope.predicate(p, Declaration))
        .values(assignments)
    )


def number_prefix(d: Declaration) -> str:
    region = d.unit.region.code if d.unit and d.unit.region else "500000"
    return f"{d.call.year}{d.call.batch_code}{region}"


def next_number(session: Session, d: Declaration) -> str:
    """项目编号 = 年度 + 批次代码 + 区县代码 + 4位顺序号."""
    prefix = number_prefix(d)
    last = session.scalar(select(func.max(Declaration.number)).where(Declaration.number.like(prefix + "%")))
    seq = int(last[len(prefix):]) + 1 if last else 1
    return f"{prefix}{seq:04d}"


def _record(p, d, t, before, after, reason, now) -> dict:
    actor = current_actor()
    level = STATE_LEVEL.get(before) if t.who == AT_LEVEL else None
    return {
        "declaration_id": d.id, "at": now, "user_id": p.user_id, "actor_name": actor.username,
        "role": p.role.value, "level": level.value if level else None, "action": t.action,
        "from_status": before, "to_status": after, "opinion": reason or None,
    }


def _audit(d, t, before, after, values, reason, now) -> dict:
    extra = {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in values.items()}
    return audit.entry("update", "declaration", d.id, {"status": before.value}, {"status": after.value, **extra},
                       f"{t.label}：{d.name}" + (f"（{reason}）" if reason else ""), at=now)


# -- 推荐排序 (seed 002 §4.4, §5.4) ---------------------------------------------------------
RANK_LEVEL = {Role.unit_admin: Level.unit, Role.authority: Level.authority}
RANK_COLUMN = {Level.unit: Declaration.unit_rank, Level.authority: Declaration.authority_rank}


def ranked_states(call: Call, level: Level) -> frozenset:
    """States of rows that have passed `level` of the call's chain (approved there)."""
    chain = [Level(c) for c in call.review_chain or []]
    later = chain[chain.index(level) + 1 :] if level in chain else []
    return frozenset({LEVEL_STATE[lv] for lv in later} | {S.approved, S.rejected}) if level in chain else frozenset()


def rankable(session: Session, p: scope.Principal, call: Call, lock: bool = False) -> list[Declaration]:
    """The rows this reviewer ranks in a call, in their current order (unranked last)."""
    level = RANK_LEVEL.get(p.role)
    if level is None:
        return []
    column = RANK_COLUMN[level]
    stmt = (
        select(Declaration)
        .where(Declaration.call_id == call.id, Declaration.status.in_(ranked_states(call, level)), scope.predicate(p, Declaration))
        .order_by(column.is_(None), column, Declaration.id)
    )
    if lock:
        stmt = stmt.with_for_update()
    return list(session.scalars(stmt.execution_options(populate_existing=True)))


def rank(session: Session, p: scope.Principal, declaration_id: int, position: int, now: Optional[datetime] = None) -> tuple[bool, str]:
    """Put one row at `position` among its call's ranked rows; the others shift, ranks stay 1..n."""
    now = now or datetime.now()
    level = RANK_LEVEL.get(p.role)
    if level is None:
        return False, "只有单位管理员和主管部门可以推荐排序"
    d = session.scalar(select(Declaration).where(Declaration.id == declaration_id, scope.predicate(p, Declaration)))
    if d is None:
        return False, "记录不存在或无权访问"
    call = d.call
    if call.ranking_deadline is not None and now > call.ranking_deadline:
        return False, f"推荐排序已于 {call.ranking_deadline:%Y-%m-%d %H:%M} 截止"
    rows = rankable(session, p, call, lock=True)
    if d not in rows:
        return False, f"只能对本级审核通过的申报书排序（{d.name}）"
    if not 1 <= position <= len(rows):
        return False, f"序号应为 1 到 {len(rows)} 之间的整数"
    rows.remove(d)
    rows.insert(position - 1, d)
    column = RANK_COLUMN[level]
    changed = 0
    for number, row in enumerate(rows, start=1):
        old = getattr(row, column.key)
        if old != number:
            session.execute(update(Declaration).where(Declaration.id == row.id).values({column.key: number}).execution_options(synchronize_session=False))
            _audit_rank(session, row, column.key, old, number, now)
            changed += 1
    session.expire_all()
    return True, f"已将“{d.name}”排在第 {position} 位（共 {len(rows)} 项）"


def _audit_rank(session, row, key, old, new, now) -> None:
    audit.record_all(session, [audit.entry("update", "declaration", row.id, {key: old}, {key: new}, f"推荐排序：{row.name} → 第 {new} 位", at=now)])


def _close_rank_gaps(session: Session, d: Declaration) -> None:
    """A returned row leaves the ranking: the rows ranked after it move up one place."""
    if d.unit_rank is not None:
        session.execute(
            update(Declaration)
            .where(Declaration.call_id == d.call_id, Declaration.unit_id == d.unit_id, Declaration.unit_rank > d.unit_rank)
            .values(unit_rank=Declaration.unit_rank - 1).execution_options(synchronize_session=False)
        )
    if d.authority_rank is not None:
        unit = d.unit
        key = Unit.competent_unit_id == unit.competent_unit_id if unit.competent_unit_id else Unit.region_id == unit.region_id
        session.execute(
            update(Declaration)
            .where(Declaration.call_id == d.call_id, Declaration.authority_rank > d.authority_rank,
                   Declaration.unit_id.in_(select(Unit.id).where(key)))
            .values(authority_rank=Declaration.authority_rank - 1).execution_options(synchronize_session=False)
        )


# -- 申报书 content checks at submission (保存 does not check them) ----------------------------
FIELD_LABELS = {
    "name": "项目名称", "leader": "项目负责人", "leader_phone": "负责人电话", "summary": "项目简介",
    "innovation": "项目创新内容及技术指标", "tech_level_id": "项目技术水平", "industry_category_id": "产业类别",
    "start_month": "项目起始时间", "end_month": "项目截止时间", "innovation_mode": "项目创新方式",
    "new_tech_desc": "新技术描述",
}
LENGTHS = {"summary": (0, 100), "innovation": (150, 200), "new_tech_desc": (0, 100)}


def content_errors(d: Declaration, required: Optional[Sequence[str]] = None) -> list[str]:
    from models import DEFAULT_REQUIRED

    errors = []
    for name in required if required is not None else DEFAULT_REQUIRED:
        value = getattr(d, name, None)
        if value is None or (isinstance(value, str) and not value.strip()):
            errors.append(f"{FIELD_LABELS.get(name, name)}未填写")
    for name, (low, high) in LENGTHS.items():
        text = (getattr(d, name) or "").strip()
        if text and not low <= len(text) <= high:
            errors.append(f"{FIELD_LABELS[name]}应为{f'{low}-' if low else ''}{high}字以内（现为{len(text)}字）")
    if d.start_month and d.end_month and d.start_month > d.end_month:
        errors.append("项目起始时间不能晚于截止时间")
    return errors


# -- 调度填报 (seed 003 §3): the progress report's own small table --------------------------
R = ProgressStatus
# fmt: off
REPORT_TRANSITIONS = {
    #  action     from                          → to           who                                       label         reason
    "submit":  (frozenset({R.draft, R.returned}), R.submitted, frozenset({Role.applicant}),              "上报至县区", None),
    "approve": (frozenset({R.submitted}),        R.approved,  frozenset({Role.authority, Role.bureau}), "审核通过",   ("审核意见", False)),
    "return":  (frozenset({R.submitted}),        R.returned,  frozenset({Role.authority, Role.bureau}), "退回",       ("退回原因", True)),
}
# fmt: on


def report_window_refusal(call: Call, now: datetime) -> Optional[str]:
    if not call.report_opens_at or not call.report_closes_at:
        return "本批次未开放调度填报"
    if not call.report_opens_at <= now <= call.report_closes_at:
        return f"不在调度填报期内（{call.report_opens_at:%Y-%m-%d} 至 {call.report_closes_at:%Y-%m-%d}）"
    return None


def act_report(session: Session, p: scope.Principal, ids: Sequence[int], action: str, reason: str = "", now: Optional[datetime] = None) -> Result:
    sources, target, roles, text, reason_spec = REPORT_TRANSITIONS[action]
    now, reason, result = now or datetime.now(), (reason or "").strip(), Result()
    rows = session.scalars(
        select(ProgressReport).where(ProgressReport.id.in_(list(ids)), scope.predicate(p, ProgressReport)).order_by(ProgressReport.id)
        .execution_options(populate_existing=True)
    ).all()
    for r in rows:
        d = r.declaration
        problem = None
        if r.status not in sources:
            problem = f"当前状态为“{r.status.label}”，不能{text}"
        elif p.role not in roles or (p.role == Role.applicant and d.applicant_id != p.user_id):
            problem = f"您无权{text}"
        elif action == "submit":
            problem = report_window_refusal(d.call, now) or (None if d.status == S.approved else "只有已立项项目可以调度填报")
        elif reason_spec and reason_spec[1] and not reason:
            problem = f"请填写{reason_spec[0]}"
        if problem:
            result.skipped.append((str(r), problem))
            continue
        values = {"status": target, "updated_at": now}
        values.update({"submitted_at": now, "return_reason": None} if action == "submit" else {})
        values.update({"return_reason": reason} if action == "return" else {})
        rc = session.execute(
            update(ProgressReport).where(ProgressReport.id == r.id, ProgressReport.status == r.status).values(**values)
            .execution_options(synchronize_session=False)
        ).rowcount
        if rc != 1:
            result.skipped.append((str(r), "已被他人处理，请刷新后查看"))
            continue
        audit.record_all(session, [audit.entry(
            "update", "progress_report", r.id, {"status": r.status.value},
            {"status": target.value, "return_reason": values.get("return_reason")},
            f"调度填报{text}：{r}" + (f"（{reason}）" if reason else ""), at=now,
        )])
        result.done.append((r.id, str(r)))
    session.expire_all()
    return result
