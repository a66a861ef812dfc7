"""The one transition engine: every record that moves through review declares a `Machine` (its
states and transitions as data) and `apply` alone changes its status.

A transition reads as one row: from states, action, label (the manuals' words), who may take it
(roles, and the row-level rule such as "the reviewer of the row's level"), guards, target,
effects, and the reason or opinion it asks. Applying it is, per row and in its own SAVEPOINT:
guards → effects' `before` → compare-and-set UPDATE (`WHERE id = :id AND status = :expected`,
inside the data scope) → effects' `after` → one review record and one audit row, all in the
caller's transaction. A refusal is one type, `Refused`, with a Chinese message.

Nothing else writes a status column: `protect` makes a direct ORM assignment to a machine's
status of a stored row raise `DirectStatusWrite`.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Callable, Iterable, Optional, Sequence, Union

from sqlalchemy import ColumnElement, and_, event, insert, select, text, true, update
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.orm import Session

from models import ReviewLog

from . import audit, scope
from .params import parse_int
from .refusal import Refused  # noqa: F401 — the one refusal type, re-exported for the tables


class DirectStatusWrite(RuntimeError):
    """A status column was assigned outside the transition engine."""


@dataclass
class Context:
    """What guards and effects may look at: the row (fresh), who acts, when, with which reason,
    the state it leaves and the values the UPDATE sets (effects add to them)."""

    session: Session
    principal: scope.Principal
    machine: "Machine"
    transition: "Transition"
    row: Any
    now: datetime
    reason: str = ""
    data: dict = field(default_factory=dict)  # what the caller hands over (e.g. the changes of a form)
    before: Any = None
    after: Any = None
    values: dict = field(default_factory=dict)  # set by the compare-and-set UPDATE
    changes: dict = field(default_factory=dict)  # what effects changed besides, for the audit row
    audits: list = field(default_factory=list)  # audit rows of other tables an effect changed (audit.entry)


Check = Callable[[Context], Optional[str]]  # None when fine, else the Chinese refusal


@dataclass(frozen=True)
class Who:
    """Who may take a transition: `roles` (the static part: permission table, menus, buttons) and
    `check`, the row-level rule ("only the applicant", "the reviewer of the row's level")."""

    roles: frozenset
    check: Optional[Check] = None
    describe: str = ""
    by_state: Optional[dict] = None  # reviewers by level: the state under review → the role deciding it
    where: Optional[Callable[[scope.Principal], ColumnElement[bool]]] = None  # the row rule as SQL (待办 counts)

    def roles_at(self, sources: Iterable) -> frozenset:
        """The roles that can take a transition from these states (for gates, menus, buttons)."""
        if self.by_state is None:
            return self.roles
        return frozenset(self.by_state[s] for s in sources if s in self.by_state) & self.roles

    def refusal(self, c: Context) -> Optional[str]:
        if c.principal is None or c.principal.role not in self.roles_at(c.transition.sources):
            return f"您无权{c.transition.label}"
        return self.check(c) if self.check else None


@dataclass(frozen=True)
class Reason:
    """The reason or opinion a transition asks (form field `reason`)."""

    label: str
    required: bool = False


@dataclass(frozen=True)
class Ask:
    """An input a transition asks besides its reason, e.g. 补正期限 on 退回 or 下达文号 on 下达:
    `Transition(..., asks=(Ask("correction_deadline", "补正期限", kind="datetime"),))`.

    The dialogs and the confirmation page render it as a field named `name` (kind text, date or
    datetime); the view reads it with `read_asks` (a Chinese error per field, nothing saved while
    one is refused) and hands the values to `apply(..., data=...)`, where guards and effects find
    them as `c.data[name]` (None when left empty). The engine checks `required` and `check` again
    when acting, so a caller without a form cannot skip them."""

    name: str
    label: str
    kind: str = "text"  # text | date | datetime
    required: bool = False
    check: Optional[Callable[[Any, datetime], Optional[str]]] = None  # (parsed value, now) → refusal or None
    help: str = ""  # the line under the field
    max_length: int = 200

    def parse(self, raw: Optional[str]) -> tuple[Any, Optional[str]]:
        """The typed text as a value of its kind: (value, None), or (None, the Chinese error)."""
        text_ = (raw or "").strip()
        if not text_:
            return None, (f"请填写{self.label}" if self.required else None)
        if any(ord(ch) < 32 or ord(ch) == 127 for ch in text_):
            return None, f"{self.label}不能包含不可见的控制字符"
        if len(text_) > self.max_length:
            return None, f"{self.label}最多 {self.max_length} 个字（现为 {len(text_)} 字）"
        if self.kind == "text":
            return text_, None
        formats = ("%Y-%m-%d",) if self.kind == "date" else ("%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S")
        for fmt in formats:
            try:
                value = datetime.strptime(text_, fmt)
            except ValueError:
                continue
            if not 1900 <= value.year <= 2999:
                break
            return (value.date() if self.kind == "date" else value), None
        shape = "年-月-日" if self.kind == "date" else "年-月-日 时:分"
        return None, f"{self.label}格式不正确，应为{shape}，如 {'2025-06-30' if self.kind == 'date' else '2025-06-30 17:00'}"

    def refusal(self, value, now: datetime) -> Optional[str]:
        if value is None:
            return f"请填写{self.label}" if self.required else None
        return self.check(value, now) if self.check else None


def read_asks(t: "Transition", form, now: Optional[datetime] = None) -> tuple[dict, dict]:
    """The inputs `t` asks, read from a posted form (a mapping of names to text): (values by
    name, Chinese errors by name). Values are those `apply(..., data=values)` expects."""
    now = now or datetime.now()
    values, errors = {}, {}
    for ask in t.asks:
        value, problem = ask.parse(form.get(ask.name))
        problem = problem or ask.refusal(value, now)
        if problem:
            errors[ask.name] = problem
        else:
            values[ask.name] = value
    return values, errors


@dataclass(frozen=True)
class Effect:
    """What else happens with a transition: `set` adds columns to the compare-and-set UPDATE,
    `before` runs ahead of it (locks), `after` once it has won (other rows, other tables)."""

    describe: str
    set: Optional[Callable[[Context], dict]] = None
    before: Optional[Callable[[Context], None]] = None
    after: Optional[Callable[[Context], None]] = None


State = Any
Target = Union[State, Callable[[Context], State]]


@dataclass(frozen=True)
class Transition:
    action: str
    label: str
    sources: frozenset
    who: Who
    target: Target
    guards: tuple[Check, ...] = ()
    effects: tuple[Effect, ...] = ()
    reason: Optional[Reason] = None
    confirm: Optional[str] = None  # the question of the confirmation page when no reason is asked
    bulk: bool = True  # offered as a list action; False: taken through a form (个人信息 保存)
    verb: str = ""  # as the summary says it: 已{verb} n 条 (default: the label)
    bulk_label: str = ""  # the list toolbar's button when it differs from the label (批量提交)
    # the button's words for this user and row when they name the next stage (提交至科技局)
    label_for: Optional[Callable[[Any, Any], str]] = None
    # the toolbar's words for a page of rows of one kind (a call type's 上报至县区); row → label
    bulk_label_for: Optional[Callable[[Any], str]] = None
    asks: tuple[Ask, ...] = ()  # inputs besides the reason (补正期限), see Ask

    @property
    def done_verb(self) -> str:
        return self.verb or self.label

    def target_of(self, c: Context) -> State:
        return self.target(c) if callable(self.target) else self.target


@dataclass(frozen=True)
class Machine:
    """A stateful model's states and transitions, and how a transition is recorded."""

    name: str  # audit table name and review-record target
    model: type
    column: str  # the status attribute
    transitions: tuple[Transition, ...]
    # Who may edit the record through its form, in which states (roles → states), and whose it is.
    editable: dict = field(default_factory=dict)
    owner: Optional[Callable[[scope.Principal, Any], bool]] = None
    record: Optional[Callable[[Context], tuple[type, dict]]] = None  # the review record (审批意见)
    state_label: Callable[[State, Any], str] = lambda state, row: state.label
    row_label: Callable[[Any], str] = str
    cas_where: Optional[Callable[[Context], list]] = None  # more compare-and-set conditions
    audit_before: Optional[Callable[[Context], dict]] = None  # more before-values for the audit row

    def __post_init__(self) -> None:
        actions = [t.action for t in self.transitions]
        assert len(actions) == len(set(actions)), f"{self.name}: one row per action"
        _MACHINES[(self.model, self.column)] = self
        protect(self)

    @property
    def by_action(self) -> dict[str, Transition]:
        return {t.action: t for t in self.transitions}

    @property
    def status_column(self):
        return getattr(self.model, self.column)

    def state_of(self, row) -> State:
        return getattr(row, self.column)

    def label_of(self, row) -> str:
        return self.state_label(self.state_of(row), row)

    def roles(self, action: str) -> frozenset:
        t = self.by_action.get(action)
        return t.who.roles_at(t.sources) if t else frozenset()

    def actions(self) -> list[Transition]:
        return [t for t in self.transitions if t.bulk]

    def can_edit(self, p: Optional[scope.Principal], row) -> bool:
        """Whether `p` may change `row` through its form now: a role with edit rights in this
        state, and the owner's own row where the machine names an owner (the applicant)."""
        if p is None:
            return False
        states = next((s for roles, s in self.editable.items() if p.role in roles), frozenset())
        return self.state_of(row) in states and (self.owner is None or self.owner(p, row))


