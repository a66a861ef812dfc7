"""申报批次 as data (issue #14): who may apply (申报对象), the 限额规则 table, and each setting of a
call in words (lists, details, Excel), with no Flask in sight.

`applicant_natures` holds 单位性质 codes (dictionary `unit_nature`); empty or NULL lets every unit
apply. The 限额规则 rows are what the designer shows: 营业收入下限/上限（万元）and 项目数, the
upper bound of a row being the next row's lower bound; stored as `[[lower, count], …]`
(rules/quotas.py).
"""
from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any, Mapping, NamedTuple, Optional, Sequence

from sqlalchemy import select
from sqlalchemy.orm import object_session

from models import AttachmentKind, CallType, DictItem, Level

from . import form_fields, quotas
from .workflow import FIELD_LABELS

# 单位性质 of enterprises in seed/dictionaries.csv: 03 国有企业, 04 非公有制经济 (the demo
# enterprises are 非公有制经济). A 技术创新项目 call (seed 003: 企业申报) starts with these.
ENTERPRISE_NATURES = ("03", "04")
DEFAULT_NATURES = {CallType.tech_innovation: ENTERPRISE_NATURES}
QUOTA_ROWS_MAX = 20
QUOTA_REVENUE_MAX = Decimal("1e10")  # 万元: a hundred trillion yuan is past any enterprise
QUOTA_COUNT_MAX = 9999


def nature_names(session, codes: Sequence[str] = ()) -> dict[str, str]:
    """code → name of the 单位性质 dictionary (all of it when `codes` is empty)."""
    if session is None:
        return {}
    stmt = select(DictItem.code, DictItem.name).where(DictItem.category == "unit_nature")
    if codes:
        stmt = stmt.where(DictItem.code.in_(list(codes)))
    return dict(session.execute(stmt.order_by(DictItem.sort, DictItem.id)).tuples().all())


def applicant_refusal(call, unit, names: Optional[Mapping[str, str]] = None) -> Optional[str]:
    """Why `unit` may not apply in `call` (a Chinese sentence), or None. `names`: code → 单位性质
    name, read from the call's session when not given."""
    allowed = [str(c) for c in (call.applicant_natures or [])]
    if not allowed:
        return None
    if unit is None:
        return "您的账号未关联单位，不能申报"
    nature = getattr(unit, "nature", None)
    if nature is not None and nature.category == "unit_nature" and nature.code in allowed:
        return None
    if names is None:
        names = nature_names(object_session(call) or object_session(unit), allowed)
    listed = "、".join(names.get(code, code) for code in allowed)
    who = "企业" if set(allowed) <= set(ENTERPRISE_NATURES) else "以下单位性质的单位"
    own = f"本单位的单位性质为“{nature.name}”" if nature is not None else "本单位未填写单位性质"
    return f"本批次仅限{who}申报（{listed}），{own}"


# -- 限额规则 rows ---------------------------------------------------------------------------------
class QuotaRow(NamedTuple):
    lower: str  # as typed
    count: str


def _number(text: str) -> Optional[Decimal]:
    text = (text or "").strip().replace(",", "")
    if not text or len(text) > 40 or not text.isascii():
        return None
    try:
        value = Decimal(text)
    except InvalidOperation:
        return None
    return value if value.is_finite() else None


