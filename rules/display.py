"""How a column of a model reads in a list and in Excel, where the stored value is not what users see.

One reader per (model, column), in terms of models and rules only, so that an export can be run
without its view (the 下载中心 worker) and still write what the list shows. A view that formats a
column (`column_formatters`, `column_formatters_export`) exports it through the reader registered
here; tests/test_export.py checks, for every view, that both give the same text.
"""
from __future__ import annotations

from typing import Any, Callable, Optional

from models import (
    ACTION_LABELS, DICT_CATEGORIES, MODULES, AuditLog, Call, Declaration, DictItem, Level, Person, ProgressReport,
    ReviewRecord, Role, User,
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
    from rules import workflow  # the call's own name of 主管部门审核

    return workflow.status_label(d.status, d.call)


@reads(Declaration, "submitted_at")
def _declaration_submitted(d: Declaration) -> str:
    return _minute(d.submitted_at)


@reads(ProgressReport, "submitted_at")
def _report_submitted(r: ProgressReport) -> str:
    return _minute(r.submitted_at)


@reads(Call, "review_chain")
def _review_chain(c: Call) -> str:
    return " → ".join((c.authority_label if x == "authority" else Level(x).label) for x in (c.review_chain or []))


@reads(Call, "quota_rule")
def _quota_rule(c: Call) -> str:
    from rules import quotas

    return quotas.describe(c.quota_rule)


@reads(ReviewRecord, "at")
def _review_at(r: ReviewRecord) -> str:
    return _minute(r.at)


@reads(ReviewRecord, "role")
def _review_role(r: ReviewRecord) -> str:
    return Role(r.role).label if r.role in Role._value2member_map_ else r.role


@reads(ReviewRecord, "level")
def _review_level(r: ReviewRecord) -> str:
    return Level(r.level).label if r.level else ""


@reads(ReviewRecord, "action")
def _review_action(r: ReviewRecord) -> str:
    from rules import workflow

    return workflow.BY_ACTION[r.action].label if r.action in workflow.BY_ACTION else r.action


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


def _changes_of(name: str) -> Reader:
    """A change set as the list shows it, tags stripped: "字段: 值" run together, whitespace collapsed."""

    def read(a: AuditLog) -> str:
        value = getattr(a, name)
        if not value:
            return ""
        return " ".join("".join(f"{k}: {v}" for k, v in value.items()).split())

    return read


for _name in ("before", "after"):
    reads(AuditLog, _name)(_changes_of(_name))
