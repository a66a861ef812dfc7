"""Who may do what, declared once: role → view → operations, plus the transitions of the records
each view moves (rules/transitions.py) and the 模块配置 of 填报用户 (deny by default).

Views read their role gates, create/edit/delete rights, bulk actions, menu visibility and 待办
cards from here; nothing is written again in a view. `actions_of(role)` prints the table the
other way round (role → view → actions).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from models import AccountStatus, CallType, RenameStatus, Role, Status

from . import scope
from .authorisation import ACCOUNT
from .enterprise_review import ANNUAL_REPORT, ENTERPRISE
from .libraries import LIBRARIES
from .legacy import LEGACY
from .people import PERSON
from .registration import REGISTRATION
from .release import DECLARATION_RELEASE
from .renames import RENAMES
from .transitions import Machine
from .unit_changes import UNIT_CHANGES
from .workflow import DECLARATION, PROGRESS_REPORT

ALL = frozenset(Role)
NOBODY: frozenset = frozenset()
EVERYTHING = scope.EVERYTHING
ADMINS = frozenset({Role.sysadmin})
APPLICANT = frozenset({Role.applicant})
FILLERS = scope.FILLERS
RANKERS = frozenset({Role.unit_admin, Role.authority})
DISTRICT_AND_CITY = frozenset({Role.authority, Role.bureau, Role.sysadmin})
UNIT_VIEWERS = EVERYTHING | {Role.unit_admin, Role.authority}
UNIT_MANAGERS = ADMINS | {Role.unit_admin}
USER_MANAGERS = ADMINS | {Role.unit_admin}
REGISTRATION_SIDE = EVERYTHING | {Role.authority, Role.applicant, Role.unit_admin}


@dataclass(frozen=True)
class Grant:
    """One view's rights: who opens it, creates, edits, deletes; its other (non-transition)
    actions; the records it moves; the 模块配置 modules a 填报用户 needs (any of them)."""

    view: frozenset
    create: frozenset = NOBODY
    edit: frozenset = NOBODY
    delete: frozenset = NOBODY
    actions: dict = field(default_factory=dict)
    machine: Optional[Machine] = None
    modules: Optional[frozenset] = None

    def roles(self, operation: str) -> frozenset:
        if operation in ("view", "create", "edit", "delete"):
            return getattr(self, operation)
        if operation in self.actions:
            return self.actions[operation]
        if self.machine is not None and operation in self.machine.by_action and self.machine.by_action[operation].bulk:
            return self.machine.roles(operation) & self.view
        return NOBODY


ANY_CALL = frozenset(t.value for t in CallType)

# fmt: off
VIEWS: dict[str, Grant] = {
    #                       view                create             edit               delete      other actions / records moved / modules
    # 用户中心
    "my_person":            Grant(frozenset({Role.applicant, Role.dept_admin, Role.unit_admin})),
    "person":               Grant(ALL,                ADMINS,            ADMINS,            ADMINS,     machine=PERSON),
    "registration":         Grant(REGISTRATION_SIDE,  APPLICANT,                                        machine=REGISTRATION),
    "unit":                 Grant(UNIT_VIEWERS,       EVERYTHING,        UNIT_MANAGERS,     ADMINS),
    "unit_change":          Grant(UNIT_VIEWERS,                                                         machine=UNIT_CHANGES),
    "unit_authorization":   Grant(frozenset({Role.unit_admin})),  # the legal unit itself, not its 授权人 (admin_views/org.py)
    "secondary_unit":       Grant(UNIT_VIEWERS | {Role.dept_admin}, UNIT_MANAGERS, UNIT_MANAGERS, UNIT_MANAGERS),
    # 项目申报
    "declaration":          Grant(ALL,                APPLICANT,         APPLICANT,         APPLICANT,  {"rank": RANKERS}, DECLARATION, ANY_CALL),
    # 创业资助 and 创新资助 (seed 002 §3.1/3.2): the returnee's own lists of one call type, by 模块配置
    "startup_declaration":  Grant(APPLICANT,          APPLICANT,         APPLICANT,         APPLICANT,  machine=DECLARATION,
                                  modules=frozenset({CallType.startup.value})),
    "innovation_declaration": Grant(APPLICANT,        APPLICANT,         APPLICANT,         APPLICANT,  machine=DECLARATION,
                                  modules=frozenset({CallType.innovation_fund.value})),
    "call":                 Grant(ALL,                EVERYTHING,        EVERYTHING,        EVERYTHING),
    "review_record":        Grant(ALL),
    "progress_report":      Grant(ALL,                APPLICANT,         APPLICANT,         APPLICANT,  machine=PROGRESS_REPORT,
                                  modules=frozenset({CallType.tech_innovation.value})),
    "unit_revenue":         Grant(EVERYTHING | {Role.unit_admin, Role.authority}, EVERYTHING, EVERYTHING, EVERYTHING),
    # 项目下达, 计划表, 计划汇总表 (issue 14): the bureau 下达s; the plans follow the declaration scope
    "project_release":      Grant(EVERYTHING,                                                           machine=DECLARATION_RELEASE),
    "plan":                 Grant(EVERYTHING | FILLERS | {Role.authority}, modules=frozenset({CallType.tech_innovation.value})),
    "plan_summary":         Grant(EVERYTHING | FILLERS | {Role.authority}, modules=frozenset({CallType.tech_innovation.value})),
    # 企业信息, 科技信息年报, 申报事项
    "enterprise":           Grant(DISTRICT_AND_CITY | FILLERS, ADMINS,   ADMINS | FILLERS,  ADMINS,     machine=ENTERPRISE),
    "enterprise_review":    Grant(DISTRICT_AND_CITY,                                                    machine=ENTERPRISE),
    "annual_report":        Grant(DISTRICT_AND_CITY | FILLERS, FILLERS | ADMINS, FILLERS | ADMINS, ADMINS, machine=ANNUAL_REPORT),
    "annual_report_review": Grant(DISTRICT_AND_CITY,                                                    machine=ANNUAL_REPORT),
    "legacy_project":       Grant(DISTRICT_AND_CITY | FILLERS,                                        machine=LEGACY),  # 老项目认领 (issue 14)
    "enterprise_rename":    Grant(DISTRICT_AND_CITY | FILLERS, FILLERS,  FILLERS,           FILLERS,    machine=RENAMES),  # 企业更名管理 (issue 14)
    "credit_rating":        Grant(DISTRICT_AND_CITY),
    "voucher_claims":       Grant(DISTRICT_AND_CITY),
    "voucher_enterprises":  Grant(DISTRICT_AND_CITY),
    # 科企信息统计表
    "stats_cultivation":    Grant(DISTRICT_AND_CITY),
    "stats_district_storage": Grant(DISTRICT_AND_CITY),
    "stats_annual":         Grant(DISTRICT_AND_CITY),
    "stats_overview":       Grant(DISTRICT_AND_CITY),
    "stats_custom":         Grant(DISTRICT_AND_CITY),
    # 系统管理, 基础数据
    "user":                 Grant(EVERYTHING | {Role.unit_admin}, ADMINS, USER_MANAGERS, ADMINS,
                                  {"enable": USER_MANAGERS, "disable": USER_MANAGERS, "reset_password": USER_MANAGERS}, ACCOUNT),
    "operation_log":        Grant(EVERYTHING),
    "login_log":            Grant(EVERYTHING,         actions={"unlock_account": ADMINS, "unlock_ip": ADMINS}),
    "online_user":          Grant(ADMINS,             actions={"force_logout": ADMINS}),  # 在线用户, 强退
    "message":              Grant(ADMINS),  # 消息 outbox: undelivered bodies carry temporary passwords
    "region":               Grant(EVERYTHING,         ADMINS,            ADMINS,            ADMINS),
    "dictionary":           Grant(EVERYTHING,         ADMINS,            ADMINS,            ADMINS),
    "data_import":          Grant(EVERYTHING),  # each import spec narrows it (rules/importing.py)
    "download":             Grant(ALL),  # everyone's own 下载中心
    "profile":              Grant(ALL),  # everyone's own 个人中心 (the user menu, not the sidebar)
}
# fmt: on
for _library in LIBRARIES:  # 科企梯次培育库, 科企后备库, 科企认定库: the city sets the 条件参数
    VIEWS[_library.endpoint] = Grant(DISTRICT_AND_CITY, actions={"save_params": EVERYTHING})


def machines() -> list[Machine]:
    """Every record that moves through review, once."""
    return list({id(g.machine): g.machine for g in VIEWS.values() if g.machine is not None}.values())


def grant(endpoint: str) -> Optional[Grant]:
    return VIEWS.get(endpoint)


def roles(endpoint: str, operation: str) -> frozenset:
    """The roles that may take `operation` in the view (deny by default: an unknown view has none)."""
    g = VIEWS.get(endpoint)
    return g.roles(operation) if g else NOBODY


def module_refusal(p: Optional[scope.Principal], endpoint: str) -> Optional[str]:
    """A 填报用户 needs one of the view's modules (模块配置, seed 004); no module, no entry."""
    g = VIEWS.get(endpoint)
    if p is None or g is None or g.modules is None or p.role != Role.applicant:
        return None
    return None if p.modules & g.modules else "您的账号未开通该模块，请联系单位管理员在“模块配置”中开通"


