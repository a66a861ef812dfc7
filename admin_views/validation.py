"""WTForms adapters of rules.validators: each puts the rule's Chinese message next to its field."""
from __future__ import annotations

from typing import Callable, Optional

from wtforms.validators import InputRequired, ValidationError


def checked(rule: Callable[[str], Optional[str]]):
    """A field validator from a pure rule returning an error text; empty values are left to 必填."""

    def check(form, field):
        value = field.data
        if value is None or (isinstance(value, str) and not value.strip()):
            return
        problem = rule(str(value))
        if problem:
            raise ValidationError(problem)

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
