"""首页 per role: 待办 cards for everyone; applicants the calls open to them and their own
declarations by state; reviewers what was 最近处理 in their scope; the city the 申报批次 calendar.

The cards are declared in rules/permissions.py (TODOS) and derived from the transition tables:
who sees a card, which states it counts and which rows are the user's to decide. Each section is
one or two queries through `scope.predicate`, never one per row: the page is opened constantly.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from types import SimpleNamespace
from typing import Optional

from flask import current_app, redirect, request, url_for
from flask_admin import AdminIndexView, expose
from flask_login import current_user
from sqlalchemy import func, or_, select

from extensions import db
from models import Call, Declaration, ReviewRecord, Role, Status
from rules import display, permissions, scope, transitions, workflow
from rules.params import parse_int

from .base import principal

REVIEWERS = frozenset(workflow.LEVEL_ROLE.values())  # 部门、单位、主管部门、科技局: who decides a level
RECENT_ACTIONS = ("approve", "return")  # 审核通过, 退回
RECENT_LIMIT = 10
YEAR_MIN, YEAR_MAX = 1900, 2100


def view_of(endpoint: str):
    for admin in current_app.extensions.get("admin", []):
        for view in admin._views:
            if view.endpoint == endpoint:
                return view
    return None


def cards_for(p: scope.Principal) -> list[dict]:
    cards = []
    for todo, machine, states in permissions.todo_cards(p):
        view = view_of(todo.endpoint)
        if view is None:
            continue
        state = next(iter(states)) if len(states) == 1 else None
        filters = {name: (state.value if value == "{state}" else value) for name, value in todo.filters.items()}
        where = transitions.waiting_for(machine, todo.action, p, states)
        count = db.session.execute(
            select(func.count()).select_from(machine.model).where(scope.predicate(p, machine.model), where, *_base(view))
        ).scalar_one()
        label = todo.label.replace("{state}", state.label if state is not None else "")
        cards.append({"label": label, "count": count, "url": view.filter_url(**filters)})
    return cards


def _base(view) -> tuple:
    extra = view.base_filter() if hasattr(view, "base_filter") else None
    return () if extra is None else (extra,)


# -- applicants: the calls the 新增 form accepts, and their own declarations by state -----------
def open_calls(p: scope.Principal, view) -> Optional[list[dict]]:
    """The calls the declaration form offers this user now (the view's own `open_calls`), each
    with the link that opens the form with it chosen; None when the user does not declare."""
    if view is None or not permissions.allowed(p, view.endpoint, "create"):
        return None
    now = datetime.now()
    calls = view.open_calls().filter(scope.predicate(p, Call)).all()
    return [{"call": c, "days_left": (c.closes_at.date() - now.date()).days,
             "url": url_for(f"{view.endpoint}.create_view", call_id=c.id)} for c in calls]


def my_declarations(p: scope.Principal, view) -> Optional[dict]:
    """Counts of the user's declarations per state, each linking to the list filtered by it. A
    state reads as the user's calls name it (a call may call 主管部门审核 区县审核) when they agree,
    as the state's own label otherwise; 部门审核 only for an applicant in a secondary unit."""
    if view is None or not permissions.allowed(p, view.endpoint, "create"):
        return None
    rows = db.session.execute(
        select(Declaration.status, Call.authority_label, Call.type, func.count())
        .join(Call, Call.id == Declaration.call_id)
        .where(scope.predicate(p, Declaration), *_base(view))
        .group_by(Declaration.status, Call.authority_label, Call.type)
    ).all()
    counts: dict[Status, int] = {}
    names: dict[Status, set] = {}
    for status, authority_label, call_type, n in rows:
        counts[status] = counts.get(status, 0) + n
        names.setdefault(status, set()).add((authority_label, call_type))
    every_call = set().union(*names.values())

    def label(state: Status) -> str:  # the call types' words (workflow.WORDING) where the calls agree
        said = {workflow.status_label(state, _named(*facts)) for facts in names.get(state) or every_call}
        return said.pop() if len(said) == 1 else state.label

    shown = [st for st in Status if counts.get(st) or st != Status.dept_review or p.secondary_unit_id is not None]
    states = [{"status": st, "label": label(st), "count": counts.get(st, 0), "url": view.filter_url(项目状态=st.value)}
              for st in shown]
    return {"states": states, "total": sum(counts.values()), "url": url_for(f"{view.endpoint}.index_view")}


def _actor_name(username: Optional[str]) -> str:
    """An actor whose account is gone reads as the login name it had; the system's own as 系统."""
    return username if username and username != "system" else display.SYSTEM_ACTOR


def _named(authority_label: Optional[str], call_type=None):
    """What `workflow.status_label` reads of a call (its type, its own name of 主管部门审核), from a row."""
    return SimpleNamespace(authority_label=authority_label, type=call_type)


# -- reviewers: the latest 审核通过 / 退回 in their scope -----------------------------------------
def recent_reviews(p: scope.Principal, view) -> Optional[list[dict]]:
    """最近处理: the latest 审核通过 and 退回 of declarations in the reviewer's scope, whoever acted,
    newest first, each actor as 姓名（单位/二级单位） (one query for all of them)."""
    if view is None or p.role not in REVIEWERS or not permissions.allowed(p, view.endpoint, "view"):
        return None
    rows = db.session.execute(
        select(ReviewRecord.id, ReviewRecord.at, ReviewRecord.action, ReviewRecord.user_id, ReviewRecord.actor_name,
               ReviewRecord.from_status, ReviewRecord.to_status, Declaration.id.label("declaration_id"),
               Declaration.name, Call.authority_label, Call.type)
        .join(Declaration, Declaration.id == ReviewRecord.declaration_id)
        .join(Call, Call.id == Declaration.call_id)
        .where(scope.predicate(p, ReviewRecord), scope.predicate(p, Declaration), *_base(view),
               ReviewRecord.action.in_(RECENT_ACTIONS))
        .order_by(ReviewRecord.at.desc(), ReviewRecord.id.desc())
        .limit(RECENT_LIMIT)
    ).all()
    actors = display.actor_labels(db.session, {r.user_id for r in rows})
    out = []
    for r in rows:
        call = _named(r.authority_label, r.type)
        out.append({
            "id": r.id, "at": r.at, "name": r.name, "action": workflow.action_label(r.action, call),
            "url": url_for(f"{view.endpoint}.details_view", id=r.declaration_id),
            "level": workflow.status_label(r.from_status, call),
            "to_status": r.to_status, "to_label": workflow.status_label(r.to_status, call),
            "actor": actors.get(r.user_id) or _actor_name(r.actor_name),
        })
    return out


# -- the city: 申报批次 of a year on a timeline ------------------------------------------------
PHASES = {"upcoming": "未开始", "open": "申报中", "closed": "已截止"}


def phase(call, now: datetime) -> str:
    """未开始 / 申报中 / 已截止 of a call now, by the same window the 提交 guard checks."""
    if now < call.opens_at:
        return "upcoming"
    return "open" if now <= call.closes_at else "closed"


@dataclass
class CalendarRow:
    call: Call
    phase: str
    left: float  # the 申报 window on the year's bar, in % of the year
    width: float
    ranking_at: Optional[float]  # 推荐排序截止 on the bar, when it falls within the year

    @property
    def phase_label(self) -> str:
        return PHASES[self.phase]


def calendar(p: scope.Principal, raw_year, now: datetime) -> Optional[dict]:
    """The calls whose 申报 window or 推荐排序截止 falls in the year (`?year=`, 1900–2100; anything
    else shows this year), with where each lies on the year. None for who does not manage calls."""
    view = view_of("call")
    if view is None or not permissions.allowed(p, view.endpoint, "create"):
        return None
    year = parse_int(raw_year, lo=YEAR_MIN, hi=YEAR_MAX)
    refused = raw_year is not None and year is None
    year = year or now.year
    start, end = datetime(year, 1, 1), datetime(year + 1, 1, 1)
    calls = db.session.scalars(
        select(Call).where(scope.predicate(p, Call), Call.opens_at < end,
                           or_(Call.closes_at >= start, Call.ranking_deadline >= start))
        .order_by(Call.opens_at, Call.id)
    ).all()
    span = (end - start).total_seconds()

    def at(moment: datetime) -> float:
        return round(100 * (min(max(moment, start), end) - start).total_seconds() / span, 2)

    rows = [CalendarRow(c, phase(c, now), at(c.opens_at), max(at(c.closes_at) - at(c.opens_at), 0.5),
                        at(c.ranking_deadline) if c.ranking_deadline and start <= c.ranking_deadline < end else None)
            for c in calls]
    months = [{"label": f"{m}月", "left": at(datetime(year, m, 1))} for m in range(1, 13)]
    return {
        "year": year, "rows": rows, "months": months, "refused": refused,
        "today": at(now) if start <= now < end else None,
        "prev": url_for("admin.index", year=year - 1) if year > YEAR_MIN else None,
        "next": url_for("admin.index", year=year + 1) if year < YEAR_MAX else None,
        "this_year": url_for("admin.index") if year != now.year else None,
        "details": lambda c: url_for(f"{view.endpoint}.details_view", id=c.id),
    }


class HomeView(AdminIndexView):
    def is_visible(self) -> bool:
        return True

    @expose("/")
    def index(self):
        if not current_user.is_authenticated:
            return redirect(url_for("auth.login", next=request.full_path))
        p = principal()
        declarations = view_of("declaration")
        return self.render(
            "admin/home.html", cards=cards_for(p), role=p.role, user=current_user, Role=Role,
            calls=open_calls(p, declarations), mine=my_declarations(p, declarations),
            recent=recent_reviews(p, declarations), calendar=calendar(p, request.args.get("year"), datetime.now()),
        )
