"""How a column of a model reads in a list and in Excel, where the stored value is not what users see.

One reader per (model, column), in terms of models and rules only, so that an export can be run
without its view (the 下载中心 worker) and still write what the list shows. A view that formats a
column (`column_formatters`, `column_formatters_export`) exports it through the reader registered
here; tests/test_export.py checks, for every view, that both give the same text.
"""
from __future__ import annotations

from typing import Any, Callable, Optional

from sqlalchemy import inspect as sa_inspect
from sqlalchemy.orm import object_session

from models import (
    ACTION_LABELS, DICT_CATEGORIES, MODULES, AuditLog, Base, Call, Declaration, DictItem, Level, LoginSession,
    Message, Person, ProgressReport, ReviewRecord, Role, User,
)

Reader = Callable[[Any], Any]
READERS: dict[tuple[type, str], Reader] = {}


def reads(model: type, *names: str) -> Callable[[Reader], Reader]:
    """Register `fn(row) → value` as how `model`'s columns `names` read."""

    def register(fn: Reader) -> Reader:
        for name in names:
            READERS[(model, name)] = fn
        return fn

    return register


def reader(model: type, name: str) -> Optional[Reader]:
    return READERS.get((model, name))


def _minute(value) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value else ""


# -- 申报管理 ------------------------------------------------------------------------------------
@reads(Declaration, "status")
def _declaration_status(d: Declaration) -> str:
    from rules import workflow  # the call type's words (WORDING), the call's own name of 主管部门审核

    note = workflow.correction_note(d)
    return workflow.status_label(d.status, d.call) + (f"（{note}）" if note else "")


@reads(Declaration, "district")
def _declaration_district(d: Declaration) -> str:
    """区县 (seed 003 项目申报管理): the declaring unit's region."""
    unit = d.unit
    return unit.region.name if unit is not None and unit.region is not None else ""


@reads(Declaration, "address")
def _declaration_address(d: Declaration) -> str:
    """通讯地址 (seed 003 项目申报): the declaring unit's address."""
    return (d.unit.address or "") if d.unit is not None else ""


@reads(Declaration, "submitted_at")
def _declaration_submitted(d: Declaration) -> str:
    return _minute(d.submitted_at)


@reads(Declaration, "unit_rank")
def _unit_rank(d: Declaration) -> Any:
    """推荐排序 as its number: the list's cell is a button for who may rank the row now, Excel gets the number."""
    return "" if d.unit_rank is None else d.unit_rank


@reads(Declaration, "authority_rank")
def _authority_rank(d: Declaration) -> Any:
    return "" if d.authority_rank is None else d.authority_rank


@reads(ProgressReport, "submitted_at")
def _report_submitted(r: ProgressReport) -> str:
    return _minute(r.submitted_at)


# 申报批次 in words, never its JSON (issue #14): each setting of the call designer by its reader in rules/calls.py
def _call_setting(attribute: str, text: str) -> None:
    @reads(Call, attribute)
    def read(c: Call) -> str:
        from rules import calls  # rules/calls.py reads rules/workflow.py, which reads this module

        return getattr(calls, text)(c)


for _attribute, _text in (("review_chain", "chain_text"), ("quota_rule", "quota_text"), ("required_fields", "required_text"),
                          ("required_attachments", "attachments_text"), ("applicant_natures", "natures_text"),
                          ("form_fields", "form_fields_text")):
    _call_setting(_attribute, _text)


@reads(ReviewRecord, "at")
def _review_at(r: ReviewRecord) -> str:
    return _minute(r.at)


@reads(ReviewRecord, "role")
def _review_role(r: ReviewRecord) -> str:
    return Role(r.role).label if r.role in Role._value2member_map_ else login_shown(r.role)


@reads(ReviewRecord, "level")
def _review_level(r: ReviewRecord) -> str:
    return Level(r.level).label if r.level else ""


@reads(ReviewRecord, "action")
def _review_action(r: ReviewRecord) -> str:
    from rules import workflow

    call = r.declaration.call if r.declaration is not None else None
    return workflow.action_label(r.action, call) if r.action in workflow.BY_ACTION else r.action


def _review_state(column: str) -> Reader:
    """原状态 / 新状态 as the declaration's call type names them (退回企业, 已上报省)."""

    def read(r: ReviewRecord) -> str:
        from rules import workflow

        state = getattr(r, column)
        return workflow.status_label(state, r.declaration.call if r.declaration is not None else None) if state is not None else ""

    return read


reads(ReviewRecord, "from_status")(_review_state("from_status"))
reads(ReviewRecord, "to_status")(_review_state("to_status"))


# -- 人员、账号、参考数据、日志 ------------------------------------------------------------------------
@reads(Person, "review_level")
def _person_review_level(p: Person) -> str:
    """Who decides the person's changes: their unit, or their secondary unit (seed 000 §2.4)."""
    own_manager = p.user is not None and p.user.role == Role.dept_admin and p.user.secondary_unit_id == p.secondary_unit_id
    return "单位审核" if p.secondary_unit_id is None or own_manager else "二级单位审核"