_MACHINES: dict[type, Machine] = {}


# -- asking ------------------------------------------------------------------------------------
def refusal(session: Session, p: Optional[scope.Principal], m: Machine, action: str, row, reason: str = "",
            now: Optional[datetime] = None, guards: bool = False, data: Optional[dict] = None) -> Optional[str]:
    """Why `p` may not take `action` on `row` now (None when they may). Buttons ask without guards;
    acting asks with them."""
    t = m.by_action.get(action)
    if t is None:
        return "不支持的操作"
    c = Context(session, p, m, t, row, now or datetime.now(), (reason or "").strip(), dict(data or {}))
    return _refusal(c, guards)


def allowed(session: Session, p: Optional[scope.Principal], m: Machine, row, bulk_only: bool = True) -> list[Transition]:
    """The transitions `p` may take on `row` now (guards are checked when acting): for buttons."""
    return [t for t in m.transitions if (t.bulk or not bulk_only) and refusal(session, p, m, t.action, row) is None]


def _refusal(c: Context, guards: bool) -> Optional[str]:
    t, state = c.transition, c.machine.state_of(c.row)
    if state not in t.sources:
        return f"当前状态为“{c.machine.label_of(c.row)}”，不能{t.label}"
    problem = t.who.refusal(c)
    if problem or not guards:
        return problem
    if t.reason and t.reason.required and not c.reason:
        return f"请填写{t.reason.label}"
    for ask in t.asks:
        value, problem = c.data.get(ask.name), None
        if isinstance(value, str):  # handed over as typed (a script, an import): read it as the form would
            value, problem = ask.parse(value)
            c.data[ask.name] = value
        problem = problem or ask.refusal(value, c.now)
        if problem:
            return problem
    for guard in t.guards:
        problem = guard(c)
        if problem:
            return problem
    return None


