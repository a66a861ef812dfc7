"""WTForms adapters of rules.validators: each puts the rule's Chinese message next to its field;
and the fields the manuals' forms need beyond WTForms' own (年/月)."""
from __future__ import annotations

import calendar
import re
import unicodedata
from datetime import date
from typing import Callable, Optional, Union

from wtforms.fields import DateField
from wtforms.validators import InputRequired, Length, StopValidation, ValidationError
from wtforms.widgets import MonthInput

from rules.constraints import CONTROL_CHARS, OUT_OF_RANGE
from rules.validators import YEAR_MAX, YEAR_MIN, date_error, has_control_chars


def checked(rule: Callable[[str], Optional[str]]):
    """A field validator from a pure rule returning an error text; empty values are left to 必填."""

    def check(form, field):
        value = field.data
        if value is None or (isinstance(value, str) and not value.strip()):
            return
        problem = rule(str(value))
        if problem:
            raise ValidationError(problem)

    check.rule = rule  # the form scaffolding (admin_views/checks.py) sees a format is checked already
    return check


def at_most(n: int) -> Length:
    """The column's length, said in characters as the manuals count them."""
    return Length(max=n, message=f"最多 {n} 个字")


def chars_at_most(label: str, n: int) -> Length:
    """A 字数 limit of the manuals ("项目简介 (100字以内)"), said with what was typed: 项目简介不超过100字（现为 123 字）.
    Its `maxlength` is what static/forms.js counts against under the field."""
    return Length(max=n, message=f"{label}不超过{n}字（现为 %(length)d 字）")


def one_newline(value):
    """A line break is one 字, as the browser's maxlength and the page's counter count it (the post sends CRLF)."""
    return value.replace("\r\n", "\n") if isinstance(value, str) else value


def no_control_chars(form, field):
    """NUL and other control characters: nobody types them, and PostgreSQL refuses NUL in text."""
    value = field.data
    if isinstance(value, str) and has_control_chars(value):
        raise ValidationError(CONTROL_CHARS)


def fits(column) -> list:
    """Validators of a hand-made form field whose text goes into `column` (e.g. `Unit.name`)."""
    length = getattr(column.type, "length", None)
    return [at_most(length), no_control_chars] if isinstance(length, int) else [no_control_chars]


def in_range(lo=None, hi=None, message: str = OUT_OF_RANGE):
    """A number within lo..hi (either may be open); empty is left to 必填."""

    def check(form, field):
        value = field.data
        if value is not None and ((lo is not None and value < lo) or (hi is not None and value > hi)):
            raise ValidationError(message)

    return check


non_negative = in_range(lo=0, message="不能为负数")


def not_before(other: str, message: str, strict: bool = False):
    """A date not before the form's field `other` (项目截止时间 and 项目起始时间); `strict`: after it."""

    def check(form, field):
        start = form[other].data if other in form else None
        if field.data is not None and start is not None and (field.data <= start if strict else field.data < start):
            raise ValidationError(message)

    return check


def sensible_date(past: bool = False):
    """A date within 1900–2100; `past`: what already happened (注册时间, 出生日期) is not after today."""

    def check(form, field):
        if field.data is not None and (problem := date_error(field.data, past=past)):
            raise ValidationError(problem)

    check.past = past
    return check


def required(text: str) -> InputRequired:
    """必填 (the red star), with the Chinese message the seeds use."""
    return InputRequired(message=f"请填写{text}")


class filled:
    """必填 where the page always sends a value (新技术（个） starts at 0): a box emptied by the user is
    "请填写…", while a post that leaves the field out keeps the column's default. Shows the red star."""

    field_flags = {"required": True}

    def __init__(self, text: str) -> None:
        self.message = f"请填写{text}"

    def __call__(self, form, field):
        if field.raw_data and not str(field.raw_data[0]).strip():
            field.errors[:] = []  # instead of "不是有效的整数"
            raise StopValidation(self.message)


def strip_upper(value):
    return value.strip().upper() if isinstance(value, str) else value


def strip(value):
    return value.strip() if isinstance(value, str) else value


def keep_readonly(form, obj, names) -> None:
    """Grey, system-filled fields: shown read-only, and whatever is posted for them is ignored."""
    for name in names:
        if name in form:
            field = form[name]
            field.render_kw = {**(field.render_kw or {}), "readonly": True}
            if obj is not None:
                field.data = getattr(obj, name)
                field.raw_data = [str(field.data or "")]


# -- 年/月 ------------------------------------------------------------------------------------
MONTH_FORMAT = "请按“年-月”填写，如 2024-03"
_MONTH = re.compile(r"([0-9]{4})-([0-9]{1,2})(?:-([0-9]{1,2}))?|([0-9]{4})([0-9]{2})", re.ASCII)


def parse_month(text: str) -> Union[tuple[int, int], str]:
    """(year, month) of what a user types for a 年/月: 2024-03 (what <input type="month"> sends),
    2024-3, 2024/03, 2024.03, 2024年3月, 202403, full-width digits, or a whole date (2024-03-15, a
    value saved before the field became a month); else the Chinese reason."""
    if len(text) > 30 or has_control_chars(text):
        return MONTH_FORMAT
    s = unicodedata.normalize("NFKC", text)
    s = re.sub(r"\s+", "", s.replace("年", "-").replace("月", "-").replace("日", "").replace("/", "-").replace(".", "-")).rstrip("-")
    m = _MONTH.fullmatch(s)
    if m is None:
        return MONTH_FORMAT
    year, month = int(m.group(1) or m.group(4)), int(m.group(2) or m.group(5))
    if not 1 <= month <= 12:
        return "月份应在 1 至 12 之间"
    if not YEAR_MIN <= year <= YEAR_MAX:
        return date_error(date(max(year, 1), month, 1))
    day = int(m.group(3)) if m.group(3) else None
    if day is not None and not 1 <= day <= calendar.monthrange(year, month)[1]:
        return f"{year} 年 {month} 月没有 {day} 日"
    return year, month


class MonthField(DateField):
    """年/月 (项目起止时间, seed 003 §2 item 8 "2019 年 7 月 ~ 2020 年 11 月") as <input type="month">:
    shown as YYYY-MM, read by `parse_month`, kept as the first day of the month — or with
    `last_day=True` its last day, so that a period "2019-07 ~ 2020-11" holds every day it names and
    a one-month project (2019-01 ~ 2019-01) starts before it ends."""

    widget = MonthInput()

    def __init__(self, label=None, validators=None, last_day: bool = False, **kwargs):
        kwargs.pop("format", None)
        super().__init__(label, validators, format="%Y-%m", **kwargs)
        self.last_day = last_day
        self.render_kw = {"min": f"{YEAR_MIN}-01", "max": f"{YEAR_MAX}-12", "placeholder": "如 2024-03", **(self.render_kw or {})}

    def _value(self) -> str:
        if self.raw_data:  # a refused page shows what was typed (a month picker sends YYYY-MM), without what cannot be shown
            return "".join(ch for ch in str(self.raw_data[0])[:30] if ch.isprintable())
        return f"{self.data.year:04d}-{self.data.month:02d}" if self.data is not None else ""

    def process_formdata(self, valuelist) -> None:
        if not valuelist:
            return
        text = str(valuelist[0] or "")
        if not text.strip():
            self.data = None  # blank: Optional() or 必填 decide
            return
        parsed = parse_month(text)
        if isinstance(parsed, str):
            self.data = None
            raise ValueError(parsed)
        year, month = parsed
        self.data = date(year, month, calendar.monthrange(year, month)[1] if self.last_day else 1)