@reads(User, "modules")
def _user_modules(u: User) -> str:
    return "、".join(MODULES.get(m, m) for m in (u.modules or [])) or "—"


@reads(User, "active")
def _user_active(u: User) -> str:
    return "已启用" if u.active else "已禁用"


@reads(DictItem, "category")
def _dict_category(d: DictItem) -> str:
    return DICT_CATEGORIES.get(d.category, d.category)


@reads(AuditLog, "action")
def _audit_action(a: AuditLog) -> str:
    return ACTION_LABELS.get(a.action, a.action)


# -- 操作日志: tables, fields and states by their Chinese names -----------------------------------
TABLE_LABELS = {
    "annual_report": "科技信息年报", "app_user": "用户", "audit_log": "操作日志", "call": "申报批次",
    "credit_rating": "知识价值信用评级", "declaration": "申报书", "declaration_attachment": "申报附件",
    "declaration_budget": "经费预算", "declaration_member": "项目成员", "dict_item": "数据字典",
    "enterprise": "企业信息", "enterprise_review": "企业审核记录", "export_job": "下载中心",
    "innovation_voucher": "科技创新券", "library_param": "条件参数", "login_throttle": "登录限制",
    "person": "个人信息", "progress_report": "调度填报", "region": "区县/园区", "review_log": "审批意见",
    "review_record": "审批意见", "secondary_unit": "二级单位", "unit": "单位信息",
    "unit_registration": "单位注册", "unit_revenue": "单位营业收入", "unit_change": "单位信息变更",
    "enterprise_rename": "企业更名", "enterprise_rename_file": "更名证明材料", "enterprise_name": "企业曾用名",
}
SYSTEM_ACTOR = "系统"  # changes the system made itself (seeding, jobs), logged as `system`
HIDDEN_KEYS = frozenset({"password_hash", "session_version"})


def _table_columns(table: str) -> tuple[dict, dict]:
    """column key → label, column key → enum class, for the model stored in `table`."""
    for mapper in Base.registry.mappers:
        if getattr(mapper.class_, "__tablename__", None) == table:
            labels, enums = {}, {}
            for attr in mapper.column_attrs:
                column = attr.columns[0]
                labels[attr.key] = column.info.get("label") or attr.key
                if getattr(column.type, "enum_class", None) is not None:
                    enums[attr.key] = column.type.enum_class
            return labels, enums
    return {}, {}


def shown_value(value, enum_class=None) -> str:
    if value is None or value == "":
        return "（空）"
    if enum_class is not None:
        member = next((m for m in enum_class if m.value == value or m.name == value), None)
        if member is not None:
            return getattr(member, "label", str(value))
    if value is True:
        return "是"
    if value is False:
        return "否"
    return str(value)


def audit_changes(a: AuditLog, name: str) -> list[tuple[str, str]]:
    """修改前/修改后 of an audit row as (field label, value as users see it)."""
    value = getattr(a, name)
    if not value or not isinstance(value, dict):
        return []
    labels, enums = _table_columns(a.table_name or "")
    return [(labels.get(k, k), shown_value(v, enums.get(k))) for k, v in value.items() if k not in HIDDEN_KEYS]


def _changes_of(name: str) -> Reader:
    """A change set as the list shows it, tags stripped: "字段：值" run together, whitespace collapsed."""

    def read(a: AuditLog) -> str:
        return " ".join("".join(f"{k}：{v}" for k, v in audit_changes(a, name)).split())

    return read


for _name in ("before", "after"):
    reads(AuditLog, _name)(_changes_of(_name))


def login_shown(login: Optional[str]) -> str:
    """A stored login where no account names the actor (a deleted one, a name typed at the login
    page): as stored, but the system's own `system` reads 系统."""
    return login if login and login != "system" else SYSTEM_ACTOR


@reads(AuditLog, "table_name")
def _audit_table(a: AuditLog) -> str:
    return TABLE_LABELS.get(a.table_name or "", a.table_name or "")


# -- people, not logins: every actor reads 姓名（单位/二级单位） ------------------------------------
def actor_place(user: User) -> str:
    """Where a user works: 单位/二级单位, else the district, else 市科技局 for the bureau, else nothing."""
    if user.unit is not None:
        return user.unit.name + (f"/{user.secondary_unit.name}" if user.secondary_unit is not None else "")
    if user.region is not None:
        return user.region.name
    return "市科技局" if user.role is Role.bureau else ""


def actor_label(user: Optional[User]) -> str:
    """姓名（单位/二级单位） of a user; a district's reviewer reads 姓名（区县）, the bureau's
    姓名（市科技局）; a user with none of these reads as the name alone."""
    if user is None:
        return ""
    where = actor_place(user)
    name = user.name or user.username
    return f"{name}（{where}）" if where else name