# -- acting ------------------------------------------------------------------------------------
@dataclass
class Outcome:
    """What a (bulk) action did: rows done as (id, label), rows skipped as (label, reason)."""

    done: list[tuple[Any, str]] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)

    def message(self, verb: str) -> str:
        """e.g. 已审核通过 12 条，跳过 3 条：项目A（不在您的审核环节）；…"""
        text_ = f"已{verb} {len(self.done)} 条"
        if self.skipped:
            reasons = "；".join(f"{label}（{why}）" for label, why in self.skipped[:20])
            more = f" 等 {len(self.skipped)} 条" if len(self.skipped) > 20 else ""
            text_ += f"，跳过 {len(self.skipped)} 条：{reasons}{more}"
        return text_

    @property
    def category(self) -> str:
        return "success" if self.done and not self.skipped else ("warning" if self.done else "error")


def typed_ids(ids: Iterable) -> tuple[list[int], list[tuple[str, str]]]:
    """Posted ids as integers; a malformed one is skipped with a reason (never a 500 or a 404)."""
    good, bad = [], []
    for raw in ids:
        number = parse_int(raw, lo=0)
        if number is not None:
            good.append(number)
        else:
            bad.append((f"#{str(raw).strip()[:20]}", "记录编号无效"))
    return sorted(set(good)), bad


