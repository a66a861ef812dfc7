"""A call's own fields of the 申报书 form (自定义字段, issue #14): definitions kept on the call
(`Call.form_fields`, a list of dicts), values kept on the declaration (`Declaration.extra`, key →
typed JSON value), both checked here with no Flask in sight.

A definition (after `normalize`):

    {"key": "f_market", "label": "市场前景", "type": "textarea", "required": True,
     "min": 10, "max": 500, "dict": None, "help": "300字以内", "tab": "基本情况"}

`min`/`max` are a length for text, a value for numbers, the earliest/latest ISO date for dates and
months; `dict` is the 字典 category of a select. Values as stored: text → str, number → int or a
decimal string ("12.50", exact), date → "YYYY-MM-DD", month → "YYYY-MM", select → the dict item id
(int), bool → True/False, file → nothing in `extra` (the files are Attachment rows with
`field_key`).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any, Iterable, Mapping, Optional, Sequence

TYPES = {
    "text": "单行文本", "textarea": "多行文本", "number": "数字", "date": "日期", "month": "年月",
    "select": "下拉选择（字典）", "bool": "是/否", "file": "附件",
}
TABS = ("基本情况", "项目成员", "经费预算", "其他信息")
DEFAULT_TAB = "基本情况"
KEY = re.compile(r"^f_[a-z0-9_]{1,38}$")
LABEL_MAX = 30
HELP_MAX = 200
TEXT_MAX = {"text": 200, "textarea": 5000}  # the longest a text field may be, whatever the call says
NUMBER_LIMIT = Decimal("1e12")  # 万元 amounts and counts: never more than this
NUMBER_PLACES = 2
FIELDS_MAX = 50


@dataclass(frozen=True)
class Problem:
    key: str
    label: str
    message: str

    def __str__(self) -> str:
        return self.message


def new_key(label: str, taken: Iterable[str]) -> str:
    """A stable key for a new field (the label may change later, the key never does)."""
    taken = set(taken)
    n = len(taken) + 1
    while f"f_{n}" in taken:
        n += 1
    return f"f_{n}"


def _limit(kind: str, raw: Any, what: str, where: str) -> Optional[Any]:
    if raw in (None, ""):
        return None
    text = str(raw).strip()
    if kind in ("text", "textarea"):
        if not text.isascii() or not text.isdigit() or len(text) > 5:
            raise ValueError(f"{where}：{what}应为不超过 {TEXT_MAX[kind]} 的正整数（字数）")
        number = int(text)
        if number > TEXT_MAX[kind]:
            raise ValueError(f"{where}：{what}不能超过 {TEXT_MAX[kind]} 字")
        return number
    if kind == "number":
        value = _decimal(text)
        if value is None:
            raise ValueError(f"{where}：{what}应为数字（最多两位小数，绝对值小于 1 万亿）")
        return _plain_number(value)
    if kind in ("date", "month"):
        parsed = parse_date(text, kind)
        if parsed is None:
            raise ValueError(f"{where}：{what}应为{'年月，如 2026-01' if kind == 'month' else '日期，如 2026-01-31'}")
        return parsed
    raise ValueError(f"{where}：{TYPES[kind]}字段没有{what}")


def normalize(defs: Any, dict_categories: Optional[Iterable[str]] = None) -> list[dict]:
    """Definitions as stored, or ValueError with a Chinese sentence naming the field. Keys stay as
    given (a new field without one gets `new_key`); labels and keys are unique."""
    if defs in (None, ""):
        return []
    if not isinstance(defs, list):
        raise ValueError("自定义字段应为字段列表")
    if len(defs) > FIELDS_MAX:
        raise ValueError(f"自定义字段最多 {FIELDS_MAX} 个")
    categories = set(dict_categories) if dict_categories is not None else None
    out: list[dict] = []
    keys: set[str] = {str(d.get("key")) for d in defs if isinstance(d, Mapping) and d.get("key")}
    labels: set[str] = set()
    for i, raw in enumerate(defs, start=1):
        if not isinstance(raw, Mapping):
            raise ValueError(f"第 {i} 个自定义字段格式不正确")
        label = str(raw.get("label") or "").strip()
        where = f"第 {i} 个自定义字段" + (f"“{label}”" if label else "")
        if not label:
            raise ValueError(f"{where}：请填写字段名称")
        if len(label) > LABEL_MAX or any(ord(ch) < 32 for ch in label):
            raise ValueError(f"{where}：字段名称最多 {LABEL_MAX} 个字，且不能包含控制字符")
        if label in labels:
            raise ValueError(f"{where}：字段名称与其他字段重复")
        labels.add(label)
        kind = str(raw.get("type") or "")
        if kind not in TYPES:
            raise ValueError(f"{where}：请选择字段类型")
        key = str(raw.get("key") or "") or new_key(label, keys)
        if not KEY.match(key):
            raise ValueError(f"{where}：字段标识不正确")
        if key in {d["key"] for d in out}:
            raise ValueError(f"{where}：字段标识与其他字段重复")
        keys.add(key)
        low = _limit(kind, raw.get("min"), "下限", where) if kind not in ("select", "bool", "file") else None
        high = _limit(kind, raw.get("max"), "上限", where) if kind not in ("select", "bool", "file") else None
        if low is not None and high is not None and _comparable(kind, low) > _comparable(kind, high):
            raise ValueError(f"{where}：下限不能大于上限")
        category = str(raw.get("dict") or "").strip() or None
        if kind == "select":
            if not category:
                raise ValueError(f"{where}：下拉选择字段请选择字典")
            if categories is not None and category not in categories:
                raise ValueError(f"{where}：字典“{category}”不存在")
        else:
            category = None
        help_text = str(raw.get("help") or "").strip()
        if len(help_text) > HELP_MAX or any(ord(ch) < 32 and ch not in "\n\t" for ch in help_text):
            raise ValueError(f"{where}：填写说明最多 {HELP_MAX} 个字，且不能包含控制字符")
        tab = str(raw.get("tab") or DEFAULT_TAB)
        if tab not in TABS:
            raise ValueError(f"{where}：所在页签不正确")
        out.append({"key": key, "label": label, "type": kind, "required": _truthy(raw.get("required")),
                    "min": low, "max": high, "dict": category, "help": help_text, "tab": tab})
    return out


def _truthy(value: Any) -> bool:
    return value is True or str(value).strip().lower() in ("1", "true", "on", "y", "yes", "是")


def _comparable(kind: str, value: Any):
    return Decimal(str(value)) if kind == "number" else value


def _decimal(text: str) -> Optional[Decimal]:
    text = text.strip().replace(",", "")
    if not re.fullmatch(r"[+-]?\d{1,13}(\.\d{1,%d})?" % NUMBER_PLACES, text):
        return None
    try:
        value = Decimal(text)
    except InvalidOperation:
        return None
    return value if abs(value) < NUMBER_LIMIT else None


def _plain_number(value: Decimal):
    """An int when whole, else the exact decimal as a string (JSON floats would round it)."""
    return int(value) if value == value.to_integral_value() else format(value.normalize(), "f")


def parse_date(text: str, kind: str = "date") -> Optional[str]:
    text = (text or "").strip()
    try:
        if kind == "month":
            if not re.fullmatch(r"\d{4}-\d{1,2}", text):
                return None
            year, month = (int(x) for x in text.split("-"))
            date(year, month, 1)
            return f"{year:04d}-{month:02d}" if 1900 <= year <= 2100 else None
        if not re.fullmatch(r"\d{4}-\d{1,2}-\d{1,2}", text):
            return None
        parsed = date(*(int(x) for x in text.split("-")))
        return parsed.isoformat() if 1900 <= parsed.year <= 2100 else None
    except ValueError:
        return None


# -- values -----------------------------------------------------------------------------------------
def parse(defn: Mapping, raw: Optional[str], dict_ids: Optional[Iterable[int]] = None) -> tuple[Any, Optional[str]]:
    """A posted value → (stored value or None, the Chinese refusal or None). Limits and 必填 are
    checked by `problems` (a draft may be unfinished); only the type (and the absolute bounds that
    keep the database sane) is checked here, at every save."""
    kind, label = defn["type"], defn["label"]
    text = "" if raw is None else str(raw)
    if "\x00" in text:
        return None, f"{label}不能包含不可见的控制字符"
    text = text.strip() if kind != "textarea" else text.replace("\r\n", "\n").strip()
    if kind == "bool":
        if text in ("", None):
            return None, None
        if text in ("1", "y", "true", "是"):
            return True, None
        if text in ("0", "n", "false", "否"):
            return False, None
        return None, f"{label}请选择“是”或“否”"
    if not text:
        return None, None
    if kind in ("text", "textarea"):
        if kind == "text" and "\n" in text:
            return None, f"{label}只能填写一行"
        if any(ord(ch) < 32 and ch not in "\n\t" for ch in text):
            return None, f"{label}不能包含不可见的控制字符"
        if len(text) > TEXT_MAX[kind]:
            return None, f"{label}最多 {TEXT_MAX[kind]} 个字（现为 {len(text)} 个字）"
        return text, None
    if kind == "number":
        value = _decimal(text)
        if value is None:
            return None, f"{label}应为数字（最多两位小数）"
        return _plain_number(value), None
    if kind in ("date", "month"):
        value = parse_date(text, kind)
        if value is None:
            return None, f"{label}应为{'年月，如 2026-01' if kind == 'month' else '日期，如 2026-01-31'}"
        return value, None
    if kind == "select":
        if not (text.isascii() and text.isdigit() and len(text) <= 9):
            return None, f"{label}请从列表中选择"
        number = int(text)
        if dict_ids is not None and number not in set(dict_ids):
            return None, f"{label}请从列表中选择"
        return number, None
    return None, None  # file: uploaded separately


def problems(defs: Sequence[Mapping], values: Optional[Mapping], files: Iterable[str] = ()) -> list[Problem]:
    """What 提交 and 预览 refuse: required fields left empty (a file field needs a file), values
    outside the field's limits. `files`: the keys of file fields that have at least one upload."""
    values = values or {}
    files = set(files)
    found = []
    for d in defs:
        key, label, kind = d["key"], d["label"], d["type"]
        value = values.get(key)
        if kind == "file":
            if d.get("required") and key not in files:
                found.append(Problem(key, label, f"{label}未上传"))
            continue
        if value is None or value == "":
            if d.get("required"):
                found.append(Problem(key, label, f"{label}未填写"))
            continue
        low, high = d.get("min"), d.get("max")
        if kind in ("text", "textarea"):
            n = len(str(value))
            if (low is not None and n < low) or (high is not None and n > high):
                found.append(Problem(key, label, f"{label}应为{_span(low, high, '字')}（现为 {n} 字）"))
        elif kind == "number":
            number = Decimal(str(value))
            if (low is not None and number < Decimal(str(low))) or (high is not None and number > Decimal(str(high))):
                found.append(Problem(key, label, f"{label}应{_span(low, high, '')}（现为 {value}）"))
        elif kind in ("date", "month"):
            if (low is not None and str(value) < str(low)) or (high is not None and str(value) > str(high)):
                found.append(Problem(key, label, f"{label}应{_span(low, high, '', dates=True)}（现为 {value}）"))
    return found


