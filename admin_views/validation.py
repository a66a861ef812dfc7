"""WTForms adapters of rules.validators: each puts the rule's Chinese message next to its field."""
from __future__ import annotations

from typing import Callable, Optional

from wtforms.validators import InputRequired, Length, ValidationError

from rules.constraints import CONTROL_CHARS, OUT_OF_RANGE
from rules.validators import date_error, has_control_chars


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