def apply(session: Session, p: scope.Principal, m: Machine, ids: Sequence, action: str, reason: str = "",
          now: Optional[datetime] = None, data: Optional[dict] = None) -> Outcome:
    """Take `action` on each row of `ids` inside `p`'s scope, each in its own SAVEPOINT: one row's
    refusal never loses the others. The caller commits. Rows are taken in id order, so that
    concurrent bulk actions lock in one order."""
    t = m.by_action.get(action)
    outcome = Outcome()
    if t is None:
        outcome.skipped.append(("—", "不支持的操作"))
        return outcome
    now, reason = now or datetime.now(), (reason or "").strip()
    wanted, outcome.skipped = typed_ids(ids)
    if not wanted:
        return outcome
    begin_write(session, m)
    rows = session.scalars(
        select(m.model).where(m.model.id.in_(wanted), scope.predicate(p, m.model)).order_by(m.model.id)
        .execution_options(populate_existing=True)
    ).all()
    for missing in sorted(set(wanted) - {r.id for r in rows}):
        outcome.skipped.append((f"#{missing}", "记录不存在或不在您的数据范围内"))
    records: dict[type, list[dict]] = {}
    audits: list[dict] = []
    for row in rows:
        c = Context(session, p, m, t, row, now, reason, dict(data or {}))
        label = m.row_label(row)
        try:
            with session.begin_nested():
                _take(c)
        except Refused as refused:
            session.expire(row)
            outcome.skipped.append((label, str(refused)))
            continue
        outcome.done.append((row.id, label))
        if m.record:
            model, values = m.record(c)
            records.setdefault(model, []).append(values)
        audits.append(_audit(c))
        audits.extend(c.audits)
    for model, values in records.items():
        session.execute(insert(model), values)
    audit.record_all(session, audits)
    session.expire_all()
    return outcome


def apply_one(session: Session, p: scope.Principal, m: Machine, row_id, action: str, reason: str = "",
              now: Optional[datetime] = None, data: Optional[dict] = None) -> Any:
    """One row: raises `Refused` instead of reporting; returns the state reached."""
    outcome = apply(session, p, m, [row_id], action, reason, now, data)
    if outcome.skipped:
        raise Refused(outcome.skipped[0][1])
    return session.scalar(select(m.status_column).where(m.model.id == int(row_id)))


def _take(c: Context) -> None:
    m, t = c.machine, c.transition
    problem = _refusal(c, guards=True)
    if problem:
        raise Refused(problem)
    c.before = m.state_of(c.row)
    for effect in t.effects:
        if effect.before:
            effect.before(c)
    c.after = t.target_of(c)
    for effect in t.effects:
        if effect.set:
            c.values.update(effect.set(c))
    table = m.model.__table__
    stmt = (
        update(table)
        .where(table.c.id == c.row.id, table.c[m.column] == c.before, scope.predicate(c.principal, m.model),
               *(m.cas_where(c) if m.cas_where else ()))
        .values({m.column: c.after, **c.values})
    )
    if "updated_at" in table.c and "updated_at" not in c.values:
        stmt = stmt.values(updated_at=c.now)
    if c.session.connection().execute(stmt).rowcount != 1:
        raise Refused("已被他人处理，请刷新后查看")
    for effect in t.effects:
        if effect.after:
            effect.after(c)