def actor_labels(session, user_ids) -> dict[int, str]:
    """`actor_label` of many users in one query: user id → 姓名（单位/二级单位）."""
    from sqlalchemy import select
    from sqlalchemy.orm import selectinload

    wanted = {i for i in user_ids if i is not None}
    if not wanted:
        return {}
    users = session.scalars(
        select(User).where(User.id.in_(wanted)).options(
            selectinload(User.unit), selectinload(User.secondary_unit), selectinload(User.region))
    ).all()
    return {u.id: actor_label(u) for u in users}


_LABELS = "actor_labels"  # session.info key: (the transaction they were read in, user id → label or None)


def _labels_of(session) -> dict:
    """The labels already read in the session's current transaction (a new transaction reads afresh)."""
    txn = session.get_transaction()
    kept = session.info.get(_LABELS)
    if kept is None or kept[0] is not txn:
        kept = session.info[_LABELS] = (txn, {})
    return kept[1]


def actor_reader(model: type, id_attr: str, fallback: Reader) -> Reader:
    """A reader naming the user whose id is the row's `id_attr` as 姓名（单位/二级单位）, `fallback`
    for a row without one (系统, a deleted account). The first row of a list page, or of an export's
    chunk, reads the labels of every `model` row its session holds in one query (`actor_labels`);
    the others read them from there, so neither the list nor the export asks once per row."""

    def read(row) -> str:
        user_id = getattr(row, id_attr)
        session = object_session(row)
        if user_id is None or session is None:
            return fallback(row)
        labels = _labels_of(session)
        if user_id not in labels:
            held = [sa_inspect(o).dict.get(id_attr) for o in list(session.identity_map.values()) if isinstance(o, model)]
            wanted = {i for i in held if i is not None and i not in labels} | {user_id}
            with session.no_autoflush:  # a label is read, never a reason to write half-edited rows
                found = actor_labels(session, wanted)
            labels = _labels_of(session)  # the query may have begun the transaction
            labels.update({i: found.get(i) for i in wanted})
        return labels.get(user_id) or fallback(row)

    return read


reads(AuditLog, "username")(actor_reader(AuditLog, "user_id", lambda a: login_shown(a.username)))
reads(ReviewRecord, "actor_name")(actor_reader(ReviewRecord, "user_id", lambda r: login_shown(r.actor_name)))
reads(LoginSession, "user")(actor_reader(LoginSession, "user_id", lambda s: ""))
reads(Message, "user")(actor_reader(Message, "user_id", lambda m: ""))


# -- states as coloured badges: one kind per state, declared here ------------------------------
# kind → what the badge means to a user: 草稿 grey, 审核中 blue, 退回 orange, 通过 green, 不通过 red
STATE_KINDS: dict[str, dict[str, str]] = {
    "Status": {"draft": "draft", "dept_review": "review", "unit_review": "review", "authority_review": "review",
               "bureau_review": "review", "returned": "returned", "approved": "approved", "rejected": "rejected"},
    "ProgressStatus": {"draft": "draft", "submitted": "review", "approved": "approved", "returned": "returned"},
    "AccountStatus": {"pending": "review", "active": "approved", "refused": "rejected"},
    "EnterpriseStatus": {"pending": "review", "approved": "approved", "rejected": "rejected"},
    "StorageStatus": {"out": "draft", "stored": "approved"},
    "ReleaseStatus": {"pending": "draft", "released": "approved"},  # 项目下达 (issue 14)
    "ReportStatus": {"draft": "draft", "district_review": "review", "district_rejected": "returned",
                     "city_review": "review", "city_rejected": "returned", "approved": "approved"},
    "ExportStatus": {"queued": "draft", "running": "review", "done": "approved", "failed": "rejected", "expired": "draft"},
    "MessageStatus": {"kept": "draft", "sent": "approved", "failed": "rejected"},
    "UnitStatus": {"pending": "review", "approved": "approved", "rejected": "rejected"},
    "ReviewStatus": {"pending": "review", "approved": "approved", "rejected": "rejected"},
    "ChangeStatus": {"pending": "review", "approved": "approved", "rejected": "rejected", "withdrawn": "draft"},
    "ClaimStatus": {"unclaimed": "draft", "pending": "review", "claimed": "approved", "rejected": "rejected"},  # 老项目认领
    "RenameStatus": {"draft": "draft", "pending": "review", "approved": "approved", "returned": "returned", "rejected": "rejected"},
}


def state_kind(value) -> Optional[str]:
    """draft / review / returned / approved / rejected for a workflow state, None for any other enum."""
    kinds = STATE_KINDS.get(type(value).__name__)
    return kinds.get(getattr(value, "value", None)) if kinds else None