def allowed(p: Optional[scope.Principal], endpoint: str, operation: str = "view") -> bool:
    if p is None or p.role not in roles(endpoint, operation):
        return False
    return module_refusal(p, endpoint) is None


def call_types(p: Optional[scope.Principal]) -> list[CallType]:
    """The call types this user may declare in: a 填报用户's modules; nobody else declares."""
    if p is None or p.role != Role.applicant:
        return []
    return [t for t in CallType if t.value in p.modules]


def actions_of(role: Role) -> dict[str, list[str]]:
    """The table read the other way: role → view → the operations and actions open to it."""
    out: dict[str, list[str]] = {}
    for endpoint, g in VIEWS.items():
        if role not in g.view:
            continue
        names = [op for op in ("view", "create", "edit", "delete") if role in g.roles(op)]
        names += [a for a in g.actions if role in g.actions[a]]
        if g.machine is not None:
            names += [t.action for t in g.machine.actions() if role in g.roles(t.action)]
        out[endpoint] = names
    return out


# -- 待办: each card names where the work is and which transition it waits for; who sees it, which
# states it counts and the row rule come from that transition (one card per role and state).
@dataclass(frozen=True)
class Todo:
    endpoint: str
    action: str
    label: str  # "{state}" becomes the state's label
    states: Optional[frozenset] = None  # narrower than the transition's sources
    filters: dict = field(default_factory=dict)  # list filter name → value ("{state}": the state's code)