def _audit(c: Context) -> dict:
    m, t = c.machine, c.transition
    before = {m.column: _plain(c.before), **(m.audit_before(c) if m.audit_before else {})}
    after = {m.column: _plain(c.after), **{k: _plain(v) for k, v in {**c.values, **c.changes}.items()}}
    summary = f"{t.label}：{m.row_label(c.row)}" + (f"（{c.reason}）" if c.reason else "")
    return audit.entry("update", m.name, c.row.id, before, after, summary, at=c.now)


def _plain(value):
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return audit.jsonable(value)


# -- locks ---------------------------------------------------------------------------------------
def begin_write(session: Session, m: Machine) -> None:
    """Start the write transaction now. SQLite: a write statement takes the database's write lock
    before anything is read, so what we read is what we change (and SAVEPOINTs nest inside the
    transaction instead of committing it). PostgreSQL locks rows, see `lock`."""
    if session.get_bind().dialect.name == "sqlite":
        session.execute(text(f'UPDATE "{m.model.__tablename__}" SET id = id WHERE 0'))


def lock(session: Session, model: type, row_id) -> None:
    """Serialise writers on one row (a call's ranking, a unit's quota) until commit. On SQLite the
    whole database is already serialised by `begin_write`."""
    if row_id is not None and session.get_bind().dialect.name != "sqlite":
        session.execute(select(model.id).where(model.id == row_id).with_for_update())


# -- the guard on status columns (django-fsm's protected=True) ---------------------------------------
def protect(m: Machine) -> None:
    attribute = getattr(m.model, m.column)
    if event.contains(attribute, "set", _refuse_direct_write):
        return
    event.listen(attribute, "set", _refuse_direct_write, active_history=True)  # the old value is loaded, never guessed


def _refuse_direct_write(target, value, oldvalue, initiator) -> None:
    """A stored row's status changes only through `apply`, which writes with a core UPDATE; a new
    row (pending, transient) may take its initial state."""
    state = sa_inspect(target)
    if (state.persistent or state.detached) and value != oldvalue:
        raise DirectStatusWrite(
            f"{type(target).__name__}.{initiator.key} 只能经由流转引擎改变（rules/transitions.py，{_MACHINES[(type(target), initiator.key)].name} 的状态表）"
        )


# -- who, as data ------------------------------------------------------------------------------------
def reviewer(roles: frozenset, predicate: Callable[[scope.Principal], ColumnElement[bool]],
             refusal_text: Callable[[Context], str], describe: str) -> Who:
    """Who decides a row, given as a named SQL predicate of rules.scope (person, registration routing)."""
    return Who(roles, where_check(predicate, refusal_text), describe, where=predicate)


def where_check(predicate: Callable[[scope.Principal], ColumnElement[bool]], refusal_text: Callable[[Context], str]) -> Check:
    """A row-level rule given as a SQL predicate over the model (a named predicate of rules.scope)."""

    def check(c: Context) -> Optional[str]:
        model = c.machine.model
        found = c.session.scalar(select(model.id).where(model.id == c.row.id, predicate(c.principal)))
        return None if found is not None else refusal_text(c)

    return check


def waiting_for(m: Machine, action: str, p: scope.Principal, states: Iterable) -> ColumnElement[bool]:
    """Rows waiting for `p` to take `action`: in one of `states`, and the row rule where it is SQL."""
    t = m.by_action[action]
    rule = t.who.where(p) if t.who.where is not None else true()
    return and_(m.status_column.in_(list(states)), rule)


def review_log(target: str) -> Callable[[Context], tuple[type, dict]]:
    """The review record of machines without a table of their own (个人信息, 单位注册, 调度填报)."""

    def record(c: Context):
        return ReviewLog, {
            "target": target, "target_id": c.row.id, "action": c.transition.action, "from_status": c.before.value,
            "to_status": c.after.value, "opinion": c.reason or None, "user_id": c.principal.user_id,
            "username": audit.current_actor().username, "role": c.principal.role.value, "at": c.now,
        }

    record.review_log_target = target
    return record