def _span(low, high, unit: str, dates: bool = False) -> str:
    if dates:
        if low is not None and high is not None:
            return f"在 {low} 至 {high} 之间"
        return f"不早于 {low}" if low is not None else f"不晚于 {high}"
    if low is not None and high is not None:
        return f"{low}-{high}{unit}" if unit else f"在 {low} 至 {high} 之间"
    if low is not None:
        return f"至少{low}{unit}" if unit else f"不小于 {low}"
    return f"{high}{unit}以内" if unit else f"不大于 {high}"


def shown(defn: Mapping, value: Any, dict_names: Optional[Mapping[int, str]] = None) -> str:
    """A stored value as users read it (details, preview, Excel)."""
    if value is None or value == "":
        return ""
    kind = defn["type"]
    if kind == "bool":
        return "是" if value else "否"
    if kind == "select":
        return (dict_names or {}).get(value, "（已停用的选项）")
    if kind == "month":
        year, month = str(value).split("-")
        return f"{year}年{int(month)}月"
    return str(value)


def of_declaration(d) -> list[dict]:
    """The definitions a declaration is read with: as they were at its last 提交 when it has been
    submitted since (the call may have changed later), else the call's current ones; values of
    fields the call has dropped since are kept and shown too (as 已停用的字段)."""
    defs = list(d.extra_fields if d.extra_fields is not None else (d.call.form_fields or [])) if d.call else list(d.extra_fields or [])
    known = {x["key"] for x in defs}
    for key in (d.extra or {}):
        if key not in known:
            defs.append({"key": key, "label": f"{key}（已停用的字段）", "type": "text", "required": False,
                         "min": None, "max": None, "dict": None, "help": "", "tab": "其他信息"})
    return defs