# fmt: off
TODOS: tuple[Todo, ...] = (
    Todo("declaration",          "approve", "待{state}的申报书",  filters={"项目状态": "{state}"}),
    Todo("declaration",          "submit",  "退回待修改的申报书", states=frozenset({Status.returned}), filters={"项目状态": "{state}"}),
    Todo("progress_report",      "approve", "待审核的调度填报",   filters={"状态": "{state}"}),
    Todo("person",               "approve", "个人信息待审核",     filters={"状态": "{state}", "审核归属": "1"}),
    Todo("registration",         "approve", "单位注册待审核",     filters={"审核状态": "{state}", "审核归属": "1"}),
    Todo("user",                 "authorize", "待授权的填报用户", states=frozenset({AccountStatus.pending}), filters={"授权状态": "{state}"}),
    Todo("unit_change",          "approve", "单位信息变更待审核", filters={"审核状态": "{state}", "审核归属": "1"}),
    Todo("enterprise_review",    "approve", "待审核企业基本信息"),
    Todo("annual_report_review", "approve", "{state}的年报"),
    Todo("annual_report",        "submit",  "{state}的科技信息年报", filters={"审核状态": "{state}"}),
    Todo("legacy_project",       "approve", "待确认的老项目认领", filters={"认领状态": "{state}"}),
    Todo("enterprise_rename",    "approve", "待审核的企业更名",   filters={"状态": "{state}"}),
    Todo("enterprise_rename",    "submit",  "已退回的企业更名申请", states=frozenset({RenameStatus.returned}), filters={"状态": "{state}"}),
)
# fmt: on


def todo_cards(p: Optional[scope.Principal]) -> list[tuple[Todo, Machine, frozenset]]:
    """The cards of this user: (card, machine, the states it counts), one per state group."""
    if p is None:
        return []
    cards = []
    for todo in TODOS:
        g = VIEWS[todo.endpoint]
        t = g.machine.by_action[todo.action]
        if not allowed(p, todo.endpoint, "view") or p.role not in g.roles(todo.action):
            continue
        states = frozenset(todo.states or t.sources)
        if t.who.by_state is not None:
            states = frozenset(s for s in states if t.who.by_state.get(s) == p.role)
        if "{state}" in todo.label or any(v == "{state}" for v in todo.filters.values()):
            cards.extend((todo, g.machine, frozenset({s})) for s in sorted(states, key=lambda s: s.value))
        else:
            cards.append((todo, g.machine, states))
    return cards