def quota_rule(rows: Sequence[QuotaRow]) -> tuple[Optional[list], dict[int, list[str]]]:
    """The designer's rows (blank ones ignored) → (the stored rule, {row index: Chinese errors}).
    The first row starts at 0; each next lower bound is above the one before (the rows are the
    bands in order, none overlapping another)."""
    errors: dict[int, list[str]] = {}
    steps: list[list] = []
    previous: Optional[Decimal] = None
    filled = [(i, r) for i, r in enumerate(rows) if (r.lower or "").strip() or (r.count or "").strip()]
    if not filled:
        return None, {-1: ["请至少填写一档限额，或选择“不限额”"]}
    if len(filled) > QUOTA_ROWS_MAX:
        return None, {-1: [f"限额规则最多 {QUOTA_ROWS_MAX} 档"]}
    for n, (i, r) in enumerate(filled):
        said = errors.setdefault(i, [])
        lower = _number(r.lower)
        if lower is None:
            said.append("营业收入下限应为数字（万元）")
        elif lower < 0:
            said.append("营业收入下限不能为负数")
        elif lower >= QUOTA_REVENUE_MAX:
            said.append("营业收入下限过大")
        elif lower != round(lower, 2):
            said.append("营业收入下限最多两位小数")
        elif n == 0 and lower != 0:
            said.append("第一档的营业收入下限应为 0")
        elif previous is not None and lower <= previous:
            said.append(f"营业收入下限应大于上一档的下限（{_plain(previous)} 万元）：各档按营业收入从低到高排列，不能重叠")
        lower_ok = not said
        if lower_ok:
            previous = lower
        count = (r.count or "").strip()
        if not count:
            said.append("请填写项目数")
        elif not (count.isascii() and count.isdigit()):
            said.append("项目数应为不小于 0 的整数")
        elif len(count) > 6 or int(count) > QUOTA_COUNT_MAX:
            said.append(f"项目数不能超过 {QUOTA_COUNT_MAX}")
        if not said:
            steps.append([_stored(lower), int(count)])
    errors = {i: e for i, e in errors.items() if e}
    if errors:
        return None, errors
    quotas.normalize(steps)  # the rule the submission reads: must be one it accepts
    return steps, {}


def quota_rows(rule: Optional[Sequence]) -> list[QuotaRow]:
    """A stored rule as the designer's rows."""
    try:
        steps = quotas.normalize(rule)
    except (ValueError, TypeError, ArithmeticError):
        return []
    return [QuotaRow(_plain(low), str(count)) for low, count in steps]


def _stored(value: Decimal):
    return int(value) if value == value.to_integral_value() else float(value)


def _plain(value) -> str:
    value = Decimal(str(value))
    return str(int(value)) if value == value.to_integral_value() else format(value.normalize(), "f")


# -- in words ----------------------------------------------------------------------------------------
def chain_text(call) -> str:
    """e.g. 单位审核 → 区县审核 → 科技局审核"""
    codes = {lv.value for lv in Level}
    return " → ".join((call.authority_label or Level.authority.label) if x == "authority" else Level(x).label
                      for x in (call.review_chain or []) if x in codes)


def quota_text(call) -> str:
    """e.g. 上年度营业收入 2000 万元以下 1 项；2000 万元至 40000 万元 2 项；…"""
    try:
        steps = quotas.normalize(call.quota_rule)
    except (ValueError, TypeError, ArithmeticError):
        return "限额规则有误，请重新设置"
    if not steps:
        return "不限额"
    parts = []
    for i, (low, count) in enumerate(steps):
        high = steps[i + 1][0] if i + 1 < len(steps) else None
        if high is None:
            parts.append(f"{_plain(low)} 万元及以上 {count} 项")
        elif low == 0:
            parts.append(f"{_plain(high)} 万元以下 {count} 项")
        else:
            parts.append(f"{_plain(low)} 万元至 {_plain(high)} 万元 {count} 项")
    return "上年度营业收入 " + "；".join(parts)


def required_text(call) -> str:
    from models import DEFAULT_REQUIRED

    names = call.required_fields if call.required_fields is not None else DEFAULT_REQUIRED
    if not isinstance(names, (list, tuple)) or not names:
        return "未设置（提交时不检查必填项）"
    return "、".join(FIELD_LABELS.get(n, "（已停用的字段）") for n in names)


def attachments_text(call) -> str:
    kinds = [k for k in (call.required_attachments or []) if k in AttachmentKind._value2member_map_]
    return "、".join(AttachmentKind(k).label for k in kinds) if kinds else "不要求"


def natures_text(call, names: Optional[Mapping[str, str]] = None) -> str:
    codes = [str(c) for c in (call.applicant_natures or [])]
    if not codes:
        return "所有单位"
    if names is None:
        names = nature_names(object_session(call), codes)
    return "、".join(names.get(c, "（已停用的单位性质）") for c in codes)


def field_text(defn: Mapping[str, Any]) -> str:
    """e.g. 市场前景（多行文本，必填）"""
    kind = form_fields.TYPES.get(defn.get("type"), "")
    bits = [kind.replace("（字典）", "")] if kind else []
    if defn.get("required"):
        bits.append("必填")
    return f"{defn.get('label', '')}（{'，'.join(bits)}）" if bits else str(defn.get("label", ""))


def form_fields_text(call) -> str:
    defs = call.form_fields or []
    return "、".join(field_text(d) for d in defs if isinstance(d, Mapping)) if defs else "无"
